"""What the description tells a client (and a linter, and a generator) beyond the shapes: the
`Retry-After` header of a 429 and a 503, each parameter's limits as the server enforces them, null
written so that every generator reads it with its default options, a description on every
operation, and where a client outside a browser sends its requests (issue 30). Read from the
committed description, which test_openapi.py checks is what the code generates."""

import pytest
import yaml

from api.exceptions import DB_RETRY_AFTER_SECONDS
from api.idempotency import MAX_KEY_LENGTH
from api.pagination import LimitOffsetPagination
from signalsource import catalog
from tests.helpers import OPENAPI_FILE

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Strings the server compares, not checks: a longer query value (a filter, a cursor) matches
# nothing and a longer ETag list in `If-Match` or `If-None-Match` matches or not, neither is refused,
# so a limit would be one the server does not keep (schemathesis's negative cases would say so);
# the HTTP server's header size limit bounds the headers.
# A project id is PostHog's string: any other value is a 404 (no such project), like any other id.
UNLIMITED_ON_PURPOSE = {
    "activity", "item_id", "scope", "scopes", "cursor", "after", "If-Match", "If-None-Match", "project_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(OPENAPI_FILE.read_text())


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def schemas_in(node):
    """Every dict in the description (schemas among them)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from schemas_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from schemas_in(item)


def test_every_429_and_503_declares_retry_after(spec):
    seen = {"429": 0, "503": 0}
    for path, method, operation in operations(spec):
        for code in seen:
            if code in operation["responses"]:
                seen[code] += 1
                header = operation["responses"][code].get("headers", {}).get("Retry-After")
                assert header is not None, (method, path, code)
                assert header["schema"]["type"] == "integer"
                assert header["schema"]["minimum"] == 1
    assert seen["429"] > 20 and seen["503"] > 20
    answer = spec["paths"]["/api/projects/{project_id}/signal_source_configs/"]["get"]["responses"]
    # The longest rate period is a day; a 503 says DB_RETRY_AFTER_SECONDS.
    assert answer["429"]["headers"]["Retry-After"]["schema"]["maximum"] == 86400
    assert answer["503"]["headers"]["Retry-After"]["schema"]["maximum"] == DB_RETRY_AFTER_SECONDS


def test_every_parameter_has_limits(spec):
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", ()):
            schema, name = parameter["schema"], parameter["name"]
            where = (method, path, name)
            if schema.get("type") == "integer":
                assert {"minimum", "maximum", "format"} <= schema.keys(), where
            elif schema.get("type") == "string" and name not in UNLIMITED_ON_PURPOSE:
                assert "enum" in schema or schema.get("format") == "uuid" or "maxLength" in schema, where


def parameter(spec, path, method, name):
    (found,) = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
    return found["schema"]


def test_the_limits_are_the_servers(spec):
    create = "/api/projects/{project_id}/signal_source_configs/"
    key = parameter(spec, create, "post", "Idempotency-Key")
    assert (key["minLength"], key["maxLength"], key["pattern"]) == (1, MAX_KEY_LENGTH, "^[ -~]+$")
    limit = parameter(spec, create, "get", "limit")
    assert (limit["minimum"], limit["maximum"]) == (1, LimitOffsetPagination.max_limit)
    offset = parameter(spec, create, "get", "offset")
    assert (offset["minimum"], offset["maximum"]) == (0, LimitOffsetPagination.max_offset)
    user = parameter(spec, "/api/projects/{project_id}/activity_log/", "get", "user")
    assert (user["minimum"], user["maximum"]) == (1, 2**63 - 1)


def test_config_numbers_accepted_range_is_described(spec):
    config = spec["components"]["schemas"]["SignalSourceConfig"]["properties"]["config"]
    assert f"between {catalog.MIN_FLOAT_MAGNITUDE:g} and {catalog.MAX_FLOAT_MAGNITUDE:g} in magnitude" in (
        config["description"]
    )
    assert str(catalog.MAX_SAFE_INTEGER) in config["description"]


def test_null_is_openapi_31s_and_never_inside_an_enum(spec):
    # datamodel-code-generator (default flags) reads 3.0's `nullable` on a required field as not
    # null; openapi-zod-client writes null inside an enum as `z.enum([..., null])`, which tsc refuses.
    assert spec["openapi"] == "3.1.0"
    for schema in [*schemas_in(spec["components"]), *schemas_in(spec["paths"])]:
        assert "nullable" not in schema, schema
        if isinstance(schema.get("enum"), list):
            assert None not in schema["enum"], schema
        # Any value (`{}`) beside null in a `oneOf`: null matches both, so a null is refused.
        assert {} not in schema.get("oneOf", ()), schema
    assert "NullEnum" not in spec["components"]["schemas"]
    attr = spec["components"]["schemas"]["Error"]["properties"]["attr"]
    assert attr["type"] == ["string", "null"]


def test_every_operation_has_a_description(spec):
    for path, method, operation in operations(spec):
        assert operation.get("description", "").strip(), (method, path)


def test_the_server_says_what_base_url_a_client_uses(spec):
    (server,) = spec["servers"]
    assert server["url"] == "/"
    assert "base URL" in server["description"] and "http://127.0.0.1:8000" in server["description"]
    assert server["x-internal"] is False
