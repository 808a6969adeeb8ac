"""The OpenAPI description documents the conditional-request and idempotency headers, their
responses and the merge-patch media type (issue 15). Read from the committed description, which
test_openapi.py checks is what the code generates."""

import pytest
import yaml
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from api.conditional import header
from tests.helpers import OPENAPI_FILE, PUBLISHED_ROUTE, SIGNALS_ROUTE

# Both config routes: the published one and today's PostHog route (which also takes PUT).
ROUTES = pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])


def paths(route):
    return f"/api/projects/{{project_id}}/{route}/", f"/api/projects/{{project_id}}/{route}/{{id}}/"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(OPENAPI_FILE.read_text())


def headers_in(operation):
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


@ROUTES
@pytest.mark.parametrize(
    ("on_item", "method", "request_header", "extra_codes", "etag_codes"),
    [
        (True, "get", "If-None-Match", {"304"}, {"200", "304"}),
        (True, "patch", "If-Match", {"412"}, {"200"}),
        (True, "put", "If-Match", {"412"}, {"200"}),
        (True, "delete", "If-Match", {"412"}, set()),
        (False, "post", "Idempotency-Key", {"409", "422"}, {"201"}),
    ],
)
def test_each_operation_documents_its_headers_and_responses(
    spec, route, on_item, method, request_header, extra_codes, etag_codes
):
    path = paths(route)[1 if on_item else 0]
    if method not in spec["paths"][path]:
        assert (route, method) == (PUBLISHED_ROUTE, "put")  # the published route has no PUT
        return
    operation = spec["paths"][path][method]
    assert request_header in headers_in(operation)
    assert extra_codes <= set(operation["responses"])
    with_etag = {code for code, response in operation["responses"].items() if "ETag" in response.get("headers", {})}
    assert with_etag == etag_codes
    for code in extra_codes - {"304"}:
        assert operation["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


@ROUTES
def test_a_replayed_create_is_documented(spec, route):
    responses = spec["paths"][paths(route)[0]]["post"]["responses"]
    assert "Idempotent-Replayed" in responses["201"]["headers"]
    assert "Idempotent-Replayed" in responses["400"]["headers"]


@ROUTES
def test_merge_patch_is_patchs_second_body_with_a_schema_of_its_own(spec, route):
    # Second, so that a generator taking one media type takes JSON; its own schema, so that a client
    # tells the bodies apart (under one schema openapi-python-client sends every PATCH as a merge patch).
    list_path, item_path = paths(route)
    patch = spec["paths"][item_path]["patch"]
    assert "application/merge-patch+json" in patch["description"]
    content = patch["requestBody"]["content"]
    assert list(content) == ["application/json", "application/merge-patch+json"]
    assert content["application/json"]["schema"] != content["application/merge-patch+json"]["schema"]
    for method, path in (("post", list_path), ("put", item_path)):
        if method in spec["paths"][path]:
            assert list(spec["paths"][path][method]["requestBody"]["content"]) == ["application/json"]


@ROUTES
def test_reads_of_lists_and_activity_have_no_conditional_headers(spec, route):
    list_path, item_path = paths(route)
    for path in (list_path, f"{item_path}activity/"):
        assert not headers_in(spec["paths"][path]["get"]) & {"If-None-Match", "If-Match", "Idempotency-Key"}


def test_the_header_helper_makes_a_string_request_header_or_a_response_header_for_the_codes_given():
    # The helper runs when api/conditional.py is imported, before any test: called here too, so that
    # mutation testing sees it (the committed description above shows what it made at import).
    def fields(parameter):
        return (parameter.name, parameter.type, parameter.location, parameter.description, parameter.response)

    assert fields(header("If-Match", "the tag")) == (
        "If-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        "the tag",
        False,
    )
    response_header = header("ETag", "the tag", response=["200", "304"])
    assert fields(response_header) == ("ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, "the tag", ["200", "304"])
