"""Processing runs: the programs that process a source report each run (start, progress, finish), and
the config's `status` follows (`health.derived_status`, PostHog's precedence).

Every change of a run locks its config's row first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
IMMEDIATE transactions let one writer in at a time), then writes the run and the status parts it
derives, in one transaction: two processors reporting on one config at once are taken one after the
other, and the status is always the one the runs say. A status change is written through the
services (`services._save_at_version`: the version moves, an activity record `status_changed`);
a heartbeat that changes no status moves only the config's `run_heartbeat_at`, so the config's
ETag stays put while its representation does.

Errors are domain errors: `ValidationError` keyed by the field at fault, `RunFinished` (the API's
409) for a change to a finished run, `DoesNotExist`.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from activity_log.services import Actor
from api.exceptions import StateConflict
from change_events.services import take_order_lock
from common import sql

from . import activity, health, services
from .models import ProcessingStatus, SignalSourceConfig, SignalSourceRun

# How far ahead of the server's clock a reported time may be (processors' clocks drift).
CLOCK_SKEW = timedelta(minutes=5)
MAX_ERROR_BYTES = 4096
MAX_ERROR_CODE_LENGTH = 64
# A run starts running (the one state a start takes).
START_STATES = [(ProcessingStatus.RUNNING.value, ProcessingStatus.RUNNING.label)]
FINISHED_STATES = (ProcessingStatus.COMPLETED, ProcessingStatus.FAILED)
FINISHED_MESSAGE = "This run has finished; a finished run cannot change. Start a new run."
STALE_MESSAGE = "This run went stale (no heartbeat within RUN_STALE_AFTER) and counts as failed. Start a new run."


class RunFinished(StateConflict):
    code = "run_finished"


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _check_time(field: str, value: datetime, now: datetime, *, not_before: datetime | None = None) -> datetime:
    if value > now + CLOCK_SKEW:
        raise _error(field, f"{field} may not be in the future.", "future")
    if not_before is not None and value < not_before:
        raise _error(field, f"{field} may not be before started_at.", "before_start")
    return value


def _check_error(error) -> dict:
    if not isinstance(error, dict):
        raise _error("error", 'error must be an object {"code", "message"}.', "invalid")
    code, message = error.get("code"), error.get("message")
    if not isinstance(message, str) or not message.strip():
        raise _error("error", "error.message is required: a non-empty string.", "required")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_ERROR_CODE_LENGTH:
        raise _error(
            "error",
            f"error.code is required: a non-empty string of at most {MAX_ERROR_CODE_LENGTH} characters.",
            "required",
        )
    if "\x00" in code or "\x00" in message:
        raise _error("error", "error may not contain NUL characters.", "null_characters_not_allowed")
    cleaned = {"code": code, "message": message}
    if len(code.encode()) + len(message.encode()) > MAX_ERROR_BYTES:
        raise _error("error", f"error may be at most {MAX_ERROR_BYTES // 1024} KiB.", "too_large")
    return cleaned


def _locked_config(config_id) -> SignalSourceConfig:
    """The config, its row locked until the transaction ends (the caller's `transaction.atomic`).
    The change feed's order lock comes first, as in every write of a config (`change_events.services`)."""
    take_order_lock(router.db_for_write(SignalSourceConfig))
    return SignalSourceConfig.objects.select_for_update().get(pk=config_id)


def _follow_runs(config: SignalSourceConfig, actor: Actor | None) -> None:
    """Writes the status parts the config's runs now give, if they changed (the row is locked)."""
    derived = health.derived_status(config.pk).as_fields()
    if all(getattr(config, name) == value for name, value in derived.items()):
        return
    if config.status == derived["status"] and config.status_if_stale == derived["status_if_stale"]:
        # Only the heartbeat moved: not a change of the config's state (no version, no record).
        heartbeat = derived["run_heartbeat_at"]
        sql.execute(sql.update(SignalSourceConfig, {"run_heartbeat_at": heartbeat}, where={"id": config.pk}))
        config.run_heartbeat_at = heartbeat
        return
    # Under the lock the row is at the version read, so this writes at the first try.
    while not services._save_at_version(config, derived, None, event=activity.STATUS_CHANGED, actor=actor, touch=False):
        pass


def _atomic():
    return transaction.atomic(using=router.db_for_write(SignalSourceConfig))


def start_run(
    config: SignalSourceConfig, *, started_at: datetime | None = None, actor: Actor | None = None
) -> SignalSourceRun:
    """Starts a run of the config's source (state `running`); the config's status follows."""
    now = timezone.now()
    started_at = _check_time("started_at", started_at or now, now)
    with _atomic():
        locked = _locked_config(config.pk)
        run = SignalSourceRun(
            project_id=locked.project_id,
            config=locked,
            state=ProcessingStatus.RUNNING,
            started_at=started_at,
            heartbeat_at=max(now, started_at),
        )
        sql.execute(sql.insert(run))
        run._state.adding, run._state.db = False, sql.writing(SignalSourceRun).alias
        _follow_runs(locked, actor)
    return run


def report_run(
    run: SignalSourceRun,
    *,
    state: str | None = None,
    finished_at: datetime | None = None,
    error=None,
    items_processed: int | None = None,
    signals_emitted: int | None = None,
    actor: Actor | None = None,
) -> SignalSourceRun:
    """Reports progress on a running run (its heartbeat moves to now; counters may only grow), or
    finishes it (`state` `completed` or `failed`, `finished_at` default now, `error`
    `{"code", "message"}` required when failed). A finished or stale run is `RunFinished`."""
    now = timezone.now()
    if state is not None and state not in ProcessingStatus.values:
        raise _error("state", f'"{state}" is not a valid state.', "invalid_choice")
    with _atomic():
        config = _locked_config(run.config_id)
        run.refresh_from_db()  # under the config's lock: no other report of this run is in between
        if run.state in FINISHED_STATES:
            raise RunFinished(FINISHED_MESSAGE)
        if health.is_stale(run, now):
            raise RunFinished(STALE_MESSAGE)
        finishing = state in FINISHED_STATES
        changes: dict = {"heartbeat_at": now}
        for field, value in (("items_processed", items_processed), ("signals_emitted", signals_emitted)):
            if value is None:
                continue
            if value < getattr(run, field):
                raise _error(field, f"{field} may not go down (it is {getattr(run, field)}).", "decreased")
            changes[field] = value
        if changes.get("signals_emitted", run.signals_emitted) > run.signals_emitted:
            changes["last_signal_at"] = now
        if not finishing:
            if finished_at is not None:
                raise _error("finished_at", "finished_at is only for a run that finishes.", "not_finishing")
            if error is not None:
                raise _error("error", "error is only for a failed run.", "not_failed")
        else:
            if state == ProcessingStatus.FAILED and error is None:
                raise _error("error", 'error is required when a run fails: {"code", "message"}.', "required")
            if state == ProcessingStatus.COMPLETED and error is not None:
                raise _error("error", "error is only for a failed run.", "not_failed")
            changes["state"] = state
            changes["finished_at"] = _check_time("finished_at", finished_at or now, now, not_before=run.started_at)
            changes["error"] = _check_error(error) if error is not None else None
        sql.execute(sql.update(SignalSourceRun, changes, where={"id": run.pk}))
        for name, value in changes.items():
            setattr(run, name, value)
        _follow_runs(config, actor)
    return run


def prunable_runs(now: datetime | None = None):
    """The runs the retention lets go: started more than `RUNS_RETENTION_DAYS` ago, and not the latest
    run of their config (that one is kept whatever its age, so a config's health keeps its last run)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.RUNS_RETENTION_DAYS)
    latest_of_its_config = (
        SignalSourceRun.objects.filter(config_id=OuterRef("config_id")).order_by("-started_at", "-id").values("id")[:1]
    )
    return SignalSourceRun.objects.filter(started_at__lt=cutoff).exclude(id=Subquery(latest_of_its_config))


def prune_runs(*, now: datetime | None = None, batch_size: int = 1000):
    """Deletes `prunable_runs` in batches of `batch_size`; yields the number deleted by each batch."""
    while True:
        batch = list(prunable_runs(now).order_by("started_at").values_list("id", flat=True)[:batch_size])
        if not batch:
            return
        yield SignalSourceRun.objects.filter(id__in=batch).delete()[0]
