"""What the activity log records about a signal source config: its fields as a snapshot (`config`
split by key, so a change names the keys that changed), its name, and the record itself. The
services write each record together with its change (`common.sql.write_then_insert`)."""

from activity_log.models import ActivityLog
from activity_log.services import Actor, Detail, build_record, changes_between, flatten

from . import catalog
from .models import SignalSourceConfig

SCOPE = "SignalSourceConfig"
# The fields a record compares: every field of the model but these, which are the record's own
# (`id`, the project, the creator, the time) or move on every write (`updated_at`, `version`), and
# the parts of `status` that move with every heartbeat of a run (`run_heartbeat_at`, `status_if_stale`:
# a record of a status change names `status` alone).
NOT_LOGGED_FIELDS = (
    "id",
    "project",
    "created_by",
    "created_at",
    "updated_at",
    "version",
    "run_heartbeat_at",
    "status_if_stale",
)
LOGGED_FIELDS = tuple(
    field.name for field in SignalSourceConfig._meta.concrete_fields if field.name not in NOT_LOGGED_FIELDS
)
# Split by key in a snapshot, so that a change names the keys that changed.
EXPANDED_FIELDS = ("config",)

CREATED, UPDATED, DELETED, STATUS_CHANGED = "created", "updated", "deleted", "status_changed"


def snapshot(instance, **overrides) -> dict:
    # Overrides of fields the log does not record are left out, as the fields themselves are.
    values = {name: overrides[name] if name in overrides else getattr(instance, name) for name in LOGGED_FIELDS}
    return flatten(values, expand=EXPANDED_FIELDS)


def record_of(instance, activity: str, actor: Actor | None, *, before=None, after=None) -> ActivityLog | None:
    """The record of one change of `instance` (unsaved), or None when an update changed nothing (as
    PostHog skips empty updates)."""
    changes = changes_between(SCOPE, before, after)
    if not changes and activity not in (CREATED, DELETED):
        return None
    product, source_type = instance.source_product, instance.source_type
    return build_record(
        project_id=instance.project_id,
        actor=actor,
        scope=SCOPE,
        item_id=instance.pk,
        activity=activity,
        detail=Detail(
            name=catalog.pair_name(product, source_type),
            changes=changes,
            context={"source_product": product, "source_type": source_type},
        ),
    )
