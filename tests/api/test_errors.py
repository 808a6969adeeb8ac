"""Every error is JSON in PostHog's flat format (contract section 6):
{"type", "code", "detail", "attr"}, and nothing internal ever leaks. Every refusal of a caller,
project or config id, with its exact body, is in the access matrix (test_access_matrix.py)."""

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from signalsource.models import SignalSourceConfig
from tests.helpers import assert_error, configs_url, key_client, make_key

# --- A crashing route, mounted only while a test points ROOT_URLCONF at this module -----------


class Boom(Exception):
    pass


SECRET_IN_TRACEBACK = "internal detail that must never reach a client"


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def crashing_api_view(request):
    raise Boom(SECRET_IN_TRACEBACK)


def crashing_django_view(request):
    raise Boom(SECRET_IN_TRACEBACK)


def fine_django_view(request):
    return HttpResponse("ok")


urlpatterns = [
    path("test-crash/api", crashing_api_view),
    path("test-crash/django", crashing_django_view),
    path("test-fine", fine_django_view),
    path("", include("signalsource.urls")),
]
handler404 = "api.exceptions.page_not_found"
handler500 = "api.exceptions.server_error"


@pytest.fixture
def crash_routes(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False


@pytest.mark.parametrize("route", ["/test-crash/api", "/test-crash/django"])
def test_a_crash_is_a_json_500_without_a_traceback(db, crash_routes, route):
    client = Client(raise_request_exception=False)

    response = client.get(route)

    body = assert_error(response, 500, "server_error", "error", "A server error occurred.")
    assert SECRET_IN_TRACEBACK not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "Boom" not in response.content.decode()
    # The id an operator looks for in the logs.
    if route.endswith("api"):
        assert body["request_id"] == response["X-Request-ID"]


def test_crash_routes_exist_only_in_this_test(db, crash_routes):
    assert Client().get("/test-fine").status_code == 200


def test_crash_route_is_not_in_the_real_service(tenant):
    response = tenant.client.get("/test-crash/api")

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")


# --- Each kind of error -------------------------------------------------------------------------


def test_validation_error(tenant):
    response = tenant.client.post(tenant.url, {"source_product": "github"}, format="json")

    assert_error(response, 400, "validation_error", "required", "This field is required.", "source_type")


def test_only_the_first_error_is_reported(tenant):
    response = tenant.client.post(tenant.url, {}, format="json")

    body = assert_error(response, 400, "validation_error", "required", "This field is required.", "source_product")
    assert "source_type" not in str(body)


def test_401_without_a_key(tenant):
    response = key_client().get(tenant.url)

    assert_error(response, 401, "authentication_error", "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_401_with_an_unknown_key(tenant):
    response = key_client("phx_" + "x" * 43).get(tenant.url)

    assert_error(
        response,
        401,
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
    )


def test_403_missing_scope(tenant):
    _, read_only_key = make_key(tenant.user, scopes=["task:read"])

    response = key_client(read_only_key).post(tenant.url, {"source_product": "github", "source_type": "issue"})

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:write'"
    )
    assert not SignalSourceConfig.objects.exists()


def test_403_not_a_member(tenant, other_tenant):
    response = tenant.client.get(other_tenant.url)

    assert_error(response, 403, "authentication_error", "permission_denied", "You don't have access to the project.")


@pytest.mark.parametrize("route", ["/nope", "/api/", "/api/projects/", "/api/projects/1/other_things/"])
def test_unknown_route_is_djangos_404_as_json(tenant, route):
    response = tenant.client.get(route)

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")


def test_405(tenant):
    response = tenant.client.put(tenant.url, {}, format="json")

    assert_error(response, 405, "invalid_request", "method_not_allowed", 'Method "PUT" not allowed.')


def test_405_comes_before_authentication(tenant):
    response = key_client().put(tenant.url, {}, format="json")

    assert_error(response, 405, "invalid_request", "method_not_allowed")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/yaml"])
def test_415_unsupported_body(tenant, content_type):
    response = tenant.client.generic("POST", tenant.url, "source_product=github", content_type=content_type)

    assert_error(
        response,
        415,
        "invalid_request",
        "unsupported_media_type",
        f'Unsupported media type "{content_type}" in request.',
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{",
        '{"source_product": "github",}',
        "nonsense",
        '{"source_product": "github", "source_type": "issue", "config": {"x": Infinity}}',
        b'{"source_product": "\xff"}',
    ],
)
def test_malformed_json(tenant, body):
    response = tenant.client.generic("POST", tenant.url, body, content_type="application/json")

    body = assert_error(response, 400, "invalid_request", "parse_error")
    assert body["detail"].startswith("JSON parse error")
    assert not SignalSourceConfig.objects.exists()


def test_malformed_json_on_patch_changes_nothing(tenant):
    created = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    url = configs_url(tenant.project.id, created.json()["id"])

    response = tenant.client.generic("PATCH", url, '{"enabled": false', content_type="application/json")

    assert_error(response, 400, "invalid_request", "parse_error")
    assert SignalSourceConfig.objects.get().enabled is True


@pytest.mark.parametrize("body", ["[]", '"string"', "1", "null"])
def test_json_body_that_is_not_an_object(tenant, body):
    response = tenant.client.generic("POST", tenant.url, body, content_type="application/json")

    body = assert_error(response, 400, "validation_error", response.json()["code"])
    assert body["code"] in ("invalid_input", "null")
    assert not SignalSourceConfig.objects.exists()


def test_config_rule_error_names_config(tenant):
    response = tenant.client.post(
        tenant.url,
        {"source_product": "linear", "source_type": "issue", "config": {"linear_team_ids": 5}},
        format="json",
    )

    assert_error(
        response,
        400,
        "validation_error",
        "invalid_input",
        "linear_team_ids must be a list of strings",
        "config",
    )
