"""The activity log's records: `build_record`, the `Actor` behind a change, and the field-by-field
`changes_between` two snapshots, in PostHog's `Detail` / `Change` shapes.

Unlike PostHog, which defers the write to `on_commit` and swallows its errors, a record is written
together with the change it is about, by the service that makes the change (`common.sql.
write_then_insert`), and a failure fails the change: the log is the reliable record of changes, so a
change without its record must not happen (and a rolled-back change leaves none).
"""

from dataclasses import dataclass

from api.request_id import request_id_var

from .models import ActivityLog

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a user (or None for commands and processing code) and how it arrived."""

    name: str
    user: object | None = None
    request_id: str | None = None

    @classmethod
    def api_key(cls, request) -> "Actor":
        """A request authenticated by a personal API key: its user and its mask, never the key."""
        return cls(name=request.auth.mask, user=request.user, request_id=request_id_var.get())

    @classmethod
    def admin(cls, request) -> "Actor":
        return cls(name="admin", user=request.user, request_id=request_id_var.get())

    @classmethod
    def command(cls, name: str, user=None) -> "Actor":
        return cls(name=name, user=user)

    @classmethod
    def system(cls) -> "Actor":
        """Processing code and any caller that does not say who it is."""
        return cls(name=SYSTEM, request_id=request_id_var.get())


@dataclass(frozen=True)
class Change:
    type: str
    action: str  # "created", "changed" or "deleted"
    field: str | None = None
    before: object = None
    after: object = None


@dataclass(frozen=True)
class Detail:
    name: str | None = None
    short_id: str | None = None
    type: str | None = None
    changes: list[Change] | None = None
    trigger: dict | None = None
    context: dict | None = None

    def as_json(self) -> dict:
        """The record's `detail`: `dataclasses.asdict`, shallow. asdict deep-copies every value, which
        took 6 % of a create's and a delete's CPU; the values are fresh and only serialized."""
        changes = None if self.changes is None else [dict(vars(change)) for change in self.changes]
        return {**vars(self), "changes": changes}


def flatten(values: dict, expand: tuple[str, ...] = ()) -> dict:
    """A snapshot's fields, with each field named in `expand` (a JSON object) split into one entry
    per key, `<field>.<key>`, so that a change names the keys that changed, not only the object."""
    flat = {}
    for name, value in values.items():
        if name in expand and isinstance(value, dict):
            flat.update({f"{name}.{key}": item for key, item in value.items()})
        else:
            flat[name] = value
    return flat


def changes_between(scope: str, before: dict | None, after: dict | None) -> list[Change]:
    """Field-level changes between two flat snapshots (see `flatten`). A field that is missing or
    None on one side is absent there: present only after is "created", only before is "deleted".
    Between two snapshots (an update) a field on one side only is a change even when its value is
    None: a config key added or removed with a null value is a write, and has its record and event."""
    updated = before is not None and after is not None
    before, after = before or {}, after or {}
    changes = []
    for field in [*before, *(name for name in after if name not in before)]:
        old, new = before.get(field), after.get(field)
        if updated and (field in before) != (field in after):
            action = "created" if field in after else "deleted"
        elif (old is None and new is None) or (old == new and type(old) is type(new)):
            continue
        else:
            action = "created" if old is None else "deleted" if new is None else "changed"
        changes.append(Change(type=scope, action=action, field=field, before=old, after=new))
    return changes


def build_record(
    *, project_id: int, actor: Actor | None, scope: str, item_id, activity: str, detail: Detail
) -> ActivityLog:
    """The record of one change, unsaved: the service that makes the change writes the two together."""
    actor = actor or Actor.system()
    return ActivityLog(
        project_id=project_id,
        user=actor.user,
        actor=actor.name,
        request_id=actor.request_id or request_id_var.get(),
        is_system=actor.user is None,
        activity=activity,
        scope=scope,
        item_id=None if item_id is None else str(item_id),
        detail=detail.as_json(),
    )


def prune_batches(before, batch_size: int):
    """Deletes the records created before `before` (an aware datetime), `batch_size` at a time, each
    batch its own short statement so a long prune never holds a large lock; yields each batch's count."""
    while True:
        ids = list(ActivityLog.objects.filter(created_at__lt=before).values_list("id", flat=True)[:batch_size])
        if not ids:
            return
        deleted, _ = ActivityLog.objects.filter(id__in=ids).delete()
        yield deleted
