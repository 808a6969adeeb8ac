"""One JSON log line per request on stdout, with a request id that is also sent back as `X-Request-ID`
(issue 2). Keys, query strings and headers never reach the log."""

import logging
import re

import pytest
from django.test import Client
from django.urls import include, path
from rest_framework.views import APIView

from tests.helpers import configs_url, key_client
from tests.logs import captured_logs, json_lines

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def request_lines(stream):
    return [line for line in json_lines(stream) if line["logger"] == "api.request"]


# A URL conf for the crash tests: the service's own routes plus two views that fail.
class CrashingAPIView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("boom in an API view")


def crashing_django_view(request):
    raise RuntimeError("boom in a plain view")


urlpatterns = [
    path("crash/api", CrashingAPIView.as_view()),
    path("crash/plain", crashing_django_view),
    path("", include("signalsource.urls")),
]
handler404 = "api.exceptions.page_not_found"
handler500 = "api.exceptions.server_error"


def test_each_request_logs_one_json_line_with_its_fields(tenant):
    with captured_logs() as stream:
        response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    [line] = request_lines(stream)
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == tenant.url
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["api_key"] == tenant.api_key.mask
    assert line["time"]
    assert line["request_id"] == response["X-Request-ID"]
    assert GENERATED_ID.match(response["X-Request-ID"])


def test_every_line_is_a_single_line_of_json(tenant):
    with captured_logs() as stream:
        tenant.client.get(tenant.url)
        tenant.client.post(tenant.url, {"source_product": "nope"}, format="json")
        key_client().get("/no/such/route")

    raw_lines = stream.getvalue().splitlines()
    assert len(request_lines(stream)) == 3
    assert all(line.startswith("{") and line.endswith("}") for line in raw_lines)


def test_each_request_gets_its_own_id(tenant):
    ids = {tenant.client.get(tenant.url)["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


@pytest.mark.parametrize(
    ("url", "status"),
    [("/healthz", 200), ("/readyz", 200), ("/no/such/route", 404), (configs_url(1), 401)],
)
def test_every_response_carries_a_request_id_and_is_logged(url, status):
    with captured_logs() as stream:
        response = key_client().get(url)

    assert response.status_code == status
    [line] = request_lines(stream)
    assert line["status"] == status
    assert line["api_key"] is None
    assert line["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize("client_id", ["abc-123", "req.2024_01.x", "A" * 64])
def test_a_safe_client_request_id_is_kept(tenant, client_id):
    with captured_logs() as stream:
        response = tenant.client.get(tenant.url, HTTP_X_REQUEST_ID=client_id)

    assert response["X-Request-ID"] == client_id
    assert request_lines(stream)[0]["request_id"] == client_id


@pytest.mark.parametrize(
    "client_id",
    ["A" * 65, "has space", "new\nline", '"}{"injected": 1', "<script>", "caf\u00e9", ""],
)
def test_an_unsafe_client_request_id_is_replaced(tenant, client_id):
    with captured_logs() as stream:
        response = tenant.client.get(tenant.url, HTTP_X_REQUEST_ID=client_id)

    assert GENERATED_ID.match(response["X-Request-ID"])
    [line] = request_lines(stream)
    assert line["request_id"] == response["X-Request-ID"]
    assert "injected" not in stream.getvalue()


def test_query_string_and_headers_are_not_logged(tenant):
    with captured_logs() as stream:
        response = tenant.client.get(
            f"{tenant.url}?limit=5&secret_marker=q-s-marker",
            HTTP_X_CUSTOM="header-marker",
            HTTP_COOKIE="c=cookie-marker",
        )

    assert response.status_code == 200, response.json()
    logged = stream.getvalue()
    assert request_lines(stream)[0]["path"] == tenant.url
    for marker in ("q-s-marker", "header-marker", "cookie-marker", tenant.raw_key):
        assert marker not in logged


def test_a_failed_key_is_logged_without_a_mask(tenant):
    with captured_logs() as stream:
        response = key_client("phx_wrong").get(tenant.url)

    assert response.status_code == 401
    [line] = request_lines(stream)
    assert line["status"] == 401
    assert line["api_key"] is None
    assert "phx_wrong" not in stream.getvalue()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/crash/api", "/crash/plain"])
def test_a_crash_is_logged_with_the_request_id_and_answered_as_json(url):
    client = Client(raise_request_exception=False)

    with captured_logs() as stream:
        response = client.get(url)

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert response.json() == {
        "type": "server_error",
        "code": "error",
        "detail": "A server error occurred.",
        "attr": None,
        "request_id": request_id,
    }
    assert "boom" not in response.content.decode()
    lines = json_lines(stream)
    [request_line] = [line for line in lines if line["logger"] == "api.request"]
    assert request_line["status"] == 500
    crash_lines = [line for line in lines if "boom" in line.get("exc_info", "")]
    assert crash_lines, lines
    assert all(line["request_id"] == request_id for line in crash_lines)


def test_lines_logged_outside_a_request_have_no_request_id():
    with captured_logs() as stream:
        logging.getLogger("signalsource.test").info("outside")

    [line] = json_lines(stream)
    assert line["message"] == "outside"
    assert line["request_id"] is None
