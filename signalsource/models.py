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
    SYSTEM_FIELDS = (
        "id",
        "project",
        "created_by",
        "created_at",
        "updated_at",
        "status",
        "version",
        "run_heartbeat_at",
        "status_if_stale",
    )
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
    # Written with `status` from the config's runs (signalsource/runs.py): the latest heartbeat of its
    # running runs (null when none runs), and the status to show once that heartbeat is older than
    # RUN_STALE_AFTER (the running runs then count as failed). So a stale run turns the status
    # without anyone calling, and a read works it out from the row alone (signalsource/health.py).
    run_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_if_stale = models.CharField(  # noqa: DJ001 -- NULL is the API's null, as for `status`
        max_length=16, choices=ProcessingStatus.choices, null=True, blank=True, editable=False
    )

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


class SignalSourceRun(models.Model):
    """One processing run of a config's source, as the program that processes it reports it
    (signalsource/runs.py). A finished run (completed or failed) never changes again.

    Deleting a config deletes its runs in the database itself (ON DELETE CASCADE on PostgreSQL, a
    trigger on SQLite: migration 0007), since the services delete configs in hand-written SQL."""

    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    # The project too, so that the tenancy base filters runs by it as it filters configs.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    config = models.ForeignKey(SignalSourceConfig, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=16, choices=ProcessingStatus.choices, default=ProcessingStatus.RUNNING)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"code", "message"} of a failed run; null otherwise.
    error = models.JSONField(null=True, blank=True)
    items_processed = models.PositiveBigIntegerField(default=0)
    signals_emitted = models.PositiveBigIntegerField(default=0)
    # When the last report that emitted signals came (the health's `last_signal_at`).
    last_signal_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "signal source run"
        indexes = [
            # A config's runs, newest first (the list, the health, the status's derivation).
            models.Index(fields=["config", "-started_at", "-id"], name="signal_source_run_list_idx"),
            # The retention's prune.
            models.Index(fields=["started_at"], name="signal_source_run_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.state} run {self.id}"
