"""How a source is doing, read from its processing runs: the config's `status` (PostHog's precedence)
and the health row of `GET .../signals/source_configs/health/`.

The status's rule: a running run wins; else the state of the run that finished last; null when
there are no runs. A running run whose last heartbeat is older than `RUN_STALE_AFTER` counts as
failed (`error.code` "stale"), finished at that heartbeat. The runs' services (`runs.py`) store the
parts of the rule on the config row whenever a run changes (`derived_status`); a read then works out
the status from the row alone (`shown_status`), so that a stale run turns it without anyone calling
and without a query per row.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Min, Q
from django.utils import timezone

from .models import ProcessingStatus, SignalSourceConfig, SignalSourceRun

STALE_CODE = "stale"
FAILED, COMPLETED, RUNNING = ProcessingStatus.FAILED, ProcessingStatus.COMPLETED, ProcessingStatus.RUNNING


def stale_before(now: datetime | None = None) -> datetime:
    """A running run whose heartbeat is older than this is stale."""
    return (now or timezone.now()) - settings.RUN_STALE_AFTER


def is_stale(run: SignalSourceRun, now: datetime | None = None) -> bool:
    return run.state == RUNNING and run.heartbeat_at < stale_before(now)


def stale_error(run: SignalSourceRun) -> dict:
    minutes = int(settings.RUN_STALE_AFTER.total_seconds() // 60)
    return {"code": STALE_CODE, "message": f"No heartbeat for {minutes} minutes since {run.heartbeat_at.isoformat()}."}


def shown_state(run: SignalSourceRun, now: datetime | None = None) -> tuple[str, dict | None]:
    """The run's state and error as a client sees them: a stale run is failed."""
    if is_stale(run, now):
        return FAILED, stale_error(run)
    return run.state, run.error


@dataclass(frozen=True)
class DerivedStatus:
    """The parts of the status rule a config row stores (see the module's docstring)."""

    status: str | None
    run_heartbeat_at: datetime | None
    status_if_stale: str | None

    def as_fields(self) -> dict:
        return {
            "status": self.status,
            "run_heartbeat_at": self.run_heartbeat_at,
            "status_if_stale": self.status_if_stale,
        }


def derived_status(config_id) -> DerivedStatus:
    """The status's parts from the config's runs (two indexed queries). A running run counts as
    running here, however old its heartbeat: `shown_status` applies the stale rule at read time."""
    runs = SignalSourceRun.objects.filter(config_id=config_id)
    heartbeat = runs.filter(state=RUNNING).aggregate(latest=Max("heartbeat_at"))["latest"]
    last_finished = (
        runs.exclude(state=RUNNING).order_by("-finished_at", "-id").values_list("state", "finished_at").first()
    )
    if heartbeat is None:
        return DerivedStatus(last_finished[0] if last_finished else None, None, None)
    # Once every running run is stale, they count as failed at their heartbeats: failed, unless a
    # run finished after the latest of those heartbeats.
    if_stale = last_finished[0] if last_finished is not None and last_finished[1] > heartbeat else FAILED
    return DerivedStatus(RUNNING, heartbeat, if_stale)


def shown_status(config: SignalSourceConfig, now: datetime | None = None) -> str | None:
    """The config's status as the API shows it, from the row alone."""
    if config.status == RUNNING and config.run_heartbeat_at is not None and config.run_heartbeat_at < stale_before(now):
        return config.status_if_stale
    return config.status


# --- Health ---------------------------------------------------------------------------------------

DISABLED, NEVER_RAN, HEALTHY, FAILING, STALE, DORMANT = (
    "disabled",
    "never_ran",
    "healthy",
    "failing",
    "stale",
    "dormant",
)
# What each state means (the API description says it; the order is the order of the checks).
STATES = {
    DISABLED: "The config is disabled (whatever its runs).",
    NEVER_RAN: "Enabled, and no run was ever reported.",
    STALE: "Enabled, its latest run is running, and its heartbeat is older than RUN_STALE_AFTER.",
    FAILING: "Enabled, and its latest finished run failed (a stale run counts as failed).",
    DORMANT: "Enabled, runs succeed, but no run emitted a signal for DORMANT_AFTER (or ever, once "
    "its first run is that old).",
    HEALTHY: "Enabled, running or its latest finished run completed, and signals within DORMANT_AFTER.",
}

STATE_NAMES = tuple(STATES)


@dataclass
class Health:
    config: SignalSourceConfig
    status: str | None
    last_run: SignalSourceRun | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: dict | None
    consecutive_failures: int
    last_signal_at: datetime | None
    state: str


def _finish_time(run: SignalSourceRun, now: datetime) -> datetime | None:
    """When the run ended as the status sees it: its finish, or its heartbeat for a stale run."""
    if run.state != RUNNING:
        return run.finished_at
    return run.heartbeat_at if is_stale(run, now) else None


def health_of(configs: list[SignalSourceConfig], now: datetime | None = None) -> list[Health]:
    """Each config's health, in three queries for the whole list: the configs' runs newest first
    (for the latest of each), per config its last success, last signal and first run, and its runs
    that did not complete (for the failures)."""
    now = now or timezone.now()
    ids = [config.pk for config in configs]
    latest_runs = {}
    # The latest run of each config (by start): one query, the configs' runs newest first, the first seen kept.
    for run in SignalSourceRun.objects.filter(config_id__in=ids).order_by("config_id", "-started_at", "-id"):
        latest_runs.setdefault(run.config_id, run)
    summary = {
        row["config_id"]: row
        for row in SignalSourceRun.objects.filter(config_id__in=ids)
        .values("config_id")
        .annotate(
            last_success_at=Max("finished_at", filter=Q(state=COMPLETED)),
            last_signal_at=Max("last_signal_at"),
            first_started_at=Min("started_at"),
        )
    }
    # The failures (failed runs, and stale ones at their heartbeats): only the runs not completed are read.
    failures: dict = {config_id: [] for config_id in ids}
    unsettled = SignalSourceRun.objects.filter(config_id__in=ids).exclude(state=COMPLETED)
    for run in unsettled.only("id", "config_id", "state", "heartbeat_at", "finished_at", "error"):
        ended = _finish_time(run, now)
        if ended is not None:
            failures[run.config_id].append((ended, run))
    rows = []
    for config in configs:
        row = summary.get(config.pk, {})
        last_success_at = row.get("last_success_at")
        failed = sorted(failures[config.pk], key=lambda pair: pair[0])
        last_failure_at, last_failure = failed[-1] if failed else (None, None)
        health = Health(
            config=config,
            status=shown_status(config, now),
            last_run=latest_runs.get(config.pk),
            last_success_at=last_success_at,
            last_failure_at=last_failure_at,
            last_error=shown_state(last_failure, now)[1] if last_failure else None,
            consecutive_failures=sum(1 for ended, _ in failed if last_success_at is None or ended > last_success_at),
            last_signal_at=row.get("last_signal_at"),
            state="",
        )
        health.state = _state(health, row.get("first_started_at"), now)
        rows.append(health)
    return rows


def _state(health: Health, first_started_at: datetime | None, now: datetime) -> str:
    if not health.config.enabled:
        return DISABLED
    if health.last_run is None:
        return NEVER_RAN
    if is_stale(health.last_run, now):
        return STALE
    if health.status == FAILED:
        return FAILING
    # Quiet since its last signal, or since its first run when it never emitted one.
    quiet_since = health.last_signal_at or first_started_at
    if quiet_since is not None and quiet_since < now - settings.DORMANT_AFTER:
        return DORMANT
    return HEALTHY
