from django.db import models


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
