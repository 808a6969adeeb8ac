"""The change event of a config (`change_events`): one per committed change, written by the
services together with the change and its activity record. Its `data` is the config as
`/signals/source_configs/{id}/` shows it after the change (as it was, for a delete), the record's
`changes` and its actor."""

import copy

from activity_log.models import ActivityLog
from change_events.models import ChangeEvent
from change_events.services import build_event

from .models import SignalSourceConfig

TYPE_PREFIX = "signal_source_config."

_representation = None


def representation(instance: SignalSourceConfig) -> dict:
    """The config as today's route shows it (`SignalsSourceConfigSerializer`), JSON-ready."""
    global _representation
    if _representation is None:
        from .serializers import SignalsSourceConfigSerializer  # the API's: built once, after the apps load

        _representation = SignalsSourceConfigSerializer().to_representation
    return _representation(instance)


def after_change(instance: SignalSourceConfig, fields: dict) -> SignalSourceConfig:
    """A copy of `instance` with `fields` set: the config as a write will leave it."""
    changed = copy.copy(instance)
    for name, value in fields.items():
        setattr(changed, name, value)
    return changed


def event_of(config: SignalSourceConfig, record: ActivityLog, *, sequence: int) -> ChangeEvent:
    """The event of the change `record` describes; `config` as the change leaves it (as it was, for a
    delete); `sequence` the config's version after the change (one more than the last, for a delete)."""
    return build_event(
        project_id=config.project_id,
        type=TYPE_PREFIX + record.activity,
        subject=config.pk,
        sequence=sequence,
        source=f"/api/projects/{config.project_id}/signals/source_configs/{config.pk}",
        data={"config": representation(config), "changes": record.detail["changes"], "actor": record.actor},
    )
