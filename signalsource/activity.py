"""What the activity log records about a signal source config: its fields as a snapshot (`config`
split by key, so a change names the keys that changed), its name, and the record itself. The
services hand `record` each change's SQL, and the two are written together."""

from activity_log.services import Actor, Detail, changes_between, flatten, log_activity
from common import sql

SCOPE = "SignalSourceConfig"
# The fields a record compares; `id`, the project, the creator and the timestamps are the record's own.
LOGGED_FIELDS = ("source_product", "source_type", "enabled", "config", "status")

CREATED, UPDATED, DELETED, STATUS_CHANGED = "created", "updated", "deleted", "status_changed"


def snapshot(instance, **overrides) -> dict:
    values = {name: getattr(instance, name) for name in LOGGED_FIELDS} | overrides
    return flatten(values, expand=("config",))


def record(instance, activity: str, actor: Actor | None, change, *, before=None, after=None, item_id=None) -> bool:
    """Writes one change, `change` (its SQL: see `log_activity`), and its record, unless it changed
    nothing (as PostHog skips empty updates). `item_id` defaults to the instance's. True when the
    change wrote its row."""
    changes = changes_between(SCOPE, before, after)
    if not changes and activity not in (CREATED, DELETED):
        return bool(sql.execute(change))
    product, source_type = instance.source_product, instance.source_type
    return log_activity(
        project_id=instance.project_id,
        actor=actor,
        scope=SCOPE,
        item_id=item_id or instance.pk,
        activity=activity,
        detail=Detail(
            name=f"{product}/{source_type}",
            changes=changes,
            context={"source_product": product, "source_type": source_type},
        ),
        change=change,
    )
