"""Per-key rate limits: a burst rate and a sustained rate, as PostHog's personal API keys have.

One throttle checks both limits, each a fixed window counted per key, in ONE round trip:
- with Redis (Django's default cache is a `RedisCache`, i.e. `REDIS_URL` is set): one MULTI/EXEC
  pipeline of `SET key 0 EX <window> NX` + `INCR key` per limit, through the cache's own connection
  pool. INCR is atomic, so workers on any number of machines count exactly, and every window's key
  expires by itself.
- without Redis: one upsert statement into our `RateLimitCounter` table covering both limits
  (`INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING count`, atomic in PostgreSQL and SQLite),
  one row per (limit, key) reused from window to window.

Why ours rather than DRF's throttles: DRF keeps a list of timestamps per key and writes it back
(a read-modify-write that loses counts between concurrent workers), and each throttle class costs
its own round trips. Counting through Django's cache API instead (`add` + `incr`) took about six
Redis round trips per request, each building a new Redis client, and on the database cache about
twenty SQL statements (its `incr` is a read then a write, not exact).

If Redis cannot be reached, requests are let through and a warning is logged: a rate limit must not
take the service down with it.

Settings (see settings.py): `RATE_LIMITS_ENABLED`, `RATE_LIMIT_BURST`, `RATE_LIMIT_SUSTAINED`,
rates as DRF writes them (`"480/minute"`), or `"off"` for one of them. They are read on every
request, so a test or an operator's settings change takes effect without re-importing anything.
"""

import functools
import logging
import math
import time
import weakref
from typing import NamedTuple

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from auth_keys.models import PersonalAPIKey

from .models import RateLimitCounter

logger = logging.getLogger("api.throttling")

DISABLED_RATES = {"", "off", "none", "0"}
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # DRF's rate syntax: second, minute, hour, day
LIMIT_NAMES = ("burst", "sustained")  # each read from settings.RATE_LIMIT_<NAME>


class Limit(NamedTuple):
    name: str
    requests: int
    seconds: int


class Window(NamedTuple):
    limit: Limit
    counter: str  # the counter's name: limit and key, without the window
    number: int  # which window of the limit's length `now` falls in


@functools.lru_cache(maxsize=32)
def parse_rate(name: str, rate: str) -> Limit | None:
    """`"480/minute"` -> Limit("burst", 480, 60); None when the rate is off."""
    rate = rate.strip()
    if rate.lower() in DISABLED_RATES:
        return None
    requests, _, period = rate.partition("/")
    return Limit(name, int(requests), PERIOD_SECONDS[period.strip()[0].lower()])


def active_limits() -> list[Limit]:
    if not settings.RATE_LIMITS_ENABLED:
        return []
    limits = (parse_rate(name, str(getattr(settings, f"RATE_LIMIT_{name.upper()}", "") or "")) for name in LIMIT_NAMES)
    return [limit for limit in limits if limit is not None]


class PersonalAPIKeyRateThrottle(BaseThrottle):
    """Limits requests per personal API key. Requests without a key are not counted here: they are
    refused (401) before throttles run."""

    timer = staticmethod(time.time)

    def __init__(self):
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, PersonalAPIKey):
            return True
        limits = active_limits()
        if not limits:
            return True
        now = self.timer()
        # Named by (part of) the key's digest, not its row id: unique even when several deployments
        # or test databases share one Redis. The digest reveals nothing of the key.
        windows = [
            Window(limit, f"throttle:{limit.name}:key:{api_key.digest[:32]}", math.floor(now / limit.seconds))
            for limit in limits
        ]
        try:
            counts = count_requests(windows)
        except RedisError:
            logger.warning("rate limit cache unavailable; request not counted", exc_info=True)
            return True
        exceeded = [w for w, count in zip(windows, counts, strict=True) if count > w.limit.requests]
        if not exceeded:
            return True
        self._wait = max((w.number + 1) * w.limit.seconds - now for w in exceeded)
        return False

    def wait(self) -> float | None:
        return self._wait


def count_requests(windows: list[Window]) -> list[int]:
    """Counts one request in each window and returns the windows' counts, in one round trip."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return _count_in_redis(backend, windows)
    return _count_in_database(windows)


# Django's RedisCache builds a new redis.Redis object (with its ~170 response callbacks) on every
# get_client() call; one per cache object is enough, its connection pool is shared anyway.
_redis_clients: "weakref.WeakKeyDictionary[RedisCache, object]" = weakref.WeakKeyDictionary()


def _count_in_redis(backend: RedisCache, windows: list[Window]) -> list[int]:
    client = _redis_clients.get(backend)
    if client is None:
        client = _redis_clients[backend] = backend._cache.get_client(None, write=True)
    pipe = client.pipeline(transaction=True)
    for window in windows:
        name = backend.make_key(f"{window.counter}:{window.number}")
        # The window's key lives one window (plus a second of slack for clock skew between machines).
        pipe.set(name, 0, ex=window.limit.seconds + 1, nx=True)
        pipe.incr(name)
    return pipe.execute()[1::2]


def _count_in_database(windows: list[Window]) -> list[int]:
    quote = connection.ops.quote_name
    table, key, start, count = (
        quote(name) for name in (RateLimitCounter._meta.db_table, "key", "window_start", "count")
    )
    # A later window restarts the count; an earlier one (a machine whose clock lags) counts in the
    # stored, later window rather than moving it back. Only quoted names are formatted in; the
    # values are parameters.
    rows = ", ".join(["(%s, %s, 1)"] * len(windows))
    sql = (
        f"INSERT INTO {table} AS counter ({key}, {start}, {count}) VALUES {rows}"  # noqa: S608
        f" ON CONFLICT ({key}) DO UPDATE SET"
        f" {count} = CASE WHEN counter.{start} >= excluded.{start} THEN counter.{count} + 1 ELSE 1 END,"
        f" {start} = CASE WHEN counter.{start} >= excluded.{start} THEN counter.{start} ELSE excluded.{start} END"
        f" RETURNING {key}, {count}"
    )
    params = [value for window in windows for value in (window.counter, window.number)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = dict(cursor.fetchall())
    return [counts[window.counter] for window in windows]
