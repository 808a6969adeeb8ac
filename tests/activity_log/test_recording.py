"""Every writer records every kind of change, in the change's own transaction (issue 16)."""

import json
from dataclasses import asdict

import pytest
from django.db import IntegrityError, transaction

from activity_log.models import ActivityLog
from activity_log.services import Actor, Change, Detail
from change_events.models import ChangeEvent
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import admin_url, configs_url, make_config, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def records(config_id=None):
    queryset = ActivityLog.objects.order_by("created_at", "id")
    return list(queryset.filter(item_id=str(config_id)) if config_id else queryset)


def changes(record):
    return {
        (c["field"], c["action"], json.dumps(c["before"]), json.dumps(c["after"])) for c in record.detail["changes"]
    }


def change(field, action, before=None, after=None):
    return (field, action, json.dumps(before), json.dumps(after))


# --- The API ------------------------------------------------------------------------------------------


def test_api_create_patch_delete_each_record_who_what_and_which_config(tenant):
    body = {"source_product": "github", "source_type": "issue", "config": {"steering": "old", "extra": 1}}
    response = tenant.client.post(tenant.url, body, format="json", HTTP_X_REQUEST_ID="req-create-1")
    assert response.status_code == 201, response.json()
    config_id = response.json()["id"]
    detail_url = configs_url(tenant.project.id, config_id)

    response = tenant.client.patch(
        detail_url, {"enabled": False, "config": {"steering": "new", "added": True}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert tenant.client.delete(detail_url).status_code == 204

    created, updated, deleted = records(config_id)
    for record in (created, updated, deleted):
        assert record.project_id == tenant.project.id
        assert record.user == tenant.user
        assert record.actor == tenant.api_key.mask
        assert not record.is_system
        assert record.scope == "SignalSourceConfig"
        assert record.item_id == config_id
        assert record.detail["name"] == "github/issue"
        assert record.detail["context"] == {"source_product": "github", "source_type": "issue"}
        assert record.request_id
    assert created.request_id == "req-create-1"
    assert [r.activity for r in (created, updated, deleted)] == ["created", "updated", "deleted"]
    assert changes(created) == {
        change("source_product", "created", after="github"),
        change("source_type", "created", after="issue"),
        change("enabled", "created", after=True),
        change("config.steering", "created", after="old"),
        change("config.extra", "created", after=1),
    }
    # Only what changed, `config` key by key.
    assert changes(updated) == {
        change("enabled", "changed", True, False),
        change("config.steering", "changed", "old", "new"),
        change("config.extra", "deleted", before=1),
        change("config.added", "created", after=True),
    }
    assert changes(deleted) == {
        change("source_product", "deleted", before="github"),
        change("source_type", "deleted", before="issue"),
        change("enabled", "deleted", before=False),
        change("config.steering", "deleted", before="new"),
        change("config.added", "deleted", before=True),
    }
    assert all(c["type"] == "SignalSourceConfig" for r in (created, updated, deleted) for c in r.detail["changes"])


def test_a_patch_that_changes_nothing_records_nothing(tenant):
    config_id = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}).json()["id"]
    response = tenant.client.patch(configs_url(tenant.project.id, config_id), {"enabled": True}, format="json")
    assert response.status_code == 200
    assert [r.activity for r in records(config_id)] == ["created"]


def test_a_change_of_type_alone_is_recorded(tenant):
    """`1` and `true` are equal in Python but not in JSON: a config that changes one into the other changed."""
    created = tenant.client.post(
        tenant.url, {"source_product": "github", "source_type": "issue", "config": {"n": 1}}, format="json"
    )
    config_id = created.json()["id"]
    url = configs_url(tenant.project.id, config_id)

    assert tenant.client.patch(url, {"config": {"n": True}}, format="json").status_code == 200
    assert tenant.client.patch(url, {"config": {"n": 1.0}}, format="json").status_code == 200

    created_record, to_true, to_float = records(config_id)
    assert created_record.activity == "created"
    assert (to_true.activity, changes(to_true)) == ("updated", {change("config.n", "changed", 1, True)})
    assert (to_float.activity, changes(to_float)) == ("updated", {change("config.n", "changed", True, 1.0)})


def test_a_config_key_added_or_removed_with_a_null_value_is_recorded(tenant):
    """`{}` and `{"note": null}` are different configs (the write moves the version): each change
    between them has its record, with the key's action, as the change feed has its event."""
    created = tenant.client.post(
        tenant.url, {"source_product": "github", "source_type": "issue", "config": {}}, format="json"
    )
    config_id = created.json()["id"]
    url = configs_url(tenant.project.id, config_id)

    added = tenant.client.patch(url, {"config": {"note": None}}, format="json")
    assert added.status_code == 200, added.json()
    assert added.json()["config"] == {"note": None}
    removed = tenant.client.patch(url, {"config": {}}, format="json")
    assert removed.status_code == 200, removed.json()

    created_record, to_null, to_nothing = records(config_id)
    assert created_record.activity == "created"
    assert (to_null.activity, changes(to_null)) == ("updated", {change("config.note", "created")})
    assert (to_nothing.activity, changes(to_nothing)) == ("updated", {change("config.note", "deleted")})
    sequences = ChangeEvent.objects.filter(subject=config_id).order_by("sequence").values_list("sequence", flat=True)
    assert list(sequences) == [1, 2, 3]


def test_no_record_holds_the_raw_key(tenant):
    config_id = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}).json()["id"]
    tenant.client.patch(configs_url(tenant.project.id, config_id), {"enabled": False}, format="json")
    tenant.client.delete(configs_url(tenant.project.id, config_id))
    stored = json.dumps(list(ActivityLog.objects.values()), default=str)
    assert tenant.raw_key not in stored
    assert tenant.api_key.mask in stored


# --- Failed writes ------------------------------------------------------------------------------------


def test_refused_writes_leave_no_record(tenant):
    assert tenant.client.post(tenant.url, {"source_product": "github", "source_type": "ticket"}).status_code == 400
    config_id = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}).json()["id"]
    assert tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}).status_code == 400
    url = configs_url(tenant.project.id, config_id)
    assert tenant.client.patch(url, {"config": {"steering": 5}}, format="json").status_code == 400
    assert tenant.client.patch(url, {"source_type": "ticket"}, format="json").status_code == 400
    assert [r.activity for r in ActivityLog.objects.all()] == ["created"]


def test_a_change_that_rolls_back_leaves_no_record(tenant):
    config = make_config(tenant.project, config={"steering": "kept"})
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_config(config, config={"steering": "lost"})
        services.set_status(config, "failed")
        raise RuntimeError("the caller's transaction fails after the change")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.delete_config(SignalSourceConfig.objects.get(pk=config.pk))
        raise RuntimeError
    config.refresh_from_db()
    assert (config.config, config.status) == ({"steering": "kept"}, None)
    assert not ActivityLog.objects.exists()


def test_a_failing_record_fails_the_change(tenant):
    """The record is part of the change: when it cannot be written, the change is not made either."""
    config = make_config(tenant.project, config={"steering": "kept"})
    unsaveable = Actor(name=None)  # the actor column is NOT NULL
    with pytest.raises(IntegrityError):
        services.update_config(config, config={"steering": "lost"}, actor=unsaveable)
    config.refresh_from_db()
    assert config.config == {"steering": "kept"}
    assert not ActivityLog.objects.exists()


def test_changes_to_a_config_deleted_meanwhile_record_nothing(tenant):
    config = make_config(tenant.project)
    stale = SignalSourceConfig.objects.get(pk=config.pk)
    services.delete_config(config)
    with pytest.raises(SignalSourceConfig.DoesNotExist):
        services.update_config(stale, enabled=False)
    with pytest.raises(SignalSourceConfig.DoesNotExist):
        services.set_status(stale, "running")
    services.delete_config(stale)  # already gone: nothing deleted, nothing recorded
    assert [r.activity for r in records(config.pk)] == ["deleted"]


# --- set_status and commands --------------------------------------------------------------------------


def test_set_status_records_a_status_change_by_the_system_or_the_named_actor(tenant):
    config = make_config(tenant.project)
    services.set_status(config, "running")
    services.set_status(config, "running")  # no change, no record
    services.set_status(config, "failed", actor=Actor.command("sync_sources"))
    first, second = records(config.pk)
    assert (first.activity, first.actor, first.user, first.is_system) == ("status_changed", "system", None, True)
    assert changes(first) == {change("status", "created", after="running")}
    assert (second.actor, second.is_system) == ("sync_sources", True)
    assert changes(second) == {change("status", "changed", "running", "failed")}


# --- The admin ----------------------------------------------------------------------------------------


def test_admin_add_edit_status_and_delete_are_recorded_as_the_operator(admin_client, admin_user, tenant):
    data = {"project": tenant.project.pk, "source": "linear/issue", "config": '{"steering": "a"}', "enabled": "on"}
    assert admin_client.post(admin_url("signalsource_signalsourceconfig_add"), data).status_code == 302
    config = SignalSourceConfig.objects.get()
    change_url = admin_url("signalsource_signalsourceconfig_change", config.pk)
    response = admin_client.post(change_url, {"config": '{"steering": "b"}', "status": "completed"})
    assert response.status_code == 302
    response = admin_client.post(admin_url("signalsource_signalsourceconfig_delete", config.pk), {"post": "yes"})
    assert response.status_code == 302

    created, updated, status, deleted = records(config.pk)
    assert [r.activity for r in (created, updated, status, deleted)] == [
        "created",
        "updated",
        "status_changed",
        "deleted",
    ]
    assert {(r.actor, r.user, r.is_system) for r in (created, updated, status, deleted)} == {
        ("admin", admin_user, False)
    }
    assert changes(updated) == {
        change("enabled", "changed", True, False),  # the box was left unticked
        change("config.steering", "changed", "a", "b"),
    }
    assert changes(status) == {change("status", "created", after="completed")}


def test_admin_bulk_enable_and_disable_record_each_config(admin_client, admin_user, tenant):
    first = make_config(tenant.project)
    second = make_config(tenant.project, "zendesk", "ticket", enabled=False)
    changelist = admin_url("signalsource_signalsourceconfig_changelist")
    admin_client.post(changelist, {"action": "enable", "_selected_action": [first.pk, second.pk]})
    admin_client.post(changelist, {"action": "disable", "_selected_action": [first.pk, second.pk]})
    assert sorted((r.item_id, r.activity, r.actor, *changes(r)) for r in records()) == sorted(
        [
            (str(second.pk), "updated", "admin", change("enabled", "changed", False, True)),
            (str(first.pk), "updated", "admin", change("enabled", "changed", True, False)),
            (str(second.pk), "updated", "admin", change("enabled", "changed", True, False)),
        ]
    )
    assert {r.user for r in records()} == {admin_user}


def test_admin_delete_selected_records_each_config(admin_client, tenant):
    first = make_config(tenant.project)
    second = make_config(tenant.project, "zendesk", "ticket")
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert sorted((r.item_id, r.activity) for r in records()) == sorted(
        [(str(first.pk), "deleted"), (str(second.pk), "deleted")]
    )


def test_create_api_key_accepts_the_activity_log_scope(tenant):
    run("create_api_key", tenant.user.email, "--scopes", "activity_log:read")
    assert tenant.user.api_keys.filter(scopes=["activity_log:read"]).exists()


def test_a_put_through_the_shared_update_path_is_recorded(tenant):
    """PUT is not on the published route, but a route that offers it inherits `perform_update` and
    so records like a PATCH."""
    from rest_framework.test import APIRequestFactory

    from signalsource.views import SignalSourceConfigViewSet

    class WithPut(SignalSourceConfigViewSet):
        http_method_names = [*SignalSourceConfigViewSet.http_method_names, "put"]

    config = make_config(tenant.project, config={"steering": "a"})
    request = APIRequestFactory().put(
        "/",
        {"source_product": "github", "source_type": "issue", "enabled": False, "config": {"steering": "b"}},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}",
    )
    response = WithPut.as_view({"put": "update"})(request, project_id=str(tenant.project.id), pk=str(config.pk))
    assert response.status_code == 200, response.data
    [record] = records(config.pk)
    assert (record.activity, record.actor, record.user) == ("updated", tenant.api_key.mask, tenant.user)
    assert changes(record) == {
        change("enabled", "changed", True, False),
        change("config.steering", "changed", "a", "b"),
    }


def test_a_details_stored_form_is_dataclasses_asdict():
    detail = Detail(
        name="GitHub issues",
        type="signal_source_config",
        changes=[
            Change(type="SignalSourceConfig", action="changed", field="config", before={"a": [1, {"b": 2}]}, after={}),
            Change(type="SignalSourceConfig", action="created", field="enabled", after=True),
        ],
        context={"source_product": "github"},
    )

    assert detail.as_json() == asdict(detail)
    assert list(detail.as_json()) == list(asdict(detail))
    assert Detail().as_json() == asdict(Detail())
