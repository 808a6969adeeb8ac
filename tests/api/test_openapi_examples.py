"""The description's examples are what the server does: its request examples succeed, and each
error example is the body the server answers for that status, on every route."""

import json

import pytest
import yaml
from django.test import override_settings

from api.parsers import MERGE_PATCH_MEDIA_TYPE
from tests.helpers import OPENAPI_FILE, Tenant, make_config, make_key

ROUTES = ("signal_source_configs", "signals/source_configs")
ACTIVITY_LOG_PATH = "/api/projects/{project_id}/activity_log/"


def list_path(route):
    return f"/api/projects/{{project_id}}/{route}/"


def detail_path(route):
    return f"/api/projects/{{project_id}}/{route}/{{id}}/"


def activity_path(route):
    return f"/api/projects/{{project_id}}/{route}/{{id}}/activity/"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(OPENAPI_FILE.read_text())


def request_example(spec, method, path):
    (example,) = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["examples"].values()
    return example["value"]


def error_example(spec, method, path, status):
    content = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    (example,) = content["examples"].values()
    return example["value"]


def documented(body, example):
    """The fields an example fixes: type, code, detail and attr (a 5xx's request id varies)."""
    return {name: body[name] for name in ("type", "code", "detail", "attr")} == {
        name: example[name] for name in ("type", "code", "detail", "attr")
    }


def url(tenant, route, *rest):
    return "/".join([f"/api/projects/{tenant.project.id}/{route}", *rest, ""])


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_create_replace_and_patch_examples_succeed(spec, route):
    tenant = Tenant()
    created = tenant.client.post(url(tenant, route), request_example(spec, "post", list_path(route)), format="json")
    assert created.status_code == 201, created.content
    detail_url = url(tenant, route, created.json()["id"])
    if "put" in spec["paths"][detail_path(route)]:
        replaced = tenant.client.put(detail_url, request_example(spec, "put", detail_path(route)), format="json")
        assert replaced.status_code == 200, replaced.content
    changed = tenant.client.patch(detail_url, request_example(spec, "patch", detail_path(route)), format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["config"] == request_example(spec, "patch", detail_path(route))["config"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_the_merge_patch_example_merges(spec, route):
    tenant = Tenant()
    config = make_config(
        tenant.project, "github", "issue", config={"default_not_actionable": True, "labels": ["bug"], "steering": "x"}
    )
    (example,) = spec["paths"][detail_path(route)]["patch"]["requestBody"]["content"][MERGE_PATCH_MEDIA_TYPE][
        "examples"
    ].values()
    changed = tenant.client.generic(
        "PATCH", url(tenant, route, str(config.id)), json.dumps(example["value"]), MERGE_PATCH_MEDIA_TYPE
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["config"] == {"labels": ["bug"], "steering": example["value"]["config"]["steering"]}


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_each_error_example_is_the_servers_answer(spec, client, route):
    tenant = Tenant()
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster")
    detail_url = url(tenant, route, str(config.id))
    body = request_example(spec, "post", list_path(route))

    bad_config = tenant.client.patch(detail_url, {"config": {"sample_rate": 2}}, format="json")
    assert bad_config.status_code == 400
    assert documented(bad_config.json(), error_example(spec, "patch", detail_path(route), 400))
    example = error_example(spec, "get", list_path(route), 400)
    bad_filter = tenant.client.get(url(tenant, route), {example["attr"]: "maybe"})
    assert bad_filter.status_code == 400
    assert documented(bad_filter.json(), example)

    anonymous = client.get(url(tenant, route))
    assert anonymous.status_code == 401
    assert documented(anonymous.json(), error_example(spec, "get", list_path(route), 401))

    _, read_only_key = make_key(tenant.user, ["task:read"])
    forbidden = client.post(
        url(tenant, route), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_only_key}"
    )
    assert forbidden.status_code == 403
    assert documented(forbidden.json(), error_example(spec, "post", list_path(route), 403))

    missing = tenant.client.get(url(tenant, route, "00000000-0000-0000-0000-000000000000"))
    assert missing.status_code == 404
    assert documented(missing.json(), error_example(spec, "get", detail_path(route), 404))

    wrong_media_type = tenant.client.post(url(tenant, route), "hello", content_type="text/plain")
    assert wrong_media_type.status_code == 415
    assert documented(wrong_media_type.json(), error_example(spec, "post", list_path(route), 415))

    with override_settings(MAX_REQUEST_BODY_BYTES=1024 * 1024):
        too_large = tenant.client.post(url(tenant, route), "x" * (1024 * 1024 + 1), content_type="application/json")
    assert too_large.status_code == 413
    assert documented(too_large.json(), error_example(spec, "post", list_path(route), 413))


@pytest.mark.django_db
def test_the_activity_logs_error_examples_are_the_servers_answers(spec, client):
    tenant = Tenant(scopes=["task:read", "task:write", "activity_log:read"])

    example = error_example(spec, "get", ACTIVITY_LOG_PATH, 400)
    bad_filter = tenant.client.get(f"/api/projects/{tenant.project.id}/activity_log/", {example["attr"]: "maybe"})
    assert bad_filter.status_code == 400
    assert documented(bad_filter.json(), example)

    _, no_log_key = make_key(tenant.user, ["task:read"])
    forbidden = client.get(
        f"/api/projects/{tenant.project.id}/activity_log/", HTTP_AUTHORIZATION=f"Bearer {no_log_key}"
    )
    assert forbidden.status_code == 403
    assert documented(forbidden.json(), error_example(spec, "get", ACTIVITY_LOG_PATH, 403))

    for route in ROUTES:
        _, log_only_key = make_key(tenant.user, ["activity_log:read"])
        history_url = url(tenant, route, "00000000-0000-0000-0000-000000000000", "activity")
        forbidden = client.get(history_url, HTTP_AUTHORIZATION=f"Bearer {log_only_key}")
        assert forbidden.status_code == 403
        assert documented(forbidden.json(), error_example(spec, "get", activity_path(route), 403))
        missing = tenant.client.get(history_url)
        assert missing.status_code == 404
        assert documented(missing.json(), error_example(spec, "get", activity_path(route), 404))
