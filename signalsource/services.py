"""Every write to a signal source config goes through these functions: the API, the admin and any
command alike. They enforce every rule a config must satisfy (a valid source pair, a fixed source
after creation, the catalog's config rules, one config per source and project) and raise domain
errors only: Django's `ValidationError`, keyed by the field at fault and carrying a code, and
`SignalSourceConfig.DoesNotExist`. The API and the admin translate them for their users.

Each change is recorded in the activity log (`activity.record`) in the change's own transaction, on
behalf of the `actor` its caller names (None: the system); a change that fails leaves no record.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from activity_log.services import Actor

from . import activity, catalog
from .models import ProcessingStatus, SignalSourceConfig

# What `config` is when a create leaves it out: `{}`. A sentinel, so that an explicit None is refused.
NO_CONFIG = object()

DUPLICATE_MESSAGE = "A signal source config for this source_product and source_type already exists in this project."


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


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


def _check_enabled(enabled) -> None:
    if not isinstance(enabled, bool):
        raise _error("enabled", "Must be a valid boolean.", "invalid")


def _clean_config(source_product: str, source_type: str, config) -> dict:
    try:
        return catalog.clean_config(source_product, source_type, config)
    except catalog.ConfigError as error:
        raise _error("config", str(error), "invalid") from None


def _duplicate_error() -> ValidationError:
    return _error("source_product", DUPLICATE_MESSAGE, "unique")


def _checked_new(*, source_product, source_type, enabled, config) -> dict:
    _check_source(source_product, source_type)
    _check_enabled(enabled)
    config = _clean_config(source_product, source_type, {} if config is NO_CONFIG else config)
    return {"source_product": source_product, "source_type": source_type, "enabled": enabled, "config": config}


def validate_new_config(*, project, source_product, source_type, enabled=True, config=NO_CONFIG) -> dict:
    """Checks a config before it is created, uniqueness included (for forms that want to show every
    error before saving); returns its fields as they would be stored. `create_config` checks the same."""
    fields = _checked_new(source_product=source_product, source_type=source_type, enabled=enabled, config=config)
    if SignalSourceConfig.objects.filter(
        project=project, source_product=source_product, source_type=source_type
    ).exists():
        raise _duplicate_error()
    return fields


def create_config(
    *,
    project,
    created_by,
    source_product,
    source_type,
    enabled=True,
    config=NO_CONFIG,
    with_defaults=False,
    actor: Actor | None = None,
):
    """Creates a config. A duplicate, even one that wins a race with this call, is a ValidationError.

    `with_defaults` fills in the source's `new_config_defaults` for keys the config leaves out (today's
    PostHog route does; the published one stores `config` as sent)."""
    fields = _checked_new(source_product=source_product, source_type=source_type, enabled=enabled, config=config)
    if with_defaults:
        fields["config"] = catalog.with_new_config_defaults(source_product, source_type, fields["config"])
    instance = SignalSourceConfig(project=project, created_by=created_by, **fields)
    try:
        # The constraint is the arbiter: checking first would leave a window for a racing insert.
        with transaction.atomic():
            instance.save(force_insert=True)
            activity.record(instance, activity.CREATED, actor, after=activity.snapshot(instance))
    except IntegrityError:
        if SignalSourceConfig.objects.filter(
            project=project, source_product=source_product, source_type=source_type
        ).exists():
            raise _duplicate_error() from None
        raise
    return instance


def validate_changes(instance: SignalSourceConfig, **changes) -> dict:
    """Checks changes to an existing config; returns them as they would be stored.

    The source may be sent again but not changed; `config` is checked as a whole, since it replaces
    the stored one.
    """
    unknown = set(changes) - set(SignalSourceConfig.WRITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not writable: {', '.join(sorted(unknown))}")
    for field in SignalSourceConfig.SOURCE_FIELDS:
        if field in changes and changes[field] != getattr(instance, field):
            raise _error(field, f"{field} cannot be changed after creation.", "immutable")
    cleaned = {}
    if "enabled" in changes:
        _check_enabled(changes["enabled"])
        cleaned["enabled"] = changes["enabled"]
    if "config" in changes:
        cleaned["config"] = _clean_config(instance.source_product, instance.source_type, changes["config"])
    return cleaned


def update_config(instance: SignalSourceConfig, *, actor: Actor | None = None, **changes) -> SignalSourceConfig:
    """Applies `enabled` and/or `config` (replaced whole); `updated_at` always moves.

    A config deleted by a concurrent request raises `SignalSourceConfig.DoesNotExist`.
    """
    cleaned = validate_changes(instance, **changes)
    before, after = activity.snapshot(instance), activity.snapshot(instance, **cleaned)
    cleaned["updated_at"] = timezone.now()
    with transaction.atomic():
        if not SignalSourceConfig.objects.filter(pk=instance.pk).update(**cleaned):
            raise SignalSourceConfig.DoesNotExist(f"Signal source config {instance.pk} no longer exists.")
        activity.record(instance, activity.UPDATED, actor, before=before, after=after)
    for name, value in cleaned.items():
        setattr(instance, name, value)
    return instance


def delete_config(instance: SignalSourceConfig, *, actor: Actor | None = None) -> None:
    config_id, before = instance.pk, activity.snapshot(instance)
    with transaction.atomic():
        deleted, _ = instance.delete()
        if deleted:  # not when a concurrent delete came first: that one has its record
            activity.record(instance, activity.DELETED, actor, before=before, item_id=config_id)


def set_status(instance: SignalSourceConfig, status: str | None, *, actor: Actor | None = None) -> SignalSourceConfig:
    """Records the state of the source's latest processing run (`None` when nothing is known)."""
    if status is not None and status not in ProcessingStatus.values:
        raise _error("status", f'"{status}" is not a valid status.', "invalid_choice")
    # Not a client edit, so `updated_at` (and with it the list order) stays put.
    before, after = activity.snapshot(instance), activity.snapshot(instance, status=status)
    with transaction.atomic():
        if not SignalSourceConfig.objects.filter(pk=instance.pk).update(status=status):
            raise SignalSourceConfig.DoesNotExist(f"Signal source config {instance.pk} no longer exists.")
        activity.record(instance, activity.STATUS_CHANGED, actor, before=before, after=after)
    instance.status = status
    return instance
