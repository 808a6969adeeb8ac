"""Processing runs (issue 27): processors start, report and finish runs under
`signals/source_configs/{id}/runs/`, and the config's `status` follows them with PostHog's
precedence; a run whose heartbeat stops counts as failed without anyone calling.

"Time passes" here by moving the stored times back (no test waits)."""

from datetime import timedelta
from uuid import UUID

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from activity_log.models import ActivityLog
from signalsource import activity, runs
from signalsource.models import SignalSourceConfig, SignalSourceRun
from tests.helpers import (
    PUBLISHED_ROUTE,
    SIGNALS_ROUTE,
    assert_error,
    configs_url,
    key_client,
    make_config,
    make_key,
)
from tests.helpers import (
    run as run_command,
)

pytestmark = pytest.mark.django_db


def runs_url(tenant, config_id, run_id=None):
    base = configs_url(tenant.project.id, config_id, route=SIGNALS_ROUTE) + "runs/"
    return f"{base}{run_id}/" if run_id else base


def status_on_both_routes(tenant, config_id):
    shown = {
        route: tenant.client.get(configs_url(tenant.project.id, config_id, route=route)).json()["status"]
        for route in (PUBLISHED_ROUTE, SIGNALS_ROUTE)
    }
    listed = {
        route: next(
            row["status"]
            for row in tenant.client.get(configs_url(tenant.project.id, route=route)).json()["results"]
            if row["id"] == str(config_id)
        )
        for route in (PUBLISHED_ROUTE, SIGNALS_ROUTE)
    }
    assert len(set(shown.values()) | set(listed.values())) == 1, (shown, listed)
    return shown[PUBLISHED_ROUTE]


def start(tenant, config, **body):
    response = tenant.client.post(runs_url(tenant, config.id), {"state": "running", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def report(tenant, config, run_id, **body):
    return tenant.client.patch(runs_url(tenant, config.id, run_id), body, format="json")


def finish(tenant, config, run_id, state="completed", **body):
    if state == "failed":
        body.setdefault("error", {"code": "upstream_down", "message": "GitHub answered 502"})
    response = report(tenant, config, run_id, state=state, **body)
    assert response.status_code == 200, response.json()
    return response.json()


def stored_run(run_id) -> dict:
    return SignalSourceRun.objects.filter(pk=run_id).values().get()


def time_passes(delta):
    """Every stored run and heartbeat moves `delta` into the past, as if that much time went by."""
    for run in SignalSourceRun.objects.all():
        SignalSourceRun.objects.filter(pk=run.pk).update(
            started_at=run.started_at - delta,
            heartbeat_at=run.heartbeat_at - delta,
            finished_at=run.finished_at and run.finished_at - delta,
            last_signal_at=run.last_signal_at and run.last_signal_at - delta,
        )
    for config in SignalSourceConfig.objects.exclude(run_heartbeat_at=None):
        SignalSourceConfig.objects.filter(pk=config.pk).update(run_heartbeat_at=config.run_heartbeat_at - delta)


@pytest.fixture
def config(tenant):
    return make_config(tenant.project)


# --- Starting, reporting, finishing ----------------------------------------------------------------


def test_a_run_starts_running_and_the_status_follows(tenant, config):
    assert status_on_both_routes(tenant, config.id) is None

    run = start(tenant, config)

    assert set(run) == {
        "id", "state", "started_at", "finished_at", "heartbeat_at", "error", "items_processed", "signals_emitted",
    }  # fmt: skip
    assert run["state"] == "running"
    assert run["finished_at"] is None and run["error"] is None
    assert run["items_processed"] == run["signals_emitted"] == 0
    assert status_on_both_routes(tenant, config.id) == "running"


def test_progress_moves_the_heartbeat_and_counters_grow(tenant, config):
    run = start(tenant, config)
    SignalSourceRun.objects.filter(pk=run["id"]).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    response = report(tenant, config, run["id"], items_processed=10, signals_emitted=2)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["items_processed"] == 10 and body["signals_emitted"] == 2
    assert body["heartbeat_at"] > run["heartbeat_at"]
    down = report(tenant, config, run["id"], items_processed=9)
    assert_error(down, 400, "validation_error", "decreased", attr="items_processed")
    assert SignalSourceRun.objects.get(pk=run["id"]).items_processed == 10


@pytest.mark.parametrize("state", ["completed", "failed"])
def test_finishing_sets_the_status_and_the_run_is_then_immutable(tenant, config, state):
    run = start(tenant, config)

    finished = finish(tenant, config, run["id"], state)

    assert finished["state"] == state and finished["finished_at"] is not None
    assert status_on_both_routes(tenant, config.id) == state
    stored = stored_run(run["id"])
    for body in ({"items_processed": 5}, {"state": "completed"}, {"state": "running"}):
        assert_error(report(tenant, config, run["id"], **body), 409, "invalid_request", "run_finished")
    assert stored_run(run["id"]) == stored


def test_a_failed_run_keeps_its_error(tenant, config):
    run = start(tenant, config)
    error = {"code": "rate_limited", "message": "Too many requests to the Linear API"}

    assert finish(tenant, config, run["id"], "failed", error=error)["error"] == error
    assert tenant.client.get(runs_url(tenant, config.id, run["id"])).json()["error"] == error


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({"state": "paused"}, "invalid_choice", "state"),
        ({"state": "failed"}, "required", "error"),
        ({"state": "failed", "error": {"code": "x"}}, "required", "error"),
        ({"state": "failed", "error": {"code": "x", "message": ""}}, "blank", "error__message"),
        ({"state": "failed", "error": {"code": "x", "message": "m" * 4100}}, "too_large", "error"),
        ({"state": "failed", "error": "boom"}, "invalid_input", "error__non_field_errors"),
        ({"state": "completed", "error": {"code": "x", "message": "m"}}, "not_failed", "error"),
        ({"error": {"code": "x", "message": "m"}}, "not_failed", "error"),
        ({"finished_at": "2026-01-01T00:00:00Z"}, "not_finishing", "finished_at"),
        ({"state": "completed", "finished_at": "2999-01-01T00:00:00Z"}, "future", "finished_at"),
        ({"state": "completed", "finished_at": "2000-01-01T00:00:00Z"}, "before_start", "finished_at"),
        ({"state": "completed", "finished_at": "yesterday"}, "invalid_input", "finished_at"),
        ({"items_processed": -1}, "min_value", "items_processed"),
        ({"signals_emitted": "many"}, "invalid_input", "signals_emitted"),
    ],
)
def test_bad_reports_are_refused_and_change_nothing(tenant, config, body, code, attr):
    run = start(tenant, config)
    before = stored_run(run["id"])

    assert_error(report(tenant, config, run["id"], **body), 400, "validation_error", code, attr=attr)

    assert stored_run(run["id"]) == before
    assert status_on_both_routes(tenant, config.id) == "running"


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({"state": "completed"}, "invalid_choice", "state"),
        ({}, "required", "state"),
        ({"state": "running", "started_at": "2999-01-01T00:00:00Z"}, "future", "started_at"),
        ({"state": "running", "started_at": "soon"}, "invalid_input", "started_at"),
    ],
)
def test_bad_starts_are_refused_and_create_nothing(tenant, config, body, code, attr):
    response = tenant.client.post(runs_url(tenant, config.id), body, format="json")

    assert_error(response, 400, "validation_error", code, attr=attr)
    assert not SignalSourceRun.objects.exists()


def test_a_start_time_in_the_past_is_kept(tenant, config):
    run = start(tenant, config, started_at="2026-01-01T00:00:00Z")
    assert run["started_at"] == "2026-01-01T00:00:00Z"


def test_the_list_is_newest_first_and_paginated(tenant, config):
    ids = []
    for day in range(1, 4):
        run = start(tenant, config, started_at=f"2026-01-0{day}T00:00:00Z")
        finish(tenant, config, run["id"])
        ids.append(run["id"])

    page = tenant.client.get(runs_url(tenant, config.id), {"limit": 2}).json()

    assert page["count"] == 3
    assert [row["id"] for row in page["results"]] == ids[::-1][:2]
    assert page["next"] is not None


def test_idempotency_key_makes_a_retried_start_safe(tenant, config):
    headers = {"HTTP_IDEMPOTENCY_KEY": "run-2026-12-03"}
    first = tenant.client.post(runs_url(tenant, config.id), {"state": "running"}, format="json", **headers)
    again = tenant.client.post(runs_url(tenant, config.id), {"state": "running"}, format="json", **headers)

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert SignalSourceRun.objects.count() == 1


# --- The status's precedence ----------------------------------------------------------------------


def test_a_running_run_wins_over_a_later_finished_one(tenant, config):
    first = start(tenant, config)
    second = start(tenant, config)
    finish(tenant, config, second["id"], "failed")

    assert status_on_both_routes(tenant, config.id) == "running"
    finish(tenant, config, first["id"], "completed")
    assert status_on_both_routes(tenant, config.id) == "completed"  # the run that finished last


def test_the_status_is_the_state_of_the_run_that_finished_last(tenant, config):
    early = start(tenant, config, started_at="2026-01-01T00:00:00Z")
    late = start(tenant, config, started_at="2026-01-02T00:00:00Z")
    finish(tenant, config, late["id"], "completed", finished_at="2026-01-03T00:00:00Z")
    finish(tenant, config, early["id"], "failed", finished_at="2026-01-02T12:00:00Z")

    assert status_on_both_routes(tenant, config.id) == "completed"


def test_a_status_change_is_recorded_once_and_a_heartbeat_is_not(tenant, config):
    run = start(tenant, config)
    version = SignalSourceConfig.objects.get(pk=config.pk).version
    for count in range(1, 4):
        assert report(tenant, config, run["id"], items_processed=count).status_code == 200
    assert SignalSourceConfig.objects.get(pk=config.pk).version == version  # the ETag stays put
    finish(tenant, config, run["id"])

    records = ActivityLog.objects.filter(item_id=str(config.id), activity=activity.STATUS_CHANGED).order_by(
        "created_at"
    )
    assert [record.detail["changes"][0]["after"] for record in records] == ["running", "completed"]
    another = start(tenant, config)
    finish(tenant, config, another["id"])  # running, then completed again: two more records
    assert records.all().count() == 4


# --- Stale runs -----------------------------------------------------------------------------------


def test_a_stale_run_turns_the_status_to_failed_without_any_call(tenant, config):
    completed = start(tenant, config)
    finish(tenant, config, completed["id"])
    run = start(tenant, config)
    assert status_on_both_routes(tenant, config.id) == "running"

    time_passes(settings.RUN_STALE_AFTER - timedelta(seconds=5))
    assert status_on_both_routes(tenant, config.id) == "running"
    time_passes(timedelta(seconds=10))

    assert status_on_both_routes(tenant, config.id) == "failed"
    shown = tenant.client.get(runs_url(tenant, config.id, run["id"])).json()
    assert shown["state"] == "failed" and shown["error"]["code"] == "stale"
    assert_error(report(tenant, config, run["id"], items_processed=1), 409, "invalid_request", "run_finished")
    assert SignalSourceRun.objects.get(pk=run["id"]).state == "running"  # nothing was written


def test_a_fresh_run_beside_a_stale_one_keeps_the_status_running(tenant, config):
    start(tenant, config)
    time_passes(settings.RUN_STALE_AFTER * 2)
    start(tenant, config)

    assert status_on_both_routes(tenant, config.id) == "running"


@override_settings(RUN_STALE_AFTER=timedelta(hours=2))
def test_the_stale_time_is_a_setting(tenant, config):
    start(tenant, config)
    time_passes(timedelta(hours=1))
    assert status_on_both_routes(tenant, config.id) == "running"


def test_reads_cost_no_more_queries_with_runs(tenant, config):
    others = [make_config(tenant.project, "linear", "issue"), make_config(tenant.project, "zendesk", "ticket")]
    for each in [config, *others]:
        start(tenant, each)
    time_passes(settings.RUN_STALE_AFTER * 2)
    start(tenant, others[0])
    urls = [configs_url(tenant.project.id, route=route) for route in (PUBLISHED_ROUTE, SIGNALS_ROUTE)]
    urls += [configs_url(tenant.project.id, config.id, route=route) for route in (PUBLISHED_ROUTE, SIGNALS_ROUTE)]
    with override_settings(RATE_LIMITS_ENABLED=False):
        tenant.client.get(urls[0])  # the key's last_used_at, written once an hour
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert tenant.client.get(url).status_code == 200
            assert len(queries) == 2, [query["sql"] for query in queries]  # test_query_counts.READ_LIMIT


# --- Tenancy, scopes, deletion --------------------------------------------------------------------


def test_runs_of_another_projects_config_are_404(tenant, other_tenant, config):
    run = start(tenant, config)
    theirs = runs_url(other_tenant, config.id)
    for response in (
        other_tenant.client.get(theirs),
        other_tenant.client.post(theirs, {"state": "running"}, format="json"),
        other_tenant.client.get(runs_url(other_tenant, config.id, run["id"])),
        other_tenant.client.patch(runs_url(other_tenant, config.id, run["id"]), {"state": "completed"}, format="json"),
    ):
        assert_error(response, 404, "invalid_request", "not_found")
    # A run under another config of one's own project is 404 too.
    mine = make_config(tenant.project, "linear", "issue")
    assert_error(tenant.client.get(runs_url(tenant, mine.id, run["id"])), 404, "invalid_request", "not_found")
    assert_error(tenant.client.get(runs_url(tenant, "not-a-uuid")), 404, "invalid_request", "not_found")
    assert SignalSourceRun.objects.get(pk=run["id"]).state == "running"


def test_scopes_read_lists_write_reports(tenant, config):
    run = start(tenant, config)
    _, raw_read = make_key(tenant.user, ("task:read",))
    reader = key_client(raw_read)

    assert reader.get(runs_url(tenant, config.id)).status_code == 200
    assert reader.get(runs_url(tenant, config.id, run["id"])).status_code == 200
    refused = reader.post(runs_url(tenant, config.id), {"state": "running"}, format="json")
    assert_error(refused, 403, detail="API key missing required scope 'task:write'")
    refused = reader.patch(runs_url(tenant, config.id, run["id"]), {"state": "completed"}, format="json")
    assert_error(refused, 403, detail="API key missing required scope 'task:write'")
    assert_error(key_client().get(runs_url(tenant, config.id)), 401, code="not_authenticated")


def test_runs_live_under_todays_route_only(tenant, config):
    published = configs_url(tenant.project.id, config.id, route=PUBLISHED_ROUTE) + "runs/"
    assert_error(tenant.client.post(published, {"state": "running"}, format="json"), 404)


@pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])
def test_deleting_a_config_deletes_its_runs(tenant, config, route):
    start(tenant, config)
    keep = make_config(tenant.project, "linear", "issue")
    start(tenant, keep)

    assert tenant.client.delete(configs_url(tenant.project.id, config.id, route=route)).status_code == 204

    assert list(SignalSourceRun.objects.values_list("config_id", flat=True)) == [keep.id]


def test_the_service_starts_and_finishes_runs_for_any_caller(config):
    run = runs.start_run(config)
    runs.report_run(run, state="failed", error={"code": "boom", "message": "It broke"})

    assert SignalSourceConfig.objects.get(pk=config.pk).status == "failed"
    with pytest.raises(runs.RunFinished):
        runs.report_run(run, items_processed=1)


# --- Health ---------------------------------------------------------------------------------------


def health_url(tenant):
    return configs_url(tenant.project.id, route=SIGNALS_ROUTE) + "health/"


def health_rows(tenant, **params):
    response = tenant.client.get(health_url(tenant), params)
    assert response.status_code == 200, response.json()
    return {row["id"]: row for row in response.json()}


def test_health_states(tenant):
    never_ran = make_config(tenant.project, "github", "issue")
    disabled = make_config(tenant.project, "linear", "issue", enabled=False)
    healthy = make_config(tenant.project, "zendesk", "ticket")
    failing = make_config(tenant.project, "llm_analytics", "evaluation")
    stale = make_config(tenant.project, "session_replay", "session_analysis_cluster")
    start(tenant, disabled)
    run = start(tenant, healthy)
    finish(tenant, healthy, run["id"], signals_emitted=3, items_processed=7)
    for _ in range(2):
        run = start(tenant, failing)
        finish(tenant, failing, run["id"], "failed")
    start(tenant, stale)
    time_passes(settings.RUN_STALE_AFTER * 2)
    run = start(tenant, healthy)  # a fresh run besides
    rows = health_rows(tenant)

    assert {rows[str(config.id)]["state"] for config in (never_ran,)} == {"never_ran"}
    assert rows[str(disabled.id)]["state"] == "disabled"
    assert rows[str(healthy.id)]["state"] == "healthy"
    assert rows[str(healthy.id)]["last_signal_at"] is not None
    assert rows[str(healthy.id)]["last_run"]["state"] == "running"
    assert rows[str(failing.id)]["state"] == "failing"
    assert rows[str(failing.id)]["consecutive_failures"] == 2
    assert rows[str(failing.id)]["last_error"] == {"code": "upstream_down", "message": "GitHub answered 502"}
    assert rows[str(stale.id)]["state"] == "stale"
    assert rows[str(stale.id)]["status"] == "failed"
    assert rows[str(stale.id)]["last_error"]["code"] == "stale"
    assert set(rows[str(never_ran.id)]) == {
        "id", "source_product", "source_type", "enabled", "status", "last_run", "last_success_at",
        "last_failure_at", "last_error", "consecutive_failures", "last_signal_at", "state",
    }  # fmt: skip
    assert list(health_rows(tenant, state="failing")) == [str(failing.id)]
    assert health_rows(tenant, state="dormant") == {}


def test_a_success_resets_the_consecutive_failures(tenant, config):
    for state in ("failed", "failed", "completed", "failed"):
        run = start(tenant, config)
        finish(tenant, config, run["id"], state, signals_emitted=1)
    row = health_rows(tenant)[str(config.id)]
    assert row["consecutive_failures"] == 1 and row["last_success_at"] is not None


def test_a_source_whose_runs_succeed_without_signals_goes_dormant(tenant, config):
    run = start(tenant, config)
    finish(tenant, config, run["id"], signals_emitted=4)
    time_passes(settings.DORMANT_AFTER - timedelta(hours=1))
    for _ in range(2):
        run = start(tenant, config)
        finish(tenant, config, run["id"], items_processed=100)  # processed, emitted nothing new
    assert health_rows(tenant)[str(config.id)]["state"] == "healthy"

    time_passes(timedelta(hours=2))

    assert health_rows(tenant)[str(config.id)]["state"] == "dormant"
    assert list(health_rows(tenant, state="dormant")) == [str(config.id)]


def test_health_refuses_an_unknown_state_and_is_tenant_scoped(tenant, other_tenant, config):
    start(tenant, config)
    assert_error(
        tenant.client.get(health_url(tenant), {"state": "sad"}), 400, "validation_error", "invalid_choice", attr="state"
    )
    assert other_tenant.client.get(health_url(other_tenant)).json() == []
    _, raw_read = make_key(tenant.user, ("task:read",))
    assert key_client(raw_read).get(health_url(tenant)).status_code == 200
    assert_error(other_tenant.client.get(health_url(tenant)), 403)
    # The published route has no health: `health` is no config id there.
    assert_error(tenant.client.get(configs_url(tenant.project.id) + "health/"), 404)


def test_health_costs_the_same_queries_for_many_configs(tenant):
    def count():
        with override_settings(RATE_LIMITS_ENABLED=False), CaptureQueriesContext(connection) as queries:
            assert tenant.client.get(health_url(tenant)).status_code == 200
        return len(queries)

    first = make_config(tenant.project, "github", "issue")
    finish(tenant, first, start(tenant, first)["id"])
    count()
    few = count()
    for product, type_ in (("linear", "issue"), ("zendesk", "ticket"), ("llm_analytics", "evaluation")):
        more = make_config(tenant.project, product, type_)
        finish(tenant, more, start(tenant, more)["id"], "failed")
    assert count() == few


# --- Retention ------------------------------------------------------------------------------------


def test_prune_deletes_old_runs_but_the_latest_of_each_config_with_progress(tenant, config):
    other = make_config(tenant.project, "linear", "issue")
    for _ in range(3):
        finish(tenant, config, start(tenant, config)["id"])
    finish(tenant, other, start(tenant, other)["id"])
    time_passes(timedelta(days=settings.RUNS_RETENTION_DAYS, hours=1))
    recent = start(tenant, config)
    old_latest_of_other = SignalSourceRun.objects.get(config=other).id

    dry, _ = run_command("prune_runs", "--dry-run")
    assert "3 run(s)" in dry and SignalSourceRun.objects.count() == 5
    out, _ = run_command("prune_runs", "--batch-size", "2")

    assert out.splitlines()[1:] == ["  2/3 deleted", "  3/3 deleted", "Deleted 3 run(s)."]
    assert set(SignalSourceRun.objects.values_list("id", flat=True)) == {UUID(recent["id"]), old_latest_of_other}
    assert run_command("prune_runs")[0].endswith("Deleted 0 run(s).\n")
