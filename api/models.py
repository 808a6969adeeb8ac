from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class RateLimitCounter(models.Model):
    """A per-key rate-limit window's count, when there is no Redis (see api/throttling.py).

    One row per (limit, key), reused window after window: the table never holds more than two rows
    per API key, so nothing needs expiring.
    """

    key = models.CharField(max_length=100, primary_key=True)
    window_start = models.BigIntegerField()  # the window's number: epoch seconds // window length
    count = models.IntegerField()

    class Meta:
        verbose_name = "rate limit counter"

    def __str__(self) -> str:
        return f"{self.key}: {self.count} in window {self.window_start}"


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an `Idempotency-Key` (see api/idempotency.py).

    Scoped to the API key that sent it (by the key's id: the raw key is never stored). The status is
    null while the first request is still being processed. Rows expire after 24 hours: an expired
    row is replaced when its key is used again, and `manage.py prune_idempotency_keys` deletes the
    rest (run it from cron; the `created_at` index serves it).
    """

    api_key = models.ForeignKey("auth_keys.PersonalAPIKey", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the parsed body: what "the same request" means.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "idempotency record"
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="unique_idempotency_key_per_api_key")]

    def __str__(self) -> str:
        return f"{self.key} (API key {self.api_key_id}): {self.status_code or 'in progress'}"
