"""Today's PostHog route, `/api/projects/{project_id}/signals/source_configs/`, beside the published
`signal_source_configs/` (issue 14): the same CRUD cases on both routes, cross-route cases on the
same rows, PUT, the retired `evaluation`, the sample_rate default, and the route's OpenAPI entry."""

import pytest
from django.core.management import call_command

from signalsource.models import SignalSourceConfig
from tests.helpers import (
    PUBLISHED_ROUTE,
    SIGNALS_ROUTE,
    Tenant,
    assert_error,
    configs_url,
    database_state,
    make_config,
)

ROUTES = [PUBLISHED_ROUTE, SIGNALS_ROUTE]
GITHUB = {"source_product": "github", "source_type": "issue"}
REPLAY = {"source_product": "session_replay", "source_type": "session_analysis_cluster"}


@pytest.fixture(params=ROUTES)
def route(request):
    return request.param


def url(tenant, config_id=None, route=SIGNALS_ROUTE):
    return configs_url(tenant.project.id, config_id, route=route)


# --- The same CRUD cases on both routes ------------------------------------------------------------


def test_create_retrieve_list_patch_delete(tenant, route):
    created = tenant.client.post(url(tenant, route=route), {**GITHUB, "config": {"steering": "x"}}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert list(body) == [
        "id",
        "source_product",
        "source_type",
        "enabled",
        "config",
        "created_at",
        "updated_at",
        "status",
    ]
    assert (body["enabled"], body["config"], body["status"]) == (True, {"steering": "x"}, None)

    detail = url(tenant, body["id"], route=route)
    assert tenant.client.get(detail).json() == body
    listed = tenant.client.get(url(tenant, route=route)).json()
    assert (listed["count"], listed["previous"], listed["next"], listed["results"]) == (1, None, None, [body])

    patched = tenant.client.patch(detail, {"enabled": False}, format="json")
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["enabled"], patched.json()["config"]) == (False, {"steering": "x"})
    assert SignalSourceConfig.objects.get(id=body["id"]).enabled is False

    assert tenant.client.delete(detail).status_code == 204
    assert not SignalSourceConfig.objects.exists()
    assert_error(tenant.client.get(detail), 404, "invalid_request", code="not_found")


def test_list_is_newest_update_first_and_paginated(tenant, route):
    first, _, third = (
        make_config(tenant.project, *pair) for pair in [("github", "issue"), ("jira", "issue"), ("sentry", "issue")]
    )
    tenant.client.patch(url(tenant, first.id, route=route), {"enabled": False}, format="json")

    page = tenant.client.get(url(tenant, route=route), {"limit": 2}).json()

    assert [item["id"] for item in page["results"]] == [str(first.id), str(third.id)]
    assert page["count"] == 3
    assert page["next"].endswith(f"/{route}/?limit=2&offset=2")


def test_filters_take_the_full_catalog(tenant, route):
    make_config(tenant.project, "sentry", "issue")
    make_config(tenant.project, "error_tracking", "issue_spiking", enabled=False)
    make_config(tenant.project, "snyk", "scanner_finding")

    def listed(**params):
        response = tenant.client.get(url(tenant, route=route), params)
        assert response.status_code == 200, response.json()
        return [(item["source_product"], item["source_type"]) for item in response.json()["results"]]

    assert listed(source_product="sentry") == [("sentry", "issue")]
    assert listed(source_type="issue_spiking") == [("error_tracking", "issue_spiking")]
    assert listed(source_type="scanner_finding", enabled="true") == [("snyk", "scanner_finding")]
    assert listed(source_type="evaluation_report") == []
    assert listed(enabled="false") == [("error_tracking", "issue_spiking")]
    assert_error(tenant.client.get(url(tenant, route=route), {"source_product": "nope"}), 400, attr="source_product")


def test_another_projects_config_is_a_404_for_every_method(tenant, other_tenant, route):
    theirs = make_config(other_tenant.project)
    before = database_state()
    detail = url(tenant, theirs.id, route=route)

    for response in (
        tenant.client.get(detail),
        tenant.client.patch(detail, {"enabled": False}, format="json"),
        tenant.client.delete(detail),
    ):
        assert_error(response, 404, "invalid_request", code="not_found")
    assert tenant.client.get(url(tenant, route=route)).json()["count"] == 0
    assert database_state() == before


def test_unknown_project_and_missing_key(tenant, route):
    assert_error(tenant.client.get(configs_url(999_999, route=route)), 404, detail="Project not found.")
    tenant.client.credentials()
    assert_error(tenant.client.get(url(tenant, route=route)), 401, "authentication_error")


def test_a_read_key_cannot_write(db, route):
    reader = Tenant(scopes=("task:read",))
    config = make_config(reader.project)
    before = database_state()

    assert reader.client.get(url(reader, route=route)).status_code == 200
    assert_error(reader.client.post(url(reader, route=route), GITHUB, format="json"), 403, "authentication_error")
    assert_error(
        reader.client.patch(url(reader, config.id, route=route), {"enabled": False}, format="json"),
        403,
        "authentication_error",
    )
    assert_error(reader.client.delete(url(reader, config.id, route=route)), 403, "authentication_error")
    assert database_state() == before


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({**GITHUB, "config": {"steering": None}}, "config", "invalid_input"),
        ({**GITHUB, "config": {"default_not_actionable": None}}, "config", "invalid_input"),
        ({**GITHUB, "config": {"linear_team_ids": "team-1"}}, "config", "invalid_input"),
        ({**GITHUB, "config": None}, "config", "null"),
        ({"source_product": "sentry", "source_type": "ticket"}, "source_type", "invalid_pair"),
        ({"source_product": "signals_check", "source_type": "issue"}, "source_type", "invalid_pair"),
        ({"source_product": "nope", "source_type": "issue"}, "source_product", "invalid_choice"),
        ({"source_product": "github"}, "source_type", "required"),
    ],
)
def test_bad_creates_are_400s_that_change_nothing(tenant, route, body, attr, code):
    assert_error(
        tenant.client.post(url(tenant, route=route), body, format="json"), 400, "validation_error", code=code, attr=attr
    )
    assert not SignalSourceConfig.objects.exists()


def test_a_product_without_config_types_says_so(tenant, route):
    body = assert_error(
        tenant.client.post(
            url(tenant, route=route), {"source_product": "signals_check", "source_type": "issue"}, format="json"
        ),
        400,
        attr="source_type",
    )
    assert (
        body["detail"]
        == "'issue' is not a valid source_type for 'signals_check'. 'signals_check' takes no signal source config."
    )


def test_source_is_fixed_on_patch(tenant, route):
    config = make_config(tenant.project)
    before = database_state()

    for change in ({"source_type": "ticket"}, {"source_product": "gitlab"}):
        assert_error(
            tenant.client.patch(url(tenant, config.id, route=route), change, format="json"),
            400,
            code="immutable",
            attr=next(iter(change)),
        )
    assert database_state() == before


# --- One resource, two routes -----------------------------------------------------------------------


@pytest.mark.parametrize(("made_on", "used_on"), [(PUBLISHED_ROUTE, SIGNALS_ROUTE), (SIGNALS_ROUTE, PUBLISHED_ROUTE)])
def test_a_config_made_on_one_route_is_read_changed_and_deleted_on_the_other(tenant, made_on, used_on):
    created = tenant.client.post(url(tenant, route=made_on), GITHUB, format="json").json()
    detail = url(tenant, created["id"], route=used_on)

    assert tenant.client.get(detail).json() == created
    assert tenant.client.get(url(tenant, route=used_on)).json()["results"] == [created]
    patched = tenant.client.patch(detail, {"config": {"steering": "s"}}, format="json")
    assert patched.status_code == 200, patched.json()
    assert tenant.client.get(url(tenant, created["id"], route=made_on)).json() == patched.json()
    assert tenant.client.delete(detail).status_code == 204
    assert_error(tenant.client.get(url(tenant, created["id"], route=made_on)), 404)


def test_a_duplicate_across_routes_is_a_400(tenant):
    assert tenant.client.post(url(tenant, route=PUBLISHED_ROUTE), GITHUB, format="json").status_code == 201
    body = assert_error(
        tenant.client.post(url(tenant), GITHUB, format="json"), 400, code="unique", attr="source_product"
    )
    assert "already exists" in body["detail"]
    assert SignalSourceConfig.objects.count() == 1


# --- PUT ----------------------------------------------------------------------------------------------


def test_put_replaces_enabled_and_config(tenant):
    config = make_config(tenant.project, config={"steering": "old", "extra": 1})

    response = tenant.client.put(
        url(tenant, config.id), {**GITHUB, "enabled": False, "config": {"steering": "new"}}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["enabled"], response.json()["config"]) == (False, {"steering": "new"})
    config.refresh_from_db()
    assert (config.enabled, config.config) == (False, {"steering": "new"})
    assert response.json()["updated_at"] > response.json()["created_at"]


@pytest.mark.parametrize("format_", ["json", "multipart"])
def test_put_keeps_what_it_leaves_out(tenant, format_):
    # PostHog's PUT: source_product and source_type are required; enabled and config keep their values.
    config = make_config(tenant.project, enabled=False, config={"steering": "kept"})

    response = tenant.client.put(url(tenant, config.id), GITHUB, format=format_)

    assert response.status_code == 200, response.json()
    assert (response.json()["enabled"], response.json()["config"]) == (False, {"steering": "kept"})
    config.refresh_from_db()
    assert (config.enabled, config.config) == (False, {"steering": "kept"})


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({"source_type": "issue", "enabled": False}, "source_product", "required"),
        ({"source_product": "github", "enabled": False}, "source_type", "required"),
        ({"source_product": "gitlab", "source_type": "issue"}, "source_product", "immutable"),
        ({"source_product": "github", "source_type": "ticket"}, "source_type", "immutable"),
        ({**GITHUB, "config": {"steering": 1}}, "config", "invalid_input"),
        ({**GITHUB, "config": []}, "config", "invalid_input"),
        ({**GITHUB, "enabled": "maybe"}, "enabled", "invalid_input"),
    ],
)
def test_bad_puts_are_400s_that_change_nothing(tenant, body, attr, code):
    config = make_config(tenant.project, config={"steering": "s"})
    before = database_state()

    assert_error(
        tenant.client.put(url(tenant, config.id), body, format="json"), 400, "validation_error", code=code, attr=attr
    )
    assert database_state() == before


def test_put_needs_write_scope_and_the_projects_config(db, tenant, other_tenant):
    reader = Tenant(scopes=("task:read",))
    mine, theirs = make_config(reader.project), make_config(other_tenant.project)
    before = database_state()

    assert_error(reader.client.put(url(reader, mine.id), GITHUB, format="json"), 403, "authentication_error")
    assert_error(tenant.client.put(url(tenant, theirs.id), GITHUB, format="json"), 404, "invalid_request")
    assert database_state() == before


def test_put_on_the_published_route_is_still_a_405(tenant):
    config = make_config(tenant.project)
    before = database_state()

    response = tenant.client.put(url(tenant, config.id, route=PUBLISHED_ROUTE), GITHUB, format="json")

    assert_error(response, 405, "invalid_request")
    assert "PUT" not in response["Allow"]
    # Today's route names PUT among the methods it takes (a POST to an object is its 405).
    todays = tenant.client.post(url(tenant, config.id), GITHUB, format="json")
    assert_error(todays, 405, "invalid_request")
    assert "PUT" in todays["Allow"]
    assert database_state() == before


def test_put_does_not_add_the_sample_rate_default(tenant):
    config = make_config(tenant.project, *REPLAY.values())

    response = tenant.client.put(url(tenant, config.id), {**REPLAY, "config": {}}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {}


# --- The retired `evaluation` and the sample_rate default -----------------------------------------


EVALUATION = {"source_product": "llm_analytics", "source_type": "evaluation"}


def test_evaluation_is_refused_on_todays_route_and_kept_on_the_published_one(tenant):
    assert_error(
        tenant.client.post(url(tenant), EVALUATION, format="json"),
        400,
        code="invalid_choice",
        detail='"evaluation" is not a valid choice.',
        attr="source_type",
    )
    assert not SignalSourceConfig.objects.exists()
    published = tenant.client.post(url(tenant, route=PUBLISHED_ROUTE), EVALUATION, format="json")
    assert published.status_code == 201, published.json()
    report = tenant.client.post(url(tenant), {**EVALUATION, "source_type": "evaluation_report"}, format="json")
    assert report.status_code == 201, report.json()


def test_an_evaluation_config_is_read_and_patched_on_todays_route_but_not_retyped(tenant):
    config = make_config(tenant.project, *EVALUATION.values())
    detail = url(tenant, config.id)

    assert tenant.client.get(detail).json()["source_type"] == "evaluation"
    assert tenant.client.patch(detail, {"enabled": False}, format="json").status_code == 200
    # As in PostHog: any write that carries the retired type is refused, a PUT included.
    before = database_state()
    assert_error(tenant.client.put(detail, EVALUATION, format="json"), 400, code="invalid_choice", attr="source_type")
    assert_error(tenant.client.patch(detail, EVALUATION, format="json"), 400, code="invalid_choice", attr="source_type")
    assert database_state() == before


@pytest.mark.parametrize(
    ("config", "stored"),
    [
        (None, {"sample_rate": 0.1}),
        ({}, {"sample_rate": 0.1}),
        ({"recording_filters": {"duration_min": 5}}, {"recording_filters": {"duration_min": 5}, "sample_rate": 0.1}),
        ({"sample_rate": 0.5}, {"sample_rate": 0.5}),
        ({"sample_rate": 0}, {"sample_rate": 0}),
    ],
)
def test_todays_route_fills_in_the_sample_rate_and_the_published_route_does_not(tenant, other_tenant, config, stored):
    body = REPLAY if config is None else {**REPLAY, "config": config}

    today = tenant.client.post(url(tenant), body, format="json")
    published = other_tenant.client.post(url(other_tenant, route=PUBLISHED_ROUTE), body, format="json")

    assert today.status_code == 201, today.json()
    assert today.json()["config"] == stored
    assert SignalSourceConfig.objects.get(id=today.json()["id"]).config == stored
    assert published.json()["config"] == (config or {})


def test_the_sample_rate_default_is_only_for_session_replay(tenant):
    response = tenant.client.post(url(tenant), {**GITHUB, "enabled": False}, format="json")
    assert response.json()["config"] == {}


# --- The description --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    import yaml

    target = tmp_path_factory.mktemp("openapi") / "openapi.yaml"
    call_command("spectacular", "--file", str(target))
    return yaml.safe_load(target.read_text())


LIST_PATH = "/api/projects/{project_id}/signals/source_configs/"
DETAIL_PATH = "/api/projects/{project_id}/signals/source_configs/{id}/"
OPERATIONS = {
    ("get", LIST_PATH): ("signals_source_configs_list", "task:read"),
    ("post", LIST_PATH): ("signals_source_configs_create", "task:write"),
    ("get", DETAIL_PATH): ("signals_source_configs_retrieve", "task:read"),
    ("put", DETAIL_PATH): ("signals_source_configs_update", "task:write"),
    ("patch", DETAIL_PATH): ("signals_source_configs_partial_update", "task:write"),
    ("delete", DETAIL_PATH): ("signals_source_configs_destroy", "task:write"),
}


def test_todays_route_has_posthogs_operation_ids_and_scopes(spec):
    found = {
        (method, path) for path in (LIST_PATH, DETAIL_PATH) for method in spec["paths"][path] if method != "parameters"
    }
    assert found == set(OPERATIONS)
    for (method, path), (operation_id, scope) in OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["signals_source_configs"]
        assert operation["security"] == [{"PersonalAPIKeyAuth": [scope]}]
    # 412: If-Match, as on PATCH and DELETE; 411: a body sent chunked.
    assert set(spec["paths"][DETAIL_PATH]["put"]["responses"]) == {
        "200", "400", "401", "403", "404", "411", "412", "413", "415", "429", "500", "503",
    }  # fmt: skip
    (example,) = spec["paths"][DETAIL_PATH]["put"]["requestBody"]["content"]["application/json"]["examples"].values()
    # A pair no walk-through in the docs creates, so that Swagger UI's prefilled request succeeds after them.
    assert example["value"]["source_product"] == "google_search_console"


def test_both_routes_describe_the_full_catalog(spec):
    from signalsource import catalog

    schemas = spec["components"]["schemas"]
    assert schemas["SourceProductEnum"]["enum"] == list(catalog.PRODUCT_LABELS)
    assert schemas["SignalSourceConfigSourceTypeEnum"]["enum"] == list(catalog.TYPE_LABELS)
    for component in ("SignalSourceConfig", "SignalsSourceConfig"):
        properties = schemas[component]["properties"]
        assert _ref(properties["source_product"]).endswith("/SourceProductEnum")
        assert _ref(properties["source_type"]).endswith("/SignalSourceConfigSourceTypeEnum")
    assert "refused" in schemas["SignalsSourceConfig"]["properties"]["source_type"]["description"]


def _ref(schema):
    return schema["$ref"] if "$ref" in schema else schema["allOf"][0]["$ref"]
