"""The OpenAPI description: committed, valid, PostHog's names and facts, served offline."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from signalsource import catalog
from tests.helpers import OPENAPI_FILE

LIST_PATH = "/api/projects/{project_id}/signal_source_configs/"
DETAIL_PATH = "/api/projects/{project_id}/signal_source_configs/{id}/"
OPERATIONS = {
    ("get", LIST_PATH): ("signal_source_configs_list", "task:read"),
    ("post", LIST_PATH): ("signal_source_configs_create", "task:write"),
    ("get", DETAIL_PATH): ("signal_source_configs_retrieve", "task:read"),
    ("patch", DETAIL_PATH): ("signal_source_configs_partial_update", "task:write"),
    ("delete", DETAIL_PATH): ("signal_source_configs_destroy", "task:write"),
}
# The activity log (issue 16): (operation id, tag, scope, success schema).
ACTIVITY_LOG_PATH = "/api/projects/{project_id}/activity_log/"
CONFIG_ACTIVITY_PATH = "/api/projects/{project_id}/signal_source_configs/{id}/activity/"
ACTIVITY_OPERATIONS = {
    ("get", ACTIVITY_LOG_PATH): ("activity_log_list", "activity_log", "activity_log:read", "PaginatedActivityLogList"),
    ("get", CONFIG_ACTIVITY_PATH): (
        "signal_source_configs_activity",
        "signal_source_configs",
        "task:read",
        "ItemActivityPage",
    ),
}
BODY_MEDIA_TYPES = {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}


@pytest.fixture(scope="module")
def generated_yaml(tmp_path_factory) -> str:
    """What `make openapi` writes, validated, with any warning failing the generation."""
    target = tmp_path_factory.mktemp("openapi") / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return target.read_text()


@pytest.fixture(scope="module")
def spec(generated_yaml) -> dict:
    return yaml.safe_load(generated_yaml)


def operation(spec, method, path):
    return spec["paths"][path][method]


def component(spec, name):
    return spec["components"]["schemas"][name]


def resolve(spec, schema):
    while "$ref" in schema:
        schema = component(spec, schema["$ref"].rsplit("/", 1)[1])
    return schema


# --- committed and valid ---------------------------------------------------------------------


def test_committed_description_is_what_the_code_generates(generated_yaml):
    assert OPENAPI_FILE.exists(), "openapi.yaml is missing: run `make openapi` and commit it."
    assert OPENAPI_FILE.read_text() == generated_yaml, (
        "openapi.yaml differs from what the code generates: run `make openapi` and commit the result."
    )


def test_spectacular_validates_without_warnings(generated_yaml):
    # The fixture ran `manage.py spectacular --validate --fail-on-warn`; it raises on any warning.
    assert generated_yaml.startswith("openapi: 3.0.3")


# --- the PostHog-facing facts ----------------------------------------------------------------


def test_operations_ids_tags_and_no_put(spec):
    # The published route and the activity log; today's PostHog route is checked in
    # tests/signalsource/test_signals_route.py.
    published = {LIST_PATH, DETAIL_PATH} | {path for _, path in ACTIVITY_OPERATIONS}
    found = {
        (method, path)
        for path, item in spec["paths"].items()
        if path in published
        for method in item
        if method != "parameters"
    }
    assert found == set(OPERATIONS) | set(ACTIVITY_OPERATIONS)
    for (method, path), (operation_id, _) in OPERATIONS.items():
        assert operation(spec, method, path)["operationId"] == operation_id
        assert operation(spec, method, path)["tags"] == ["signal_source_configs"]
    assert all("put" not in spec["paths"][path] for path in published)


def test_the_activity_log_operations(spec):
    for (method, path), (operation_id, tag, scope, schema) in ACTIVITY_OPERATIONS.items():
        described = operation(spec, method, path)
        assert (described["operationId"], described["tags"]) == (operation_id, [tag])
        assert described["security"] == [{"PersonalAPIKeyAuth": [scope]}]
        assert described["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{schema}"
        }
        for code in ("401", "403", "404"):
            assert described["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    query = {
        p["name"]: p["schema"] for p in operation(spec, "get", ACTIVITY_LOG_PATH)["parameters"] if p["in"] == "query"
    }
    assert set(query) == {"scope", "scopes", "item_id", "user", "activity", "cursor", "page", "page_size"}
    assert query["user"]["type"] == query["page"]["type"] == "integer"
    query = {
        p["name"]: p["schema"] for p in operation(spec, "get", CONFIG_ACTIVITY_PATH)["parameters"] if p["in"] == "query"
    }
    assert query == {"limit": {"type": "integer"}, "page": {"type": "integer"}}
    record = component(spec, "ActivityLog")["properties"]
    assert {"id", "user", "unread", "organization_id", "is_system", "activity", "item_id", "scope", "detail"} <= set(
        record
    )
    assert record["detail"]["properties"]["changes"]["items"]["properties"]["action"]["enum"] == [
        "created",
        "changed",
        "deleted",
    ]


def test_bearer_scheme_and_each_operations_scope(spec):
    assert spec["components"]["securitySchemes"]["PersonalAPIKeyAuth"]["type"] == "http"
    assert spec["components"]["securitySchemes"]["PersonalAPIKeyAuth"]["scheme"] == "bearer"
    for (method, path), (_, scope) in OPERATIONS.items():
        assert operation(spec, method, path)["security"] == [{"PersonalAPIKeyAuth": [scope]}]
    assert "security" not in spec  # no global requirement hides the per-operation scopes


def test_path_parameters(spec):
    for method, path in OPERATIONS:
        parameters = {p["name"]: p for p in operation(spec, method, path)["parameters"] if p["in"] == "path"}
        project_id = parameters.pop("project_id")
        assert project_id["required"] is True
        assert project_id["schema"] == {"type": "string"}
        assert project_id["description"] == (
            "Project ID of the project you're trying to access. "
            "To find the ID of the project, make a call to /api/projects/."
        )
        if path == DETAIL_PATH:
            config_id = parameters.pop("id")
            assert config_id["schema"] == {"type": "string", "format": "uuid"}
            assert config_id["description"] == "A UUID string identifying this signal source config."
        assert parameters == {}


def test_list_takes_limit_and_offset_integers_and_the_filters(spec):
    query = {p["name"]: p["schema"] for p in operation(spec, "get", LIST_PATH)["parameters"] if p["in"] == "query"}
    assert query["limit"] == {"type": "integer"}
    assert query["offset"] == {"type": "integer"}
    assert query["enabled"] == {"type": "boolean"}
    assert set(query["source_product"]["enum"]) == set(catalog.PRODUCT_LABELS)
    assert set(query["source_type"]["enum"]) == set(catalog.TYPE_LABELS)
    ok = operation(spec, "get", LIST_PATH)["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PaginatedSignalSourceConfigList"}


def test_components_and_required_lists(spec):
    config = component(spec, "SignalSourceConfig")
    assert sorted(config["required"]) == ["created_at", "id", "source_product", "source_type", "status", "updated_at"]
    assert list(config["properties"]) == [
        "id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status",
    ]  # fmt: skip
    patched = component(spec, "PatchedSignalSourceConfig")
    assert "required" not in patched
    assert patched["properties"].keys() == config["properties"].keys()
    paginated = component(spec, "PaginatedSignalSourceConfigList")
    assert sorted(paginated["required"]) == ["count", "results"]
    for link in ("next", "previous"):
        assert paginated["properties"][link] == {**paginated["properties"][link], "type": "string", "nullable": True}
        assert paginated["properties"][link]["format"] == "uri"
    assert paginated["properties"]["results"]["items"] == {"$ref": "#/components/schemas/SignalSourceConfig"}


def test_enums_hold_the_catalogs_values_in_order(spec):
    assert component(spec, "SourceProductEnum")["enum"] == list(catalog.PRODUCT_LABELS)
    assert component(spec, "SignalSourceConfigSourceTypeEnum")["enum"] == list(catalog.TYPE_LABELS)
    properties = component(spec, "SignalSourceConfig")["properties"]
    assert properties["source_product"] == {"$ref": "#/components/schemas/SourceProductEnum"}
    assert properties["source_type"] == {"$ref": "#/components/schemas/SignalSourceConfigSourceTypeEnum"}


def test_read_only_and_nullable_fields(spec):
    properties = component(spec, "SignalSourceConfig")["properties"]
    assert properties["id"] == {"type": "string", "format": "uuid", "readOnly": True}
    for name in ("created_at", "updated_at"):
        assert properties[name] == {"type": "string", "format": "date-time", "readOnly": True}
    status = properties["status"]
    assert (status["type"], status["nullable"], status["readOnly"]) == ("string", True, True)
    assert "enum" not in status
    assert properties["enabled"] == {"type": "boolean", "default": True}
    # A partial update applies no defaults, so its component documents none.
    patched = component(spec, "PatchedSignalSourceConfig")["properties"]
    assert patched["enabled"] == {"type": "boolean"}
    assert not any("default" in field for field in patched.values())
    assert not any(properties[name].get("readOnly") for name in ("source_product", "source_type", "config"))


def test_config_documents_the_catalogs_known_keys(spec):
    config = component(spec, "SignalSourceConfig")["properties"]["config"]
    assert config["type"] == "object"
    assert config["additionalProperties"] is True  # unknown keys are kept as sent
    # Keys every source checks are typed in the schema.
    for rule in catalog.COMMON_CONFIG_RULES:
        documented = config["properties"][rule.key]
        assert {name: documented[name] for name in rule.schema} == rule.schema
        assert documented["description"].startswith(rule.description)
    # Keys only some sources check carry their rule per source (others keep any value as sent).
    checked_for = {}
    for source in catalog.SOURCES:
        for rule in source.config_rules:
            checked_for.setdefault(rule.key, {})[f"{source.product}/{source.type}"] = rule.schema
    for key, rules in checked_for.items():
        assert config["properties"][key]["x-checked-for"] == rules
        assert "type" not in config["properties"][key]
    assert config["properties"].keys() == checked_for.keys() | {rule.key for rule in catalog.COMMON_CONFIG_RULES}
    assert config["properties"]["sample_rate"]["x-checked-for"] == {
        "session_replay/session_analysis_cluster": {"type": "number", "minimum": 0, "maximum": 1}
    }


def test_create_and_partial_update_take_json_form_and_multipart(spec):
    for method, name, required in (("post", "SignalSourceConfig", True), ("patch", "PatchedSignalSourceConfig", None)):
        body = operation(spec, method, LIST_PATH if method == "post" else DETAIL_PATH)["requestBody"]
        assert body.get("required") is required
        # PATCH also takes a JSON merge patch (issue 15; test_openapi_headers.py).
        merge_patch = {"application/merge-patch+json"} if method == "patch" else set()
        assert set(body["content"]) == BODY_MEDIA_TYPES | merge_patch
        for media_type, content in body["content"].items():
            assert content["schema"] == {"$ref": f"#/components/schemas/{name}"}
            if "form" in media_type:  # `config` travels as a JSON-encoded string in forms
                assert content["encoding"] == {"config": {"contentType": "application/json"}}
    assert "requestBody" not in operation(spec, "get", LIST_PATH)
    assert "requestBody" not in operation(spec, "delete", DETAIL_PATH)


def test_success_and_error_responses(spec):
    expected = {
        ("get", LIST_PATH): {"200", "400", "401", "403", "404"},
        # 304, 409, 412 and 422: the conditional and idempotency headers (issue 15).
        ("post", LIST_PATH): {"201", "400", "401", "403", "404", "409", "422"},
        ("get", DETAIL_PATH): {"200", "304", "401", "403", "404"},
        ("patch", DETAIL_PATH): {"200", "400", "401", "403", "404", "412"},
        ("delete", DETAIL_PATH): {"204", "401", "403", "404", "412"},
    }
    for (method, path), codes in expected.items():
        responses = operation(spec, method, path)["responses"]
        assert set(responses) == codes
        for code in codes - {"200", "201", "204", "304"}:
            assert responses[code]["description"]
            assert responses[code]["content"] == {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
            }
    assert "content" not in operation(spec, "delete", DETAIL_PATH)["responses"]["204"]
    error = component(spec, "Error")
    assert sorted(error["required"]) == ["attr", "code", "detail", "type"]
    assert error["properties"]["attr"]["nullable"] is True
    assert resolve(spec, error["properties"]["type"]["allOf"][0])["enum"] == [
        "validation_error", "authentication_error", "invalid_request", "throttled_error", "server_error",
    ]  # fmt: skip


# --- served by the service, with no API key and no other host ---------------------------------


@pytest.fixture
def local_static_files(settings, tmp_path):
    """Serves static files straight from the apps (no collectstatic in tests), as whitenoise does
    from STATIC_ROOT in production."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.STATIC_ROOT = tmp_path


def test_schema_endpoint_serves_the_committed_description_as_yaml_and_json():
    client = Client()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.decode() == OPENAPI_FILE.read_text()

    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert response.json() == yaml.safe_load(OPENAPI_FILE.read_text())


def test_schema_endpoint_needs_no_key_and_ignores_a_bad_one():
    response = Client().get("/api/schema/", HTTP_AUTHORIZATION="Bearer phx_not_a_real_key")
    assert response.status_code == 200


ASSET_PATTERN = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/api/schema/swagger-ui/", "/api/schema/redoc/"])
def test_ui_pages_load_only_local_assets(local_static_files, page):
    client = Client()
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "://" not in html, "the page must not reference another host"
    assets = ASSET_PATTERN.findall(html)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset
    assert "/api/schema/" in html  # the description it shows is this service's
