"""Rate limits: per personal API key a burst and a sustained rate, as PostHog's personal API keys
have; requests without a valid key are limited per client address.

Each limit is an exact sliding window: a request is let through only if fewer than `requests` were
let through in the `seconds` before it, so no window of the configured length, wherever it starts,
lets more than the limit through (DRF's own throttles guarantee the same with their timestamp
history; fixed windows let twice the limit through across a boundary, a token bucket a full bucket
plus the refill). Refused requests are not counted: a client that keeps asking gets in again as soon
as its oldest counted request leaves the window.

One history per subject (a key, or a client address) holds the times of its counted requests; every
limit counts the part of it inside its own window. One round trip per request:
- with Redis (Django's default cache is a `RedisCache`, i.e. `REDIS_URL` is set): one Lua script on a
  sorted set (drop what is older than the longest window, count each window, add the request if every
  limit allows it). Redis runs a script atomically and it reads Redis's own clock, so workers on any
  number of machines count exactly, whatever their clocks say. The set expires with its longest window.
- without Redis: one transaction on `RateLimitHit` rows (api/models.py): a lock on the subject
  (PostgreSQL: a transaction-level advisory lock; SQLite: its IMMEDIATE transactions already take
  the write lock), a delete of the expired rows, one counting SELECT, and an insert when allowed:
  four statements and one row per counted request. Exact, and fine for one machine or a small
  deployment; use Redis beyond that.

If Redis cannot be reached, requests are let through and a warning is logged: a rate limit must not
take the service down with it. Its calls time out after `REDIS_SOCKET_TIMEOUT` (connecting:
`REDIS_CONNECT_TIMEOUT`), and after a failure a breaker (`RedisBreaker`) stops asking it for
`REDIS_BREAKER_SECONDS`; `/readyz` reports it.

Settings (config/settings.py): `RATE_LIMITS_ENABLED`, `RATE_LIMIT_BURST`, `RATE_LIMIT_SUSTAINED`
(per key), `RATE_LIMIT_ANONYMOUS` (per client address, for requests without a valid key),
`RATE_LIMIT_SCHEMA` (per client address, for the API description, which needs no key), rates as
DRF writes them (`"480/minute"`), or `"off"`; `CLIENT_IP_HEADER` names the header a trusted proxy
puts the client's address in (empty: the connection's address). Read on every request, so a test or
an operator's settings change takes effect without re-importing anything.
"""

import functools
import ipaddress
import logging
import math
import time
import uuid
import weakref
from typing import NamedTuple

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from auth_keys.models import PersonalAPIKey

from .models import RateLimitHit

logger = logging.getLogger("api.throttling")

DISABLED_RATES = {"", "off", "none", "0"}
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # DRF's rate syntax: second, minute, hour, day
KEY_LIMITS = ("burst", "sustained")  # each read from settings.RATE_LIMIT_<NAME>
ADDRESS_LIMITS = ("anonymous",)


class Limit(NamedTuple):
    name: str
    requests: int
    seconds: int


@functools.lru_cache(maxsize=32)
def parse_rate(name: str, rate: str) -> Limit | None:
    """`"480/minute"` -> Limit("burst", 480, 60); None when the rate is off."""
    rate = rate.strip()
    if rate.lower() in DISABLED_RATES:
        return None
    requests, _, period = rate.partition("/")
    return Limit(name, int(requests), PERIOD_SECONDS[period.strip()[0].lower()])


def active_limits(names) -> list[Limit]:
    if not settings.RATE_LIMITS_ENABLED:
        return []
    limits = (parse_rate(name, str(getattr(settings, f"RATE_LIMIT_{name.upper()}", "") or "")) for name in names)
    return [limit for limit in limits if limit is not None]


def client_address(request) -> str | None:
    """The client's address: the connection's, or, when `CLIENT_IP_HEADER` says a trusted proxy sets
    one, the last address in that header (the one the proxy itself appended; anything before it the
    client may have written)."""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        candidate = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # missing or garbled: fall back to the connection's address
    # None without an address (a request built in-process, as the test client's login() does): the
    # login lock stores it in an IP address column, which on PostgreSQL accepts no placeholder text.
    return request.META.get("REMOTE_ADDR") or None


class RateLimitThrottle(BaseThrottle):
    """Counts a request against its key's limits, or, without a valid key, its client address's."""

    # Redis reads its own clock; this one is the database fallback's (tests pin it).
    timer = staticmethod(time.time)

    def __init__(self):
        self._wait: float | None = None

    def allow_request(self, request, view, cost: int = 1) -> bool:
        api_key = request.auth
        if isinstance(api_key, PersonalAPIKey):
            # Named by (part of) the key's digest, not its row id: unique even when several
            # deployments or test databases share one Redis. The digest reveals nothing of the key.
            subject, limits = f"throttle:key:{api_key.digest[:32]}", active_limits(KEY_LIMITS)
        elif getattr(view, "limit_requests_without_key", False):
            # A view may count its anonymous requests under limits of its own (the API description's).
            names = getattr(view, "address_limits", ADDRESS_LIMITS)
            subject = f"throttle:{'-'.join(names)}:{client_address(request) or 'unknown'}"
            limits = active_limits(names)
        else:
            return True  # public pages (the API description): no key asked for, none counted
        if not limits:
            return True
        if redis_breaker.is_open():
            return True  # Redis failed moments ago: not asked again until the breaker closes
        try:
            self._wait = count_request(subject, limits, self.timer, cost)
        except RedisError:
            redis_breaker.trip()
            logger.warning("rate limit cache unavailable; requests not counted for a while", exc_info=True)
            return True
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class RedisBreaker:
    """Per process: after a Redis failure (a refused connection, or no answer within
    `REDIS_SOCKET_TIMEOUT`), requests are let through uncounted without asking Redis for
    `REDIS_BREAKER_SECONDS`; then the next request asks again. A Redis that accepts connections but
    never answers costs one request one timeout per worker per period, not every request."""

    def __init__(self):
        self.open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self) -> None:
        self.open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS

    def reset(self) -> None:
        self.open_until = 0.0


redis_breaker = RedisBreaker()


def ping_redis() -> bool | None:
    """For /readyz: None without Redis; else whether it answers (a failure trips the breaker). While
    the breaker is open, Redis is not asked."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    if redis_breaker.is_open():
        return False
    try:
        backend._cache.get_client(None).ping()
    except RedisError:
        redis_breaker.trip()
        return False
    return True


def charge(request, view, cost: int) -> None:
    """Counts `cost` more requests against the request's limits, as for a request that does the work
    of several (a bulk counts each item): all of them, or, if a limit would be passed, none, and
    `Throttled` (429). Every throttle of the view is charged, as DRF checks them."""
    if cost <= 0:
        return
    for throttle in view.get_throttles():
        allowed = (
            throttle.allow_request(request, view, cost)
            if isinstance(throttle, RateLimitThrottle)
            else all(throttle.allow_request(request, view) for _ in range(cost))
        )
        if not allowed:
            view.throttled(request, throttle.wait())


def count_request(subject: str, limits: list[Limit], timer=time.time, cost: int = 1) -> float | None:
    """Counts `cost` requests (one, usually) for `subject` if every limit allows them all: None. Else
    nothing is counted and the seconds until every limit would allow them are returned (a limit's
    whole window when `cost` is more than it allows at all: it never will)."""
    too_costly = [limit.seconds for limit in limits if cost > limit.requests]
    if too_costly:
        return float(max(too_costly))
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return _count_in_redis(backend, subject, limits, cost)
    return _count_in_database(subject, limits, timer(), cost)


# KEYS[1]: the subject's sorted set (member: a unique id; score: the time in microseconds).
# ARGV: a unique member, the cost (requests to count, at most each limit's `requests`), then
# `requests`, `window in microseconds` per limit.
# Returns 0 when the requests were counted, else the microseconds to wait.
SLIDING_WINDOW_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local cost = tonumber(ARGV[2])
local longest = 0
for i = 3, #ARGV, 2 do longest = math.max(longest, tonumber(ARGV[i + 1])) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 3, #ARGV, 2 do
  local requests, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  -- an exclusive bound, formatted by hand: Lua's own number-to-text keeps only 14 digits
  local since = string.format('(%.0f', now - window)
  local counted = redis.call('ZCOUNT', KEYS[1], since, '+inf')
  if counted + cost > requests then
    -- the request that has to leave the window before `cost` more fit
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES',
                              'LIMIT', counted + cost - 1 - requests, 1)
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return wait end
for n = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. n) end
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1000)
return 0
"""

# Django's RedisCache builds a new redis.Redis object (with its ~170 response callbacks) on every
# get_client() call; one script object per cache object is enough, its connection pool is shared.
_redis_scripts: "weakref.WeakKeyDictionary[RedisCache, object]" = weakref.WeakKeyDictionary()


def _count_in_redis(backend: RedisCache, subject: str, limits: list[Limit], cost: int = 1) -> float | None:
    script = _redis_scripts.get(backend)
    if script is None:
        client = backend._cache.get_client(None, write=True)
        # EVALSHA, one round trip (the first call on a fresh Redis loads the script once).
        script = _redis_scripts[backend] = client.register_script(SLIDING_WINDOW_SCRIPT)
    args = [uuid.uuid4().hex, cost]
    for limit in limits:
        args += [limit.requests, limit.seconds * 1_000_000]
    wait_microseconds = script(keys=[backend.make_key(subject)], args=args)
    return wait_microseconds / 1_000_000 if wait_microseconds else None


@functools.cache
def _database_statements(vendor: str) -> tuple[str, str, str, str | None]:
    quote = connection.ops.quote_name
    table, subject, at = (quote(name) for name in (RateLimitHit._meta.db_table, "subject", "at"))
    lock = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))" if vendor == "postgresql" else None
    # Only quoted names are formatted in; the values are parameters.
    delete = f"DELETE FROM {table} WHERE {subject} = %s AND {at} <= %s"  # noqa: S608
    insert = f"INSERT INTO {table} ({subject}, {at}) VALUES (%s, %s)"  # noqa: S608
    return lock, delete, insert, f"SELECT {{counts}} FROM {table} WHERE {subject} = %s"  # noqa: S608


def _count_in_database(subject: str, limits: list[Limit], now: float, cost: int = 1) -> float | None:
    quote = connection.ops.quote_name
    lock, delete, insert, select = _database_statements(connection.vendor)
    at = quote("at")
    # Per limit: how many counted requests are inside its window, and the time of the one that has to
    # leave it before another fits (the requests-th newest).
    counts = ", ".join(f"SUM(CASE WHEN {at} > %s THEN 1 ELSE 0 END)" for _ in limits)
    longest = max(limit.seconds for limit in limits)
    with transaction.atomic(), connection.cursor() as cursor:
        if lock:
            cursor.execute(lock, [subject])
        cursor.execute(delete, [subject, now - longest])
        cursor.execute(select.format(counts=counts), [*(now - limit.seconds for limit in limits), subject])
        counted = [int(value or 0) for value in cursor.fetchone()]
        full = [limit for limit, count in zip(limits, counted, strict=True) if count + cost > limit.requests]
        if not full:
            cursor.executemany(insert, [[subject, now]] * cost)
            return None
        waits = []
        for limit in full:
            cursor.execute(
                f"SELECT {at} FROM {quote(RateLimitHit._meta.db_table)} WHERE {quote('subject')} = %s"  # noqa: S608
                f" AND {at} > %s ORDER BY {at} DESC LIMIT 1 OFFSET %s",
                [subject, now - limit.seconds, limit.requests - cost],
            )
            row = cursor.fetchone()
            waits.append(row[0] + limit.seconds - now if row else 0)
        return max(max(waits), math.ulp(now))
