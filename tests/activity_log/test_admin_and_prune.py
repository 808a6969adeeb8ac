"""The activity log in the admin (read-only) and its pruning command (issue 16)."""

import datetime

import pytest
from django.core.management import CommandError
from django.utils import timezone

from activity_log.models import ActivityLog
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import admin_url, changelist_rows, configs_url, make_config, make_project, run, run_cli

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def test_a_configs_history_page_shows_its_records_from_every_writer(admin_client, tenant):
    response = tenant.client.post(
        tenant.url,
        {"source_product": "github", "source_type": "issue", "config": {"steering": "<b>old</b>"}},
        format="json",
    )
    config = SignalSourceConfig.objects.get(pk=response.json()["id"])
    tenant.client.patch(configs_url(tenant.project.id, config.pk), {"config": {"steering": "new"}}, format="json")
    services.set_status(config, "running")
    other = make_config(tenant.project, "linear", "issue")
    services.update_config(other, enabled=False)

    response = admin_client.get(admin_url("signalsource_signalsourceconfig_history", config.pk))
    assert response.status_code == 200
    records = response.context["activity_records"]
    assert [r.activity for r in records] == ["status_changed", "updated", "created"]
    assert response.text.count('class="activity-record"') == 3
    assert tenant.api_key.mask in response.text and "system" in response.text
    assert "&quot;&lt;b&gt;old&lt;/b&gt;&quot; → &quot;new&quot;" in response.text  # escaped JSON values
    assert "<b>old</b>" not in response.text
    assert f"item_id={config.pk}" in response.text  # the link to all of its records
    assert "change history" not in response.text  # the activity log only, not Django's history under it


def test_operators_browse_and_filter_every_record(admin_client, tenant):
    github = make_config(tenant.project)
    services.update_config(github, enabled=False)
    other_project = make_project()
    linear = make_config(other_project, "linear", "issue")
    services.set_status(linear, "failed")

    changelist = admin_url("activity_log_activitylog_changelist")

    def found(**params):
        response = admin_client.get(changelist, params)
        assert response.status_code == 200
        return {(r.item_id, r.activity) for r in changelist_rows(response)}

    assert found() == {(str(github.pk), "updated"), (str(linear.pk), "status_changed")}
    assert found(activity__exact="updated") == {(str(github.pk), "updated")}
    assert found(project__id__exact=other_project.pk) == {(str(linear.pk), "status_changed")}
    assert found(q=str(linear.pk)) == {(str(linear.pk), "status_changed")}
    assert found(is_system__exact="1") == found()

    record = ActivityLog.objects.get(activity="status_changed")
    response = admin_client.get(admin_url("activity_log_activitylog_change", record.pk))
    assert response.status_code == 200
    assert "failed" in response.text and 'name="_save"' not in response.text


def test_record_times_show_their_zone(admin_client, tenant):
    config = make_config(tenant.project)
    services.update_config(config, enabled=False)
    record = ActivityLog.objects.get()
    shown = f"{record.created_at:%Y-%m-%d %H:%M:%S} UTC"

    assert shown in admin_client.get(admin_url("activity_log_activitylog_changelist")).text
    assert shown in admin_client.get(admin_url("activity_log_activitylog_change", record.pk)).text
    assert shown in admin_client.get(admin_url("signalsource_signalsourceconfig_history", config.pk)).text


def test_no_one_adds_changes_or_deletes_records_in_the_admin(admin_client, tenant):
    config = make_config(tenant.project)
    services.update_config(config, enabled=False)
    record = ActivityLog.objects.get()
    assert admin_client.get(admin_url("activity_log_activitylog_add")).status_code == 403
    assert (
        admin_client.post(admin_url("activity_log_activitylog_delete", record.pk), {"post": "yes"}).status_code == 403
    )
    response = admin_client.post(admin_url("activity_log_activitylog_change", record.pk), {"activity": "created"})
    assert response.status_code == 403
    response = admin_client.post(
        admin_url("activity_log_activitylog_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    record.refresh_from_db()
    assert record.activity == "updated"
    assert ActivityLog.objects.count() == 1


# --- prune_activity_log ---------------------------------------------------------------------------------


def _records_at(project, *days):
    config = make_config(project)
    for day in days:
        services.update_config(config, enabled=not config.enabled)
        record = ActivityLog.objects.order_by("-created_at", "-id").first()
        ActivityLog.objects.filter(pk=record.pk).update(
            created_at=datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        )


def test_prune_deletes_only_records_before_the_date_in_batches(tenant):
    _records_at(tenant.project, *(datetime.date(2025, 1, d) for d in (1, 2, 3, 4, 5)))
    stdout, _ = run("prune_activity_log", "--before", "2025-01-04", "--dry-run")
    assert "Dry run: 3 record(s)" in stdout
    assert ActivityLog.objects.count() == 5

    stdout, _ = run("prune_activity_log", "--before", "2025-01-04", "--batch-size", "2")
    assert "2/3 deleted" in stdout and "3/3 deleted" in stdout and "Deleted 3 record(s)." in stdout
    assert sorted(r.created_at.date() for r in ActivityLog.objects.all()) == [
        datetime.date(2025, 1, 4),
        datetime.date(2025, 1, 5),
    ]


# run_cli closes the connections as manage.py does, which would end a test transaction.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--before", "04/01/2025"], "--before must be a date as YYYY-MM-DD"),
        (["--before", "2025-01-04", "--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--before", (timezone.now() + datetime.timedelta(days=2)).date().isoformat()], "is in the future"),
    ],
)
def test_prune_refuses_bad_arguments_and_deletes_nothing(tenant, args, message):
    _records_at(tenant.project, datetime.date(2025, 1, 1))
    status, _, stderr = run_cli("activity_log", "prune_activity_log", *args)
    assert status != 0 and message in stderr
    assert ActivityLog.objects.count() == 1


def test_prune_needs_a_date(tenant):
    with pytest.raises(CommandError, match="the following arguments are required: --before"):
        run("prune_activity_log")
