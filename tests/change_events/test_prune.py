"""`prune_change_events`: events past the retention go in batches with progress, the feed's horizon
moves past them, and while a relay is configured the unsent ones stay."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from change_events.models import ChangeEvent
from change_events.services import pruned_through
from signalsource import services
from tests.helpers import make_config

pytestmark = pytest.mark.django_db


def prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_change_events", *args, stdout=out)
    return out.getvalue()


def test_old_events_go_in_batches_and_unsent_ones_stay_while_a_relay_is_set(tenant, settings):
    config = make_config(tenant.project)
    for enabled in (False, True, False):
        services.update_config(config, enabled=enabled)
    services.update_config(config, enabled=True)  # recent: stays
    old = list(ChangeEvent.objects.order_by("id"))[:3]
    ChangeEvent.objects.filter(id__in=[e.id for e in old]).update(time=timezone.now() - datetime.timedelta(days=8))
    ChangeEvent.objects.filter(id=old[0].id).update(sent_at=timezone.now())

    settings.EVENTS_NATS_URL = "nats://127.0.0.1:4222"
    assert "1 event(s) older than" in prune("--dry-run")
    output = prune("--batch-size", "1")
    assert "  1/1 deleted" in output and "Deleted 1 event(s)." in output
    assert pruned_through() == old[0].id
    assert ChangeEvent.objects.count() == 3  # two unsent old ones and the recent one

    settings.EVENTS_NATS_URL = ""
    output = prune("--batch-size", "1")
    assert "  1/2 deleted" in output and "  2/2 deleted" in output
    assert pruned_through() == old[2].id
    assert list(ChangeEvent.objects.values_list("sequence", flat=True)) == [5]
