"""The OpenAPI description: committed, valid, PostHog's names and facts, served offline."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from api.parsers import MERGE_PATCH_MEDIA_TYPE
from signalsource import catalog
from signalsource.models import ProcessingStatus
from signalsource.schema import source_config_component_name
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
    assert generated_yaml.startswith("openapi: 3.1.0")


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
    assert set(query) == {"scope", "scopes", "item_id", "user", "activity", "cursor", "page", "page_size", "offset"}
    assert query["user"]["type"] == query["page"]["type"] == "integer"
    query = {
        p["name"]: p["schema"] for p in operation(spec, "get", CONFIG_ACTIVITY_PATH)["parameters"] if p["in"] == "query"
    }
    assert set(query) == {"limit", "page", "offset"}
    assert query["limit"]["type"] == query["page"]["type"] == query["offset"]["type"] == "integer"
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
        assert project_id["schema"]["type"] == "string"
        assert project_id["description"].startswith("Project ID of the project you're trying to access.")
        assert "/api/projects/" not in project_id["description"]  # no such route here
        if path == DETAIL_PATH:
            config_id = parameters.pop("id")
            assert config_id["schema"] == {"type": "string", "format": "uuid"}
            assert config_id["description"] == "A UUID string identifying this signal source config."
        assert parameters == {}


def test_list_takes_limit_and_offset_integers_and_the_filters(spec):
    query = {p["name"]: p["schema"] for p in operation(spec, "get", LIST_PATH)["parameters"] if p["in"] == "query"}
    assert query["limit"] | {"format": "", "minimum": 0} == {
        "type": "integer", "default": 100, "maximum": 1000, "format": "", "minimum": 0,
    }  # fmt: skip
    assert query["offset"]["type"] == "integer"
    assert query["enabled"] == {"type": "boolean"}
    assert set(query["source_product"]["enum"]) == set(catalog.PRODUCT_LABELS)
    assert set(query["source_type"]["enum"]) == set(catalog.TYPE_LABELS)
    ok = operation(spec, "get", LIST_PATH)["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PaginatedSignalSourceConfigList"}


def test_components_and_required_lists(spec):
    config = component(spec, "SignalSourceConfig")
    # A response always holds every field (PostHog's required ones included).
    assert list(config["properties"]) == [
        "id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status",
    ]  # fmt: skip
    assert config["required"] == list(config["properties"])
    # Request bodies have components of their own: no read-only fields, defaults not required.
    request = component(spec, "SignalSourceConfigRequest")
    assert list(request["properties"]) == ["source_product", "source_type", "enabled", "config"]
    assert request["required"] == ["source_product", "source_type"]
    # A PATCH body leaves out the source, which is fixed once the config exists.
    patched = component(spec, "PatchedSignalSourceConfigRequest")
    assert "required" not in patched
    assert list(patched["properties"]) == ["enabled", "config"]
    assert "PatchedSignalSourceConfig" not in spec["components"]["schemas"]
    paginated = component(spec, "PaginatedSignalSourceConfigList")
    assert paginated["required"] == ["count", "next", "previous", "results"]
    for link in ("next", "previous"):
        assert paginated["properties"][link]["type"] == ["string", "null"]
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
    # Null beside the enum, not inside it (openapi-zod-client writes `z.enum([..., null])`, which
    # tsc refuses).
    assert status["oneOf"] == [{"$ref": "#/components/schemas/StatusEnum"}, {"type": "null"}]
    assert status["readOnly"] is True
    assert component(spec, "StatusEnum")["enum"] == ProcessingStatus.values
    assert properties["enabled"] == {"type": "boolean", "default": True}
    # A request body says its defaults in words (generators would make the field required).
    enabled = component(spec, "SignalSourceConfigRequest")["properties"]["enabled"]
    assert enabled == {"type": "boolean", "description": "Default: `true`."}
    # A partial update applies no defaults, so its component documents none.
    patched = component(spec, "PatchedSignalSourceConfigRequest")["properties"]
    assert patched["enabled"] == {"type": "boolean"}
    assert not any("default" in field for field in patched.values())
    assert not any(properties[name].get("readOnly") for name in ("source_product", "source_type", "config"))


def test_config_types_the_keys_every_source_checks(spec):
    config = component(spec, "SignalSourceConfig")["properties"]["config"]
    assert config["type"] == "object"
    assert config["additionalProperties"] is True  # unknown keys are kept as sent
    assert "`attr` `config`" in config["description"]
    # Only the keys every source checks: a key that some sources check and others keep as sent
    # (`sample_rate`, ...) has no one type for every source.
    assert config["properties"].keys() == {rule.key for rule in catalog.COMMON_CONFIG_RULES}
    for rule in catalog.COMMON_CONFIG_RULES:
        documented = config["properties"][rule.key]
        assert {name: documented[name] for name in rule.schema} == rule.schema, rule.key
        assert documented["description"].startswith(rule.description)
    for name in ("SignalSourceConfigRequest", "PatchedSignalSourceConfigRequest", "SignalsSourceConfig"):
        assert component(spec, name)["properties"]["config"] == config


def test_each_source_with_keys_of_its_own_has_a_config_component(spec):
    config = component(spec, "SignalSourceConfig")["properties"]["config"]
    with_own_keys = [source for source in catalog.SOURCES if source.config_rules]
    assert with_own_keys  # session_replay's sample_rate and recording_filters
    names = {source_config_component_name(source) for source in with_own_keys}
    assert {name for name in spec["components"]["schemas"] if name.endswith("Config") and name not in (
        "SignalSourceConfig", "SignalsSourceConfig"
    )} == names  # fmt: skip
    for source in with_own_keys:
        name = source_config_component_name(source)
        own = component(spec, name)
        rules = catalog.config_rules_for(source.product, source.type)
        assert own["properties"].keys() == {rule.key for rule in rules}
        for rule in rules:
            assert {key: own["properties"][rule.key][key] for key in rule.schema} == rule.schema
        assert f"`{name}`" in config["description"]
    replay = component(spec, "SessionReplaySessionAnalysisClusterConfig")
    assert replay["properties"]["sample_rate"] | {"description": ""} == {
        "type": "number", "minimum": 0, "maximum": 1, "description": "",
    }  # fmt: skip
    assert "`sample_rate` 0.1" in replay["description"]  # today's route's default for a new config


def test_create_and_partial_update_take_json_with_an_example(spec):
    for method, names, required in (
        ("post", {"application/json": "SignalSourceConfigRequest"}, True),
        # PATCH also takes a JSON merge patch (Swagger UI offers it), second and under a component of
        # its own: generators that take one media type take the first, and a client tells the two
        # bodies apart by type (with one schema under both, openapi-python-client sends only the last).
        (
            "patch",
            {
                "application/json": "PatchedSignalSourceConfigRequest",
                MERGE_PATCH_MEDIA_TYPE: "SignalSourceConfigMergePatch",
            },
            None,
        ),
    ):
        body = operation(spec, method, LIST_PATH if method == "post" else DETAIL_PATH)["requestBody"]
        assert body.get("required") is required
        # Form and multipart bodies are read too, but described only in words: generators break on
        # one schema under several media types.
        assert list(body["content"]) == list(names)
        for media_type, name in names.items():
            assert body["content"][media_type]["schema"] == {"$ref": f"#/components/schemas/{name}"}
            assert len(body["content"][media_type]["examples"]) == 1
    merge_patch = component(spec, "SignalSourceConfigMergePatch")
    assert merge_patch["properties"]["config"]["additionalProperties"] is True  # null removes a key
    assert "multipart/form-data" in spec["info"]["description"]
    assert "requestBody" not in operation(spec, "get", LIST_PATH)
    assert "requestBody" not in operation(spec, "delete", DETAIL_PATH)


def test_summaries_servers_and_license(spec):
    for method, path in OPERATIONS:
        assert operation(spec, method, path)["summary"].endswith(
            "signal source config" + ("s" if method == "get" and path == LIST_PATH else "")
        )
    assert [server["url"] for server in spec["servers"]] == ["/"]
    assert spec["info"]["license"]["name"]


ERROR_TYPE_OF_STATUS = {
    "400": "validation_error",
    "401": "authentication_error",
    "403": "authentication_error",
    "404": "invalid_request",
    "411": "invalid_request",
    "413": "invalid_request",
    "415": "invalid_request",
    "409": "invalid_request",
    "412": "invalid_request",
    "422": "invalid_request",
    "429": "throttled_error",
    "500": "server_error",
    "503": "server_error",
}


def test_success_and_error_responses(spec):
    every = {"401", "403", "404", "429", "500", "503"}
    body = {"400", "411", "413", "415"}
    expected = {
        ("get", LIST_PATH): {"200", "400"} | every,
        # 304, 409, 412 and 422: the conditional and idempotency headers (issue 15).
        ("post", LIST_PATH): {"201", "409", "422"} | body | every,
        ("get", DETAIL_PATH): {"200", "304"} | every,
        ("patch", DETAIL_PATH): {"200", "412"} | body | every,
        ("delete", DETAIL_PATH): {"204", "412"} | every,
    }
    for (method, path), codes in expected.items():
        responses = operation(spec, method, path)["responses"]
        assert set(responses) == codes
        for code in codes - {"200", "201", "204", "304"}:
            assert responses[code]["description"]
            content = responses[code]["content"]["application/json"]
            name = "ServerError" if code.startswith("5") else "Error"
            assert content["schema"] == {"$ref": f"#/components/schemas/{name}"}
            (example,) = content["examples"].values()
            assert example["value"]["type"] == ERROR_TYPE_OF_STATUS[code], (method, path, code)
    assert "content" not in operation(spec, "delete", DETAIL_PATH)["responses"]["204"]
    error = component(spec, "Error")
    assert sorted(error["required"]) == ["attr", "code", "detail", "type"]
    assert error["properties"]["attr"]["type"] == ["string", "null"]
    assert resolve(spec, error["properties"]["type"]["allOf"][0])["enum"] == [
        "validation_error", "authentication_error", "invalid_request", "throttled_error", "server_error",
    ]  # fmt: skip


def test_every_project_operation_documents_the_errors_every_request_can_get(spec):
    """The conventions add them to every route under a project; an action whose `extend_schema`
    names its own responses would replace them (drf-spectacular's override skips the schema
    class's hook), as the bulk's once did."""
    every = {"401", "403", "404", "429", "500", "503"}
    body = {"400", "411", "413", "415"}
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/projects/{project_id}/"):
            continue
        for method, described in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            wanted = every | body if method in {"post", "put", "patch"} else every
            assert wanted <= set(described["responses"]), (method, path, sorted(wanted - set(described["responses"])))


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


def test_schema_endpoint_serves_the_committed_description_as_yaml_and_json(db):  # db: its rate limit
    client = Client()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.decode() == OPENAPI_FILE.read_text()

    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert response.json() == yaml.safe_load(OPENAPI_FILE.read_text())


def test_schema_endpoint_needs_no_key_and_ignores_a_bad_one(db):
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
