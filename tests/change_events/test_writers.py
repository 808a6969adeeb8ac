"""Every writer of a config (both API routes, PUT, merge patch, the admin and its bulk actions,
`set_status`) makes exactly one change event, of the right type, showing the config as the API
returns it after the change; a write that is refused or changes nothing makes none."""

import pytest

from activity_log.models import ActivityLog
from activity_log.services import Actor
from change_events.models import ChangeEvent
from change_events.services import as_cloudevent
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import SIGNALS_ROUTE, admin_url, configs_url, make_config

pytestmark = pytest.mark.django_db

GITHUB = {"source_product": "github", "source_type": "issue"}


def events() -> list[dict]:
    return [as_cloudevent(event) for event in ChangeEvent.objects.order_by("id")]


def shown(tenant, config_id) -> dict:
    response = tenant.client.get(configs_url(tenant.project.id, config_id, route=SIGNALS_ROUTE))
    assert response.status_code == 200
    return response.json()


def assert_one_event(tenant, config_id, type_, version, config):
    """The one event since the last call: its envelope, and its data against the activity record."""
    [event] = events()
    ChangeEvent.objects.all().delete()  # the next call sees only the next write's event
    record = ActivityLog.objects.order_by("-created_at").first()
    assert event == {
        "specversion": "1.0",
        "id": f"{config_id}:{version}",
        "source": f"/api/projects/{tenant.project.id}/signals/source_configs/{config_id}",
        "type": f"signal_source_config.{type_}",
        "subject": str(config_id),
        "time": event["time"],
        "datacontenttype": "application/json",
        "sequence": str(version).zfill(20),
        "partitionkey": str(config_id),
        "projectid": str(tenant.project.id),
        "data": {"config": config, "changes": record.detail["changes"], "actor": record.actor},
    }
    assert event["time"].endswith("Z")
    assert record.activity == type_ and record.item_id == str(config_id)


@pytest.mark.parametrize("route", ["signal_source_configs", SIGNALS_ROUTE])
def test_each_api_write_makes_one_event_showing_the_config_as_the_api_returns_it(tenant, route):
    url = configs_url(tenant.project.id, route=route)
    created = tenant.client.post(url, {**GITHUB, "config": {"a": 1}}, format="json")
    assert created.status_code == 201
    config_id = created.json()["id"]
    assert_one_event(tenant, config_id, "created", 1, shown(tenant, config_id))

    detail = configs_url(tenant.project.id, config_id, route=route)
    assert tenant.client.patch(detail, {"enabled": False}, format="json").status_code == 200
    assert_one_event(tenant, config_id, "updated", 2, shown(tenant, config_id))

    merge = tenant.client.generic(
        "PATCH", detail, b'{"config": {"a": null, "b": 2}}', content_type="application/merge-patch+json"
    )
    assert merge.status_code == 200
    assert_one_event(tenant, config_id, "updated", 3, shown(tenant, config_id))
    assert events() == []

    if route == SIGNALS_ROUTE:
        put = tenant.client.put(detail, {**GITHUB, "enabled": True}, format="json")
        assert put.status_code == 200
        assert_one_event(tenant, config_id, "updated", 4, shown(tenant, config_id))

    before = shown(tenant, config_id)
    assert tenant.client.delete(detail).status_code == 204
    assert_one_event(tenant, config_id, "deleted", before_version(route), before)


def before_version(route) -> int:
    # The delete's sequence follows the last write's version.
    return 5 if route == SIGNALS_ROUTE else 4


def test_set_status_and_commands_make_status_changed_events(tenant):
    config = make_config(tenant.project)
    services.set_status(config, "running", actor=Actor.command("processor"))
    assert_one_event(tenant, config.pk, "status_changed", 2, shown(tenant, config.pk))
    assert ActivityLog.objects.order_by("-created_at").first().actor == "processor"
    services.set_status(config, "running")  # nothing changes: no event
    assert events() == []


def test_a_write_that_changes_nothing_makes_no_event(tenant):
    config = make_config(tenant.project, enabled=True, config={"a": 1})
    detail = configs_url(tenant.project.id, config.pk)
    assert tenant.client.patch(detail, {"enabled": True, "config": {"a": 1}}, format="json").status_code == 200
    assert events() == []


def test_refused_writes_make_no_event(tenant):
    config = make_config(tenant.project)
    detail = configs_url(tenant.project.id, config.pk)
    assert tenant.client.patch(detail, {"enabled": "maybe"}, format="json").status_code == 400
    assert tenant.client.patch(detail, {"source_type": "pull_request"}, format="json").status_code == 400
    assert tenant.client.post(tenant.url, GITHUB, format="json").status_code == 400  # a duplicate
    stale = tenant.client.patch(detail, {"enabled": False}, format="json", HTTP_IF_MATCH='"99"')
    assert stale.status_code == 412
    assert tenant.client.delete(detail, HTTP_IF_MATCH='"99"').status_code == 412
    assert events() == []
    assert SignalSourceConfig.objects.get().version == 1


@pytest.mark.usefixtures("fast_password_hashing")
def test_each_admin_write_makes_one_event(admin_client, tenant):
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_add"),
        {"project": tenant.project.pk, "source": "github/issue", "config": "{}", "enabled": "on"},
    )
    assert response.status_code == 302
    config = SignalSourceConfig.objects.get()
    assert_one_event(tenant, config.pk, "created", 1, shown(tenant, config.pk))

    # The change form: an edit and a status change, two events in one save.
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk),
        {"config": '{"x": 1}', "enabled": "on", "status": "failed"},
    )
    assert response.status_code == 302
    assert [(e["type"], e["sequence"][-1]) for e in events()] == [
        ("signal_source_config.updated", "2"),
        ("signal_source_config.status_changed", "3"),
    ]
    assert events()[-1]["data"]["config"] == shown(tenant, config.pk)
    ChangeEvent.objects.all().delete()

    changelist = admin_url("signalsource_signalsourceconfig_changelist")
    other = make_config(tenant.project, source_type="pull_request")
    admin_client.post(changelist, {"action": "enable", "_selected_action": [config.pk, other.pk]})
    assert events() == []  # both enabled already
    admin_client.post(changelist, {"action": "disable", "_selected_action": [config.pk, other.pk]})
    assert sorted((e["subject"], e["type"]) for e in events()) == sorted(
        [(str(config.pk), "signal_source_config.updated"), (str(other.pk), "signal_source_config.updated")]
    )
    ChangeEvent.objects.all().delete()
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [config.pk, other.pk], "post": "yes"}
    )
    assert sorted((e["subject"], e["type"]) for e in events()) == sorted(
        [(str(config.pk), "signal_source_config.deleted"), (str(other.pk), "signal_source_config.deleted")]
    )
