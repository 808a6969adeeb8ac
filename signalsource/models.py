import uuid6
from django.conf import settings
from django.db import models

from projects.models import Project

from . import catalog


class ProcessingStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class SignalSourceConfig(models.Model):
    """One project's settings for one signal source (a product and a type from the catalog)."""

    # Every field is of one kind (tests/signalsource/test_field_coverage.py checks it, and where each
    # kind must appear; docs/extending.md says how to add one). The services, the serializers, the
    # admin and its form read these lists:
    # - the source, which a client sets when it creates the config and never after;
    SOURCE_FIELDS = ("source_product", "source_type")
    # - what a client edits at any time (each with its cleaner in `services.CLEANERS`);
    EDITABLE_FIELDS = ("enabled", "config")
    # - what only the services write.
    SYSTEM_FIELDS = ("id", "project", "created_by", "created_at", "updated_at", "status", "version")
    WRITABLE_FIELDS = SOURCE_FIELDS + EDITABLE_FIELDS

    # UUIDv7: time-ordered, so new rows land at the end of the primary key index.
    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="signal_source_configs")
    source_product = models.CharField(max_length=64, choices=catalog.PRODUCT_CHOICES)
    source_type = models.CharField(max_length=64, choices=catalog.TYPE_CHOICES)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    # The state of the source's latest processing run; written only by services.set_status.
    # NULL, not "", is the API's `null`: nothing is known about processing yet.
    status = models.CharField(max_length=16, choices=ProcessingStatus.choices, null=True, blank=True)  # noqa: DJ001
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Moves by one on every write, status included (services); the API's ETag, and what a
    # conditional write (If-Match) compares in its UPDATE/DELETE ... WHERE version = %s.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = "signal source config"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source_product", "source_type"], name="unique_signal_source_per_project"
            )
        ]
        indexes = [
            # Serves the list: one project's configs, newest first, ties by id.
            models.Index(fields=["project", "-updated_at", "id"], name="signal_source_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{catalog.source_label(self.source_product, self.source_type)} in project {self.project_id}"
