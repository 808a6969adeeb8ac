"""Schemathesis against the live service, driven by the committed description.

Every operation gets schema-valid and schema-breaking requests (NUL bytes included), authenticated
with a task:read/task:write key on the seeded project. Checked: no 5xx, every status code, content
type, header and body as described, schema-breaking data rejected, PUT and other methods answered
405, and a request without the key refused.

Schema-breaking requests that are rightly not refused with a 4xx of schemathesis' list: a 412 (the
precondition fails before the content is read) and a merge patch's nulls in `config` (they remove
keys, RFC 7396).

Not checked: that every schema-valid body is accepted. The description cannot say that a product
takes only its own types, or that config strings must not hold NUL characters, so such bodies are
rightly refused with a documented 400.
"""

import json
import os
from urllib.parse import urlencode

import httpx
import jsonschema
import pytest
import schemathesis
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT4
from rest_framework.exceptions import ValidationError
from rest_framework.fields import BooleanField
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection

from signalsource import catalog
from tests.helpers import OPENAPI_FILE
from tests.live_server import live_service

pytestmark = pytest.mark.live_server_process  # starts a real server (live_service)

# Bounded so that CI stays fast; set SCHEMATHESIS_MAX_EXAMPLES for a deeper run.
MAX_EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

CHECKS = {
    "enabled": False,
    "not_a_server_error": {"enabled": True},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    "response_headers_conformance": {"enabled": True},
    "negative_data_rejection": {"enabled": True},
    "unsupported_method": {"enabled": True},
    "ignored_auth": {"enabled": True},
    "use_after_free": {"enabled": True},
}

# The list is lenient by design: a bad `limit` or `offset` falls back to the default (contract 3),
# and an empty filter (`?source_product=`) means no filter, as with django-filter's forms. So are
# the activity log's `page_size` and a config history's `page` (a value out of range falls back).
FALLBACK_QUERY_PARAMETERS = {"limit", "offset", "page", "page_size"}
LIST_QUERY_SCHEMAS = {
    parameter["name"]: parameter["schema"]
    for parameter in yaml.safe_load(OPENAPI_FILE.read_text())["paths"][
        "/api/projects/{project_id}/signal_source_configs/"
    ]["get"]["parameters"]
    if parameter["in"] == "query"
}


def _filter_value_is_accepted(name, value) -> bool:
    if isinstance(value, list):  # a repeated parameter: the last one counts
        value = value[-1] if value else ""
    value = str(value)
    schema = LIST_QUERY_SCHEMAS.get(name)
    if name in FALLBACK_QUERY_PARAMETERS or schema is None or value == "":
        return True  # falls back, is not a filter at all, or means "no filter"
    if schema.get("type") == "boolean":
        return value in ("true", "false")
    return value in [str(choice) for choice in schema.get("enum", ())]


def only_breaks_lenient_query_parameters(case) -> bool:
    """True when the case breaks the description only in query values that the list accepts."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    negative = {location for location, info in meta.components.items() if info.mode.is_negative}
    if negative != {ParameterLocation.QUERY}:
        return False
    return all(_filter_value_is_accepted(name, value) for name, value in (case.query or {}).items())


GUNICORN_REQUEST_LINE_LIMIT = 4094  # gunicorn's default `limit_request_line`

FORM_MEDIA_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def sends_a_form_that_is_not_an_object(case) -> bool:
    """True when a form or multipart body is schema-breaking only by not being an object at all.

    Such a body cannot be written as form fields: what is sent holds no named field, Django reads
    it as an empty form, and an empty PATCH rightly changes nothing (a POST still fails on the
    missing fields).
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative or case.media_type not in FORM_MEDIA_TYPES:
        return False
    negative = {location for location, info in meta.components.items() if info.mode.is_negative}
    return negative == {ParameterLocation.BODY} and not isinstance(case.body, dict)


@schemathesis.serializer("application/x-www-form-urlencoded")
def form_with_json_fields(ctx, value) -> bytes | None:
    """Sends an object or array field of a form as a JSON string, as the description's `encoding`
    says (schemathesis honours that for multipart only, and spreads a nested object's keys over the
    top-level fields otherwise)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if not isinstance(value, dict):
        return json.dumps(value).encode()
    fields = [
        (str(name), json.dumps(field) if isinstance(field, dict | list) else str(field))
        for name, field in value.items()
        if field is not None
    ]
    return urlencode(fields).encode()


DESCRIPTION = yaml.safe_load(OPENAPI_FILE.read_text())
DESCRIPTION_REGISTRY = Registry().with_resource("openapi.yaml", DRAFT4.create_resource(DESCRIPTION))


def drf_boolean(value) -> bool | None:
    """What DRF's BooleanField reads a non-boolean value as, or None when it refuses it."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return BooleanField().to_internal_value(value)
    except ValidationError:
        return None


def spells_a_boolean_as_drf_reads_it(case) -> bool:
    """True when a JSON body breaks the description only by spelling a boolean field (`enabled`) as
    DRF also reads it (`0`, `1`, `"true"`, `"off"`, ...), as PostHog's serializer does: with that
    field a real boolean, the body is valid."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative or case.media_type != "application/json":
        return False
    negative = {location for location, info in meta.components.items() if info.mode.is_negative}
    if negative != {ParameterLocation.BODY} or not isinstance(case.body, dict):
        return False
    schema = case.operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    schema = {"$ref": f"openapi.yaml{schema['$ref']}"}
    validator = jsonschema.Draft4Validator(schema, registry=DESCRIPTION_REGISTRY)
    booleans = {name: drf_boolean(value) for name, value in case.body.items() if drf_boolean(value) is not None}
    return bool(booleans) and validator.is_valid(case.body | booleans)


def path_is_negative(case) -> bool:
    meta = case.meta
    return meta is not None and any(
        location == ParameterLocation.PATH and info.mode.is_negative for location, info in meta.components.items()
    )


def _holds_null(value) -> bool:
    if isinstance(value, dict):
        return any(item is None or _holds_null(item) for item in value.values())
    return False


def merge_patch_nulls_remove_keys(case) -> bool:
    """True for a JSON merge patch whose `config` holds a null somewhere: RFC 7396 reads it as "remove
    this key", so a patch the description's (non-nullable) field types call invalid is rightly merged."""
    body = case.body if case.media_type == "application/merge-patch+json" else None
    return isinstance(body, dict) and _holds_null(body.get("config"))


def a_non_atomic_bulk_refused_each_bad_operation(case, response) -> bool:
    """True for a bulk with `atomic: false` answered 200 whose every operation that breaks the
    description was refused on its own (4xx in its result): each operation applies on its own there
    (issue 28), so the request is accepted with the bad ones' errors, by design."""
    body = case.body
    if not case.path.endswith("/bulk/") or response.status_code != 200 or not isinstance(body, dict):
        return False
    atomic = body.get("atomic")
    if not (atomic is False or drf_boolean(atomic) is False):  # other top-level keys: allowed, ignored
        return False
    operation_schema = {"$ref": "openapi.yaml#/components/schemas/BulkOperationRequest"}
    validator = jsonschema.Draft4Validator(operation_schema, registry=DESCRIPTION_REGISTRY)

    def valid(operation) -> bool:  # as DRF reads it: `enabled` may be spelled 0, "off", ... (see above)
        booleans = {"enabled": drf_boolean(operation.get("enabled"))} if isinstance(operation, dict) else {}
        read = operation | booleans if booleans.get("enabled") is not None else operation
        return validator.is_valid(read)

    results = response.json()["results"]
    return all(
        valid(operation) or result["status"] >= 400
        for operation, result in zip(body.get("operations") or [], results, strict=True)
    )


def accepted_by_design(case, response) -> bool:
    # A 412 refuses the request before its content is looked at (RFC 9110 13.2.1): nothing was accepted.
    return (
        only_breaks_lenient_query_parameters(case)
        or sends_a_form_that_is_not_an_object(case)
        or spells_a_boolean_as_drf_reads_it(case)
        or merge_patch_nulls_remove_keys(case)
        or a_non_atomic_bulk_refused_each_bad_operation(case, response)
        or response.status_code == 412
    )


cases_run = {"count": 0}


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory):
    """A live service of its own, with rate limits off so that fuzzing is never throttled."""
    with live_service(tmp_path_factory.mktemp("fuzz"), RATE_LIMITS_ENABLED="0") as service:
        yield service


SCHEMA = schemathesis.openapi.from_path(
    OPENAPI_FILE,
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES_PER_OPERATION,
                "allow-x00": True,  # NUL bytes stay in the generated data
                # Our key is sent on every case; `ignored_auth` checks requests without it.
                "with-security-parameters": False,
                "database": "none",
            },
            "checks": CHECKS,
            "request-timeout": 10,
        }
    ),
)


@pytest.fixture(scope="module")
def seeded_config_ids(fuzzed_service):
    """One config of every catalog source, so that cases on `{id}` also reach existing objects."""
    ids = []
    for source in catalog.SOURCES:
        response = httpx.post(
            fuzzed_service.configs_url,
            json={"source_product": source.product, "source_type": source.type},
            headers={"Authorization": f"Bearer {fuzzed_service.raw_key}"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


@pytest.fixture(scope="module")
def case_counter(request):
    yield cases_run
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nschemathesis: {cases_run['count']} cases ran")


@SCHEMA.parametrize()
def test_api_conforms_to_its_description(case, fuzzed_service, seeded_config_ids, case_counter):
    case_counter["count"] += 1
    # Every case targets the seeded project, so that it reaches the endpoint.
    case.path_parameters["project_id"] = str(fuzzed_service.project_id)
    if "id" in (case.path_parameters or {}) and not path_is_negative(case) and case_counter["count"] % 2:
        # Half the cases on an object name one that exists (a random UUID only ever finds a 404).
        case.path_parameters["id"] = seeded_config_ids[case_counter["count"] // 2 % len(seeded_config_ids)]
    headers = {"Authorization": f"Bearer {fuzzed_service.raw_key}"}
    response = case.call(base_url=fuzzed_service.base_url, headers=headers)
    if response.status_code == 414:
        # gunicorn refuses a request line over 4094 bytes before the application sees it.
        assert len(response.request.url) > GUNICORN_REQUEST_LINE_LIMIT - len("GET  HTTP/1.1")
        return
    case.validate_response(
        response,
        headers=headers,
        excluded_checks=[negative_data_rejection] if accepted_by_design(case, response) else [],
    )
