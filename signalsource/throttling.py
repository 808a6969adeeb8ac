"""Per-key rate limits: a burst rate and a sustained rate, as PostHog's personal API keys have.

Counted in Django's default cache, which is Redis when `REDIS_URL` is set and the database cache
otherwise, so every gunicorn worker and every machine counts against one limit. Each limit is a
fixed window counted with `cache.add` + `cache.incr`: on Redis those are single atomic commands, so
concurrent workers cannot lose counts the way DRF's read-modify-write request history does. (The
database cache's `incr` is a read then a write: close under concurrency, not exact. Use Redis when
the limit must be exact.)

Settings (see settings.py): `RATE_LIMITS_ENABLED`, `RATE_LIMIT_BURST`, `RATE_LIMIT_SUSTAINED`,
rates as DRF writes them (`"480/minute"`), or `"off"` for one of them. They are read on every
request, so a test or an operator's settings change takes effect without re-importing anything.
"""

import logging
import math

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from auth_keys.models import PersonalAPIKey

logger = logging.getLogger("signalsource.throttling")

DISABLED_RATES = {"", "off", "none", "0"}


class PersonalAPIKeyRateThrottle(SimpleRateThrottle):
    """Limits requests per personal API key. Requests without a key are not counted here: they are
    refused (401) before throttles run."""

    scope: str  # "burst" or "sustained"; the rate is settings.RATE_LIMIT_<SCOPE>

    def __init__(self):
        # DRF's base class reads its rates once, at import; ours are read per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self._wait = None

    def get_rate(self) -> str | None:
        if not settings.RATE_LIMITS_ENABLED:
            return None
        rate = str(getattr(settings, f"RATE_LIMIT_{self.scope.upper()}", "") or "").strip()
        return None if rate.lower() in DISABLED_RATES else rate

    def get_cache_key(self, request, view) -> str | None:
        api_key = request.auth
        if not isinstance(api_key, PersonalAPIKey):
            return None
        # Named by (part of) the key's digest, not its row id: unique even when several deployments
        # or test databases share one Redis. The digest reveals nothing of the key.
        return f"throttle:{self.scope}:key:{api_key.digest[:32]}"

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        base_key = self.get_cache_key(request, view)
        if base_key is None:
            return True
        now = self.timer()
        window = math.floor(now / self.duration)
        key = f"{base_key}:{window}"
        try:
            count = self._increment(key)
        except RedisError:
            # A rate limit must not take the service down with it: count nothing while Redis is away.
            logger.warning("rate limit cache unavailable; request not counted", exc_info=True)
            return True
        if count <= self.num_requests:
            return True
        self._wait = (window + 1) * self.duration - now
        return False

    def _increment(self, key: str) -> int:
        # The window's key lives one window (plus a second of slack for clock skew between machines).
        timeout = self.duration + 1
        self.cache.add(key, 0, timeout=timeout)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.add(key, 1, timeout=timeout)
            return 1

    def wait(self) -> float | None:
        return self._wait


class BurstRateThrottle(PersonalAPIKeyRateThrottle):
    scope = "burst"


class SustainedRateThrottle(PersonalAPIKeyRateThrottle):
    scope = "sustained"
