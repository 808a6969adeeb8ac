"""The description's examples are what the server does: its request examples succeed, and each
error example is the body the server answers for that status."""

import pytest
import yaml
from django.test import override_settings

from tests.helpers import OPENAPI_FILE, Tenant, make_config, make_key

LIST_PATH = "/api/projects/{project_id}/signal_source_configs/"
DETAIL_PATH = "/api/projects/{project_id}/signal_source_configs/{id}/"


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
    """The fields an example fixes: type and code always; detail and attr too, except where the
    server's text varies (a request id)."""
    return {name: body[name] for name in ("type", "code", "detail", "attr")} == {
        name: example[name] for name in ("type", "code", "detail", "attr")
    }


@pytest.mark.django_db
def test_create_and_patch_examples_succeed(spec):
    tenant = Tenant()
    created = tenant.client.post(tenant.url, request_example(spec, "post", LIST_PATH), format="json")
    assert created.status_code == 201, created.content
    detail_url = f"{tenant.url}{created.json()['id']}/"
    changed = tenant.client.patch(detail_url, request_example(spec, "patch", DETAIL_PATH), format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["config"] == request_example(spec, "patch", DETAIL_PATH)["config"]


@pytest.mark.django_db
def test_each_error_example_is_the_servers_answer(spec, client):
    tenant = Tenant()
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster")
    detail_url = f"{tenant.url}{config.id}/"
    body = request_example(spec, "post", LIST_PATH)

    bad_config = tenant.client.patch(detail_url, {"config": {"sample_rate": 2}}, format="json")
    assert documented(bad_config.json(), error_example(spec, "patch", DETAIL_PATH, 400))
    bad_filter = tenant.client.get(tenant.url, {"enabled": "maybe"})
    assert bad_filter.status_code == 400
    assert documented(bad_filter.json(), error_example(spec, "get", LIST_PATH, 400))

    anonymous = client.get(tenant.url)
    assert anonymous.status_code == 401
    assert documented(anonymous.json(), error_example(spec, "get", LIST_PATH, 401))

    _, read_only_key = make_key(tenant.user, ["task:read"])
    forbidden = client.post(
        tenant.url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_only_key}"
    )
    assert forbidden.status_code == 403
    assert documented(forbidden.json(), error_example(spec, "post", LIST_PATH, 403))

    missing = tenant.client.get(f"{tenant.url}00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404
    assert documented(missing.json(), error_example(spec, "get", DETAIL_PATH, 404))

    wrong_media_type = tenant.client.post(tenant.url, "hello", content_type="text/plain")
    assert wrong_media_type.status_code == 415
    assert documented(wrong_media_type.json(), error_example(spec, "post", LIST_PATH, 415))

    with override_settings(MAX_REQUEST_BODY_BYTES=1024 * 1024):
        too_large = tenant.client.post(tenant.url, "x" * (1024 * 1024 + 1), content_type="application/json")
    assert too_large.status_code == 413
    assert documented(too_large.json(), error_example(spec, "post", LIST_PATH, 413))
