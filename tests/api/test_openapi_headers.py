"""The OpenAPI description documents the conditional-request and idempotency headers, their
responses and the merge-patch media type (issue 15). Read from the committed description, which
test_openapi.py checks is what the code generates."""

import pytest
import yaml

from tests.helpers import OPENAPI_FILE

ITEM = "/api/projects/{project_id}/signal_source_configs/{id}/"
LIST = "/api/projects/{project_id}/signal_source_configs/"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(OPENAPI_FILE.read_text())


def headers_in(operation):
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


@pytest.mark.parametrize(
    ("path", "method", "request_header", "extra_codes", "etag_codes"),
    [
        (ITEM, "get", "If-None-Match", {"304"}, {"200", "304"}),
        (ITEM, "patch", "If-Match", {"412"}, {"200"}),
        (ITEM, "delete", "If-Match", {"412"}, set()),
        (LIST, "post", "Idempotency-Key", {"409", "422"}, {"201"}),
    ],
)
def test_each_operation_documents_its_headers_and_responses(
    spec, path, method, request_header, extra_codes, etag_codes
):
    operation = spec["paths"][path][method]
    assert request_header in headers_in(operation)
    assert extra_codes <= set(operation["responses"])
    with_etag = {code for code, response in operation["responses"].items() if "ETag" in response.get("headers", {})}
    assert with_etag == etag_codes
    for code in extra_codes - {"304"}:
        assert operation["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_a_replayed_create_is_documented(spec):
    responses = spec["paths"][LIST]["post"]["responses"]
    assert "Idempotent-Replayed" in responses["201"]["headers"]
    assert "Idempotent-Replayed" in responses["400"]["headers"]


def test_only_patch_takes_merge_patch(spec):
    assert "application/merge-patch+json" in spec["paths"][ITEM]["patch"]["requestBody"]["content"]
    assert "merge-patch" in spec["paths"][ITEM]["patch"]["description"]
    assert "application/merge-patch+json" not in spec["paths"][LIST]["post"]["requestBody"]["content"]


def test_reads_of_lists_have_no_conditional_headers(spec):
    assert not headers_in(spec["paths"][LIST]["get"]) & {"If-None-Match", "If-Match", "Idempotency-Key"}
