"""Change events: one row per committed change of an object, served as a CloudEvent by the feed
(`selectors.page_after`) and relayed to NATS JetStream (`relay.py`)."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from projects.models import Project


class ChangeEvent(models.Model):
    """One committed change, written by the domain's services in the same statement (PostgreSQL) or
    transaction (SQLite) as the change and its activity record; never changed afterwards but for
    `sent_at`, and deleted only by `prune_change_events`.

    `id` is the event's position in the feed: the database numbers it while the writer holds the
    feed's lock (`services.ORDER_LOCK`), so positions are in commit order (see `services`)."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The CloudEvent's `type`, `subject` (the object's id), `source` (its URL path) and `sequence`
    # (the object's version after the change: strictly increasing per subject).
    type = models.CharField(max_length=100)
    subject = models.CharField(max_length=72)
    source = models.CharField(max_length=200)
    sequence = models.PositiveBigIntegerField()
    time = models.DateTimeField(default=timezone.now)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    # When the relay had the broker's ack for it; null until then (or with no relay).
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # One project's feed, in position order.
            models.Index(fields=["project", "id"], name="change_event_feed_idx"),
            # Pruning by date.
            models.Index(fields=["time"], name="change_event_time_idx"),
            # The relay's queue: the unsent events, in position order.
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="change_event_unsent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}:{self.sequence}"


class FeedHorizon(models.Model):
    """One row: the highest position pruned so far. A cursor below it may have missed pruned events
    (the feed answers 410); positions are not dense (a rolled-back write leaves a gap), so the
    oldest retained event cannot tell it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pruned through {self.pruned_through}"
