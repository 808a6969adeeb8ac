from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class RateLimitHit(models.Model):
    """One request counted against a rate limit, when there is no Redis (see api/throttling.py): the
    sliding windows count a subject's rows by time. Rows older than the subject's longest window are
    deleted by its next request."""

    subject = models.CharField(max_length=100)  # a key's digest prefix or a client address
    at = models.FloatField()  # epoch seconds

    class Meta:
        verbose_name = "rate limit hit"
        indexes = [models.Index(fields=["subject", "at"], name="ratelimithit_subject_at")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.at}"


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
