"""Every write to a signal source config goes through these functions: the API, the admin and any
command alike. They enforce every rule a config must satisfy (a valid source pair, a fixed source
after creation, the catalog's config rules, one config per source and project) and raise domain
errors only: Django's `ValidationError`, keyed by the field at fault and carrying a code, and
`SignalSourceConfig.DoesNotExist`, and `VersionMismatch` for a conditional write. The API and the
admin translate them for their users.

Every write moves the config's `version` by one (the API's ETag). Writes are compare-and-set on it
(`UPDATE ... WHERE id = %s AND version = %s`): with `expected_version` (the client's If-Match) a
mismatch is a `VersionMismatch`; without it, a write that lost a race re-reads the row and tries
again, so it still cannot lose a concurrent change it did not mean to overwrite (a merge patch).

Each change is recorded in the activity log (`activity.record_of`), written together with the change
(one statement on PostgreSQL, a transaction elsewhere: `common.sql.write_then_insert`), on behalf of
the `actor` its caller names (None: the system); a change that fails (a `VersionMismatch` included)
leaves no record. The changes are written in hand-written SQL (`common.sql`) so that they can be.

Each change that has a record also has its change event (`events.event_of`, `change_events`), written
in the same statement or transaction; every write takes the feed's order lock first (`change_events.
services.ORDER_LOCK`, which says why). A write that changes nothing has neither.
"""

import orjson
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from activity_log.models import ActivityLog
from activity_log.services import Actor
from api.conditional import Precondition, VersionMismatch
from change_events.models import ChangeEvent
from change_events.services import ORDER_LOCK
from common import sql

from . import activity, catalog, events, selectors
from .models import ProcessingStatus, SignalSourceConfig

DUPLICATE_MESSAGE = "A signal source config for this source_product and source_type already exists in this project."


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _refuse_retired(source_type) -> None:
    # PostHog's current choices no longer take a retired type (`catalog.RETIRED_TYPES`): the route
    # that follows them refuses it in every write that carries it, with the choice field's message.
    if source_type in catalog.RETIRED_TYPES:
        raise _error("source_type", f'"{source_type}" is not a valid choice.', "invalid_choice")


def _check_source(source_product: str, source_type: str) -> None:
    if source_product not in catalog.PRODUCT_LABELS:
        raise _error("source_product", f'"{source_product}" is not a valid choice.', "invalid_choice")
    if catalog.get_source(source_product, source_type) is None:
        valid = ", ".join(catalog.valid_types_for(source_product))
        # A product may have no config type at all (signals_check: PostHog's inbox checking itself).
        hint = f"Valid types: {valid}." if valid else f"'{source_product}' takes no signal source config."
        raise _error(
            "source_type", f"'{source_type}' is not a valid source_type for '{source_product}'. {hint}", "invalid_pair"
        )


def _clean_enabled(source_product: str, source_type: str, enabled) -> bool:
    if not isinstance(enabled, bool):
        raise _error("enabled", "Must be a valid boolean.", "invalid")
    return enabled


def _clean_config(source_product: str, source_type: str, config) -> dict:
    try:
        return catalog.clean_config(source_product, source_type, config)
    except catalog.ConfigError as error:
        raise _error("config", str(error), "invalid") from None


# How each field a client edits is checked: `(source_product, source_type, value)` -> the value to
# store, or a ValidationError. One entry per `SignalSourceConfig.EDITABLE_FIELDS`, checked here.
CLEANERS = {"enabled": _clean_enabled, "config": _clean_config}
if set(CLEANERS) != set(SignalSourceConfig.EDITABLE_FIELDS):
    raise ImproperlyConfigured(
        f"signalsource.services.CLEANERS ({', '.join(CLEANERS)}) must clean exactly the model's "
        f"EDITABLE_FIELDS ({', '.join(SignalSourceConfig.EDITABLE_FIELDS)})."
    )


def _cleaned(source_product: str, source_type: str, values: dict) -> dict:
    unknown = set(values) - set(CLEANERS)
    if unknown:
        raise TypeError(f"Not writable: {', '.join(sorted(unknown))}")
    return {name: CLEANERS[name](source_product, source_type, value) for name, value in values.items()}


def _checked_new(source_product: str, source_type: str, values: dict) -> dict:
    """A new config's fields as they would be stored: the model's defaults for what `values` leaves out."""
    _check_source(source_product, source_type)
    defaults = {name: SignalSourceConfig._meta.get_field(name).get_default() for name in CLEANERS}
    cleaned = _cleaned(source_product, source_type, defaults | values)
    return {"source_product": source_product, "source_type": source_type, **cleaned}


def _pair_taken(project, source_product: str, source_type: str) -> bool:
    return SignalSourceConfig.objects.filter(
        project=project, source_product=source_product, source_type=source_type
    ).exists()


def _duplicate_error() -> ValidationError:
    return _error("source_product", DUPLICATE_MESSAGE, "unique")


def _write(change: sql.Statement, record: ActivityLog | None, event: ChangeEvent | None) -> bool:
    """Writes `change` (one row), its activity record and its event, all or nothing (no record: no
    event, a write that changed nothing); True when the row was written."""
    if record is None:
        return bool(sql.execute(change, lock=ORDER_LOCK))
    return bool(sql.write_then_insert(change, record, event, lock=ORDER_LOCK))


def validate_new_config(*, project, source_product, source_type, refuse_retired_types=False, **values) -> dict:
    """Checks a config before it is created, uniqueness included (for forms that want to show every
    error before saving); returns its fields as they would be stored. `create_config` checks the same."""
    if refuse_retired_types:
        _refuse_retired(source_type)
    fields = _checked_new(source_product, source_type, values)
    if _pair_taken(project, source_product, source_type):
        raise _duplicate_error()
    return fields


CREATE_ATTEMPTS = 3


def create_config(
    *,
    project,
    created_by,
    source_product,
    source_type,
    with_defaults=False,
    refuse_retired_types=False,
    actor: Actor | None = None,
    **values,
):
    """Creates a config from the source and `values` (any of `EDITABLE_FIELDS`; the model's defaults
    for the rest). A duplicate, even one that wins a race with this call, is a ValidationError.

    `with_defaults` fills in the source's `new_config_defaults` for keys the config leaves out (today's
    PostHog route does; the published one stores `config` as sent). `refuse_retired_types` refuses a
    retired `source_type` (today's route does)."""
    if refuse_retired_types:
        _refuse_retired(source_type)
    fields = _checked_new(source_product, source_type, values)
    if with_defaults:
        fields["config"] = catalog.with_new_config_defaults(source_product, source_type, fields["config"])
    instance = SignalSourceConfig(project=project, created_by=created_by, **fields)
    if not _insert(instance, actor):
        raise _duplicate_error()
    return instance


def _insert(instance: SignalSourceConfig, actor: Actor | None) -> bool:
    """Inserts `instance` and its activity record; False when its pair is taken in its project."""
    # The constraint is the arbiter: checking first would leave a window for a racing insert. A
    # conflict whose row is gone by the time we look lost a race with a delete: insert again.
    for _attempt in range(CREATE_ATTEMPTS):
        try:
            record = activity.record_of(instance, activity.CREATED, actor, after=activity.snapshot(instance))
            _write(sql.insert(instance), record, events.event_of(instance, record, sequence=instance.version))
            # Saved, as `save()` leaves it.
            instance._state.adding, instance._state.db = False, sql.writing(SignalSourceConfig).alias
            return True
        except IntegrityError:
            if _pair_taken(instance.project, instance.source_product, instance.source_type):
                return False
    # Created and deleted under us again and again: the pair is taken as far as this request can tell.
    return False


def validate_changes(instance: SignalSourceConfig, *, refuse_retired_types=False, **changes) -> dict:
    """Checks changes to an existing config; returns them as they would be stored.

    The source may be sent again but not changed (nor, with `refuse_retired_types`, sent with a
    retired type); `config` is checked as a whole, since it replaces the stored one.
    """
    if refuse_retired_types and "source_type" in changes:
        _refuse_retired(changes["source_type"])
    for field in SignalSourceConfig.SOURCE_FIELDS:
        if field in changes and changes.pop(field) != getattr(instance, field):
            raise _error(field, f"{field} cannot be changed after creation.", "immutable")
    return _cleaned(instance.source_product, instance.source_type, changes)


def merge_patch(target, patch):
    """RFC 7396 JSON Merge Patch: `null` removes a key, objects merge recursively, anything else
    replaces. (Eight lines from the RFC's own pseudo-code; the PyPI packages for it are unmaintained.)"""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _version_mismatch(instance: SignalSourceConfig, expected_version: int) -> VersionMismatch:
    return VersionMismatch(f"Signal source config {instance.pk} is not at version {expected_version}.")


def _expect_version(instance: SignalSourceConfig, expected_version: int | None) -> None:
    # The caller's version is compared with the one it read (its `instance`), so that nothing is
    # computed from a stale read; the write itself then compares the row's (`WHERE version = %s`).
    if expected_version is not None and instance.version != expected_version:
        raise _version_mismatch(instance, expected_version)


def _same(stored, value) -> bool:
    """Whether `value` is what is stored, as JSON tells values apart: `1`, `1.0` and `true` differ,
    and key order does not count."""
    if type(stored) is not type(value):
        return False
    if isinstance(value, dict | list):
        try:
            return orjson.dumps(stored, option=orjson.OPT_SORT_KEYS) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits (the admin's form reads them): say changed
            return False
    return stored == value


def _save_at_version(
    instance: SignalSourceConfig,
    changes: dict,
    expected_version: int | None,
    *,
    event: str,
    actor: Actor | None,
    touch: bool,
) -> bool:
    """Writes `changes` (and `updated_at` if `touch`) with the next version, and their activity record,
    if the row is still at the version `instance` holds. True when written; False when the row moved
    (then `instance` is re-read, for another try), or `VersionMismatch` if the caller expected that
    version. A row that is gone is `DoesNotExist` (`VersionMismatch` for a caller that expected a
    version). Nothing is written, activity included, unless the row was at that version.

    A write that changes nothing writes nothing (True, `instance` as it was): the version, and with
    it the ETag, and `updated_at` stay, and there is no record, so that a colleague's If-Match still
    holds after a change that never happened."""
    _expect_version(instance, expected_version)
    changes = {name: value for name, value in changes.items() if not _same(getattr(instance, name), value)}
    if not changes:
        return True
    version = instance.version
    before, after = activity.snapshot(instance), activity.snapshot(instance, **changes)
    fields = {**changes, "updated_at": timezone.now()} if touch else dict(changes)
    change = sql.update(
        SignalSourceConfig, {**fields, "version": version + 1}, where={"id": instance.pk, "version": version}
    )
    record = activity.record_of(instance, event, actor, before=before, after=after)
    change_event = None
    if record is not None:
        after_write = events.after_change(instance, {**fields, "version": version + 1})
        change_event = events.event_of(after_write, record, sequence=version + 1)
    if _write(change, record, change_event):
        for name, value in fields.items():
            setattr(instance, name, value)
        instance.version = version + 1
        return True
    if expected_version is not None:
        raise _version_mismatch(instance, expected_version)
    try:
        instance.refresh_from_db()
    except SignalSourceConfig.DoesNotExist:
        raise SignalSourceConfig.DoesNotExist(f"Signal source config {instance.pk} no longer exists.") from None
    return False


def update_config(
    instance: SignalSourceConfig,
    *,
    expected_version: int | None = None,
    config_patch=None,
    refuse_retired_types=False,
    actor: Actor | None = None,
    **changes,
) -> SignalSourceConfig:
    """Applies `enabled` and/or `config` (replaced whole), or `config_patch` (an RFC 7396 merge patch
    applied to the stored config, the result checked as a whole); `updated_at` moves when something
    changed, and nothing is written when nothing did.

    With `expected_version`, writes only if the config is still at that version (`VersionMismatch`).
    A config deleted by a concurrent request raises `SignalSourceConfig.DoesNotExist`.
    """
    while True:  # another try only after a concurrent write committed: someone always makes progress
        if config_patch is not None:
            changes["config"] = merge_patch(instance.config, config_patch)
        cleaned = validate_changes(instance, refuse_retired_types=refuse_retired_types, **changes)
        if _save_at_version(instance, cleaned, expected_version, event=activity.UPDATED, actor=actor, touch=True):
            return instance


CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
UPSERT_ATTEMPTS = 4
_LOOK_UP = object()  # `upsert_config`'s `existing` when the caller has not read the row


def upsert_config(
    *,
    project,
    source_product: str,
    source_type: str,
    created_by=None,
    precondition: Precondition | None = None,
    config_patch=None,
    with_defaults=True,
    refuse_retired_types=True,
    actor: Actor | None = None,
    existing=_LOOK_UP,
    create=True,
    **values,
) -> tuple[SignalSourceConfig, str]:
    """Makes the project's config of this source have `values` (`enabled`, `config`), or the stored
    config merged with `config_patch` (RFC 7396): creates it if there is none (with the rules and
    defaults of `create_config`), else updates it (with those of `update_config`). Returns the config
    and what happened: `CREATED`, `UPDATED` or `UNCHANGED` (nothing written at all).

    Race-free: the unique constraint decides between two creates of one pair (the loser updates the
    winner's row), and a row deleted under an update is created again. `precondition` (If-Match,
    If-None-Match) is checked against the row found, and an update writes only at that version.
    `existing` is the row if the caller has read it already (None: there is none), as a bulk does.
    Without `create`, a config that is not there (or is deleted under the update) is `DoesNotExist`."""
    precondition = precondition or Precondition()
    if refuse_retired_types:
        _refuse_retired(source_type)
    new_fields = None
    for _attempt in range(UPSERT_ATTEMPTS):
        if existing is _LOOK_UP:
            existing = selectors.config_by_source(
                project_id=project.id, source_product=source_product, source_type=source_type
            )
        instance, existing = existing, _LOOK_UP
        if instance is None:
            precondition.check_absent()
            if not create:
                raise SignalSourceConfig.DoesNotExist(f"No config of {source_product}/{source_type}.")
            if new_fields is None:
                new_values = dict(values)
                if config_patch is not None:
                    new_values["config"] = merge_patch({}, config_patch)
                new_fields = _checked_new(source_product, source_type, new_values)
                if with_defaults:
                    new_fields["config"] = catalog.with_new_config_defaults(
                        source_product, source_type, new_fields["config"]
                    )
            instance = SignalSourceConfig(project=project, created_by=created_by, **new_fields)
            if _insert(instance, actor):
                return instance, CREATED
            continue  # lost a race with a create of the pair: update that one
        expected_version, version = precondition.expected_version(instance), instance.version
        try:
            update_config(instance, expected_version=expected_version, config_patch=config_patch, actor=actor, **values)
        except SignalSourceConfig.DoesNotExist:
            continue  # deleted under us: create it again
        return instance, UNCHANGED if instance.version == version else UPDATED
    # Created and deleted under us again and again: the pair changes faster than this request can follow.
    raise VersionMismatch(f"The config of {source_product}/{source_type} kept changing; try again.")


MAX_BULK_OPERATIONS = 100


class BulkRefused(Exception):
    """An atomic bulk refused: at least one operation failed, so none was applied. `results` holds
    every operation's result, in order (see `apply_bulk`)."""

    def __init__(self, results: list):
        super().__init__(f"{sum(isinstance(r, Exception) for r in results)} of {len(results)} operations refused")
        self.results = results


def apply_bulk(*, project, operations: list[dict], atomic: bool = True, **upsert_options) -> list:
    """Applies each operation (`upsert_config`'s `source_product`, `source_type`, `precondition`,
    `enabled`, `config_patch`, ...) in order, with `upsert_options` (actor, created_by, ...) for all.
    Returns one result per operation: `(config, CREATED | UPDATED | UNCHANGED)`, or the domain error
    that refused it (`ValidationError`, `VersionMismatch`, `DoesNotExist`).

    `atomic`: all are applied or none (`BulkRefused`, with every result, if any is refused). Else each
    is applied on its own. The same source twice is a `ValidationError` for the whole request, as is
    an empty one or one of more than `MAX_BULK_OPERATIONS`. The configs are read in one query."""
    if not 0 < len(operations) <= MAX_BULK_OPERATIONS:
        raise _error("operations", f"Send 1 to {MAX_BULK_OPERATIONS} operations.", "invalid_length")
    pairs = [(operation["source_product"], operation["source_type"]) for operation in operations]
    first_seen: dict = {}
    for index, pair in enumerate(pairs):
        if pair in first_seen:
            message = f"Operations {first_seen[pair]} and {index} both name {pair[0]}/{pair[1]}; name each source once."
            raise _error("operations", message, "duplicate_source")
        first_seen[pair] = index
    existing = selectors.configs_by_source(project_id=project.id, pairs=pairs)

    def apply_all() -> list:
        results = []
        for operation, pair in zip(operations, pairs, strict=True):
            try:
                results.append(
                    upsert_config(project=project, existing=existing.get(pair), **upsert_options, **operation)
                )
            except (ValidationError, VersionMismatch, SignalSourceConfig.DoesNotExist) as error:
                results.append(error)
        return results

    if not atomic:
        return apply_all()
    with transaction.atomic(using=sql.writing(SignalSourceConfig).alias):
        results = apply_all()
        if any(isinstance(result, Exception) for result in results):
            raise BulkRefused(results)  # rolls every write of this bulk back, activity records included
    return results


def delete_config(
    instance: SignalSourceConfig, *, expected_version: int | None = None, actor: Actor | None = None
) -> None:
    """Deletes the config; with `expected_version`, only if it is still at that version."""
    _expect_version(instance, expected_version)
    # Always at the version read, so that the record and the event show the config as it was and the
    # event's sequence follows the last one; without `expected_version`, a concurrent write means
    # reading it again and another try.
    while True:
        where = {"id": instance.pk, "version": instance.version}
        record = activity.record_of(instance, activity.DELETED, actor, before=activity.snapshot(instance))
        change_event = events.event_of(instance, record, sequence=instance.version + 1)
        if _write(sql.delete(SignalSourceConfig, where=where), record, change_event):
            return
        if expected_version is not None:
            raise _version_mismatch(instance, expected_version)
        try:
            instance.refresh_from_db()
        except SignalSourceConfig.DoesNotExist:
            return  # a concurrent delete came first, and that one has its record and event


def set_status(instance: SignalSourceConfig, status: str | None, *, actor: Actor | None = None) -> SignalSourceConfig:
    """Records the state of the source's latest processing run (`None` when nothing is known)."""
    if status is not None and status not in ProcessingStatus.values:
        raise _error("status", f'"{status}" is not a valid status.', "invalid_choice")
    # Not a client edit, so `updated_at` (and with it the list order) stays put; the version moves.
    while not _save_at_version(
        instance, {"status": status}, None, event=activity.STATUS_CHANGED, actor=actor, touch=False
    ):
        pass
    return instance
