"""The API translates the services' domain errors into PostHog's flat error bodies."""

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from api.exceptions import exception_handler


def handle(error):
    request = APIRequestFactory().get("/")
    return exception_handler(error, {"view": APIView(), "request": request})


def test_a_domain_validation_error_is_a_400_on_its_field_with_its_code():
    response = handle(ValidationError({"source_type": ValidationError("Not for this product.", code="invalid_pair")}))

    assert response.status_code == 400
    assert response.data == {
        "type": "validation_error",
        "code": "invalid_pair",
        "detail": "Not for this product.",
        "attr": "source_type",
    }


def test_a_missing_object_is_a_404():
    response = handle(ObjectDoesNotExist("gone"))

    assert response.status_code == 404
    assert response.data == {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
