from django.db import models


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
