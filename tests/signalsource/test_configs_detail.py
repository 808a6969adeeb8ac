"""GET, PATCH and DELETE on /api/projects/{project_id}/signal_source_configs/{id}/, and the routes'
methods: contract sections 1 and 2 (PATCH, DELETE). Unknown, malformed and other projects' ids: the
access matrix (tests/api/test_access_matrix.py)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from activity_log.models import ActivityLog
from signalsource.models import SignalSourceConfig
from tests.helpers import configs_url, database_state


@pytest.fixture
def row(tenant):
    return SignalSourceConfig.objects.create(
        project=tenant.project,
        created_by=tenant.user,
        source_product="session_replay",
        source_type="session_analysis_cluster",
        config={"recording_filters": {"duration_min": 10}, "sample_rate": 0.5},
    )


def detail_url(tenant, row_id):
    return configs_url(tenant.project.id, row_id)


def test_retrieve(tenant, row):
    response = tenant.client.get(detail_url(tenant, row.id))

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": str(row.id),
        "source_product": "session_replay",
        "source_type": "session_analysis_cluster",
        "enabled": True,
        "config": {"recording_filters": {"duration_min": 10}, "sample_rate": 0.5},
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": row.updated_at.isoformat().replace("+00:00", "Z"),
        "status": None,
    }


def test_patch_enabled(tenant, row):
    response = tenant.client.patch(detail_url(tenant, row.id), {"enabled": False}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    row.refresh_from_db()
    assert row.enabled is False
    assert row.config == {"recording_filters": {"duration_min": 10}, "sample_rate": 0.5}


def test_patch_config_replaces_it_whole(tenant, row):
    response = tenant.client.patch(
        detail_url(tenant, row.id), {"config": {"recording_filters": {"duration_min": 30}}}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {"recording_filters": {"duration_min": 30}}
    row.refresh_from_db()
    assert row.config == {"recording_filters": {"duration_min": 30}}
    assert row.enabled is True


def test_patch_config_to_empty(tenant, row):
    response = tenant.client.patch(detail_url(tenant, row.id), {"config": {}}, format="json")

    assert response.status_code == 200, response.json()
    row.refresh_from_db()
    assert row.config == {}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"recording_filters": [1, 2, 3]}, "recording_filters must be a JSON object"),
        ({"sample_rate": 2}, "sample_rate must be a number between 0 and 1"),
        ({"steering": "x" * 2001}, "steering must be at most 2000 characters"),
        ({"x": "\x00"}, "config must not contain NUL characters"),
        ([], "config must be a JSON object"),
        (None, "This field may not be null."),
    ],
)
def test_patch_config_is_validated_against_the_rows_source(tenant, row, config, message):
    before = database_state()

    response = tenant.client.patch(detail_url(tenant, row.id), {"config": config}, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "config"
    assert response.json()["detail"] == message
    assert database_state() == before


def test_patch_linear_team_ids_are_trimmed(tenant):
    created = tenant.client.post(tenant.url, {"source_product": "linear", "source_type": "issue"}, format="json")

    response = tenant.client.patch(
        detail_url(tenant, created.json()["id"]), {"config": {"linear_team_ids": [" a ", "b"]}}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {"linear_team_ids": ["a", "b"]}


def test_patch_moves_updated_at(tenant, row):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SignalSourceConfig.objects.filter(pk=row.pk).update(updated_at=an_hour_ago, created_at=an_hour_ago)

    response = tenant.client.patch(detail_url(tenant, row.id), {"enabled": not row.enabled}, format="json")

    assert response.status_code == 200, response.json()
    row.refresh_from_db()
    assert row.updated_at > an_hour_ago
    assert row.created_at == an_hour_ago
    assert response.json()["updated_at"] == row.updated_at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("body", [{}, "same values"], ids=["empty", "same-values"])
def test_a_patch_that_changes_nothing_is_accepted_and_writes_nothing(tenant, row, body):
    # Issue 28: the version (ETag), `updated_at` and the activity log stay as they were.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SignalSourceConfig.objects.filter(pk=row.pk).update(updated_at=an_hour_ago)
    if body == "same values":
        body = {"enabled": row.enabled, "config": row.config, "source_product": row.source_product}
    before = tenant.client.get(detail_url(tenant, row.id))

    response = tenant.client.patch(detail_url(tenant, row.id), body, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == before.json()
    assert response["ETag"] == before["ETag"]
    row.refresh_from_db()
    assert (row.updated_at, row.version) == (an_hour_ago, 1)
    assert not ActivityLog.objects.filter(item_id=str(row.id)).exists()


def test_patch_ignores_read_only_and_unknown_fields(tenant, row, other_tenant):
    response = tenant.client.patch(
        detail_url(tenant, row.id),
        {
            "id": str(uuid.uuid4()),
            "status": "failed",
            "created_at": "2000-01-01T00:00:00Z",
            "project": other_tenant.project.id,
            "created_by": other_tenant.user.id,
            "colour": "blue",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(row.id)
    assert response.json()["status"] is None
    fresh = SignalSourceConfig.objects.get(pk=row.pk)
    assert fresh.project_id == tenant.project.id
    assert fresh.created_by_id == tenant.user.id
    assert fresh.status is None
    assert fresh.created_at == row.created_at


@pytest.mark.parametrize(
    ("field", "same"),
    [("source_product", "session_replay"), ("source_type", "session_analysis_cluster")],
)
def test_patch_with_the_same_source_key_is_accepted(tenant, row, field, same):
    response = tenant.client.patch(detail_url(tenant, row.id), {field: same, "enabled": False}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()[field] == same
    assert response.json()["enabled"] is False


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("source_product", "github"),
        ("source_product", "llm_analytics"),
        ("source_type", "issue"),
        ("source_type", "ticket"),
    ],
)
def test_source_keys_cannot_change(tenant, row, field, other):
    before = database_state()

    response = tenant.client.patch(detail_url(tenant, row.id), {field: other, "enabled": False}, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["attr"] == field
    assert body["detail"] == f"{field} cannot be changed after creation."
    assert database_state() == before


def test_source_key_outside_the_choices_on_patch(tenant, row):
    response = tenant.client.patch(detail_url(tenant, row.id), {"source_type": "issue_created"}, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "source_type"
    row.refresh_from_db()
    assert row.source_type == "session_analysis_cluster"


def test_delete(tenant, row):
    response = tenant.client.delete(detail_url(tenant, row.id))

    assert response.status_code == 204
    assert response.content == b""
    assert not SignalSourceConfig.objects.filter(pk=row.pk).exists()
    assert tenant.client.get(detail_url(tenant, row.id)).status_code == 404
    assert tenant.client.delete(detail_url(tenant, row.id)).status_code == 404
    assert tenant.client.patch(detail_url(tenant, row.id), {"enabled": False}, format="json").status_code == 404


@pytest.mark.parametrize("slash", ["/", ""])
def test_trailing_slash_is_optional_on_every_route(tenant, slash):
    base = tenant.url.rstrip("/") + slash

    created = tenant.client.post(base, {"source_product": "github", "source_type": "issue"}, format="json")
    assert created.status_code == 201, created.json()
    assert tenant.client.get(base).json()["count"] == 1

    item = f"{tenant.url}{created.json()['id']}{slash}"
    assert tenant.client.get(item).status_code == 200
    assert tenant.client.patch(item, {"enabled": False}, format="json").status_code == 200
    assert tenant.client.delete(item).status_code == 204
    assert tenant.client.get(item).status_code == 404


@pytest.mark.parametrize(
    ("method", "on_item", "allow"),
    [
        ("put", True, {"GET", "PATCH", "DELETE", "HEAD"}),
        ("post", True, {"GET", "PATCH", "DELETE", "HEAD"}),
        ("put", False, {"GET", "POST", "HEAD"}),
        ("patch", False, {"GET", "POST", "HEAD"}),
        ("delete", False, {"GET", "POST", "HEAD"}),
        ("options", False, {"GET", "POST", "HEAD"}),
        ("trace", False, {"GET", "POST", "HEAD"}),
    ],
)
def test_other_methods_are_405_with_allow(tenant, row, method, on_item, allow):
    url = detail_url(tenant, row.id) if on_item else tenant.url
    before = database_state()

    response = tenant.client.generic(
        method.upper(), url, '{"enabled": false, "source_product": "github"}', content_type="application/json"
    )

    assert response.status_code == 405, response.content
    assert response.json()["type"] == "invalid_request"
    assert response.json()["code"] == "method_not_allowed"
    assert {method.strip() for method in response["Allow"].split(",")} == allow
    assert database_state() == before
    assert SignalSourceConfig.objects.count() == 1


def test_head_reads_like_get(tenant, row):
    assert tenant.client.head(detail_url(tenant, row.id)).status_code == 200
    assert tenant.client.head(tenant.url).status_code == 200
