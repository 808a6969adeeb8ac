"""The activity log: one row per change to a tracked object, in PostHog's `ActivityLog` shape."""

import uuid6
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from projects.models import Project


class ActivityLog(models.Model):
    """Who changed what, and when. Written by the domain's services in the same transaction as the
    change; never changed afterwards, and deleted only by `prune_activity_log`.

    `item_id` and `detail` do not point at the object, so a record outlives the object it describes.
    PostHog's `team_id` is `project` here (our projects are its teams).
    """

    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The person behind the change: the key's user for API calls, the operator in the admin; null
    # for commands and processing code (`is_system`), or once the user is deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # [ours] How the change arrived: the API key's mask (never the key), "admin", a command's name.
    actor = models.CharField(max_length=100)
    request_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 -- null: no request
    was_impersonated = models.BooleanField(default=False)
    is_system = models.BooleanField(default=False)
    activity = models.CharField(max_length=79)
    item_id = models.CharField(max_length=72, null=True, blank=True)  # noqa: DJ001 -- as PostHog's
    scope = models.CharField(max_length=79)
    detail = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "activity log record"
        indexes = [
            # One object's history (the per-config `activity` route, the admin's history page).
            models.Index(fields=["project", "scope", "item_id"], name="activity_log_item_idx"),
            # The project's feed, newest first.
            models.Index(fields=["project", "-created_at"], name="activity_log_feed_idx"),
            # Pruning by date, across projects.
            models.Index(fields=["created_at"], name="activity_log_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.item_id} {self.activity} by {self.actor}"
