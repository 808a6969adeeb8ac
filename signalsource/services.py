"""Every write to a signal source config goes through these functions (API and admin alike)."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from .models import ProcessingStatus, SignalSourceConfig

DUPLICATE_MESSAGE = "A signal source config for this source_product and source_type already exists in this project."


def create_config(*, project, created_by, source_product, source_type, enabled=True, config=None):
    """Creates a config. A duplicate, even one that wins a race with this call, is a 400."""
    instance = SignalSourceConfig(
        project=project,
        created_by=created_by,
        source_product=source_product,
        source_type=source_type,
        enabled=enabled,
        config={} if config is None else config,
    )
    try:
        # The constraint is the arbiter: checking first would leave a window for a racing insert.
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        if SignalSourceConfig.objects.filter(
            project=project, source_product=source_product, source_type=source_type
        ).exists():
            raise ValidationError({"source_product": [DUPLICATE_MESSAGE]}, code="unique") from None
        raise
    return instance


def update_config(instance: SignalSourceConfig, **changes) -> SignalSourceConfig:
    """Applies `enabled` and/or `config` (replaced whole); `updated_at` always moves.

    A config deleted by a concurrent request is a 404, not a crash.
    """
    changes = {name: changes[name] for name in ("enabled", "config") if name in changes}
    changes["updated_at"] = timezone.now()
    if not SignalSourceConfig.objects.filter(pk=instance.pk).update(**changes):
        raise NotFound()
    for name, value in changes.items():
        setattr(instance, name, value)
    return instance


def delete_config(instance: SignalSourceConfig) -> None:
    instance.delete()


def set_status(instance: SignalSourceConfig, status: str | None) -> SignalSourceConfig:
    """Records the state of the source's latest processing run (`None` when nothing is known)."""
    if status is not None:
        status = ProcessingStatus(status).value  # ValueError for anything else
    # Not a client edit, so `updated_at` (and with it the list order) stays put.
    if not SignalSourceConfig.objects.filter(pk=instance.pk).update(status=status):
        raise SignalSourceConfig.DoesNotExist(f"Signal source config {instance.pk} no longer exists.")
    instance.status = status
    return instance
