"""Per-key rate limits: a burst and a sustained rate, configurable, off-switchable, answered with 429
and `Retry-After` in the flat error format, counted in the cache that every server process shares."""

import os
import random
import threading
import time
import uuid

import psycopg
import pytest
import redis
from django.db import connection, connections
from django.test import RequestFactory, override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api import throttling
from api.models import RateLimitHit
from tests.helpers import Tenant, key_client, make_key
from tests.live_server import call, live_database, served

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# Any cache but Redis: the limits are then counted in the database (even when REDIS_URL is set).
NO_REDIS = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_microseconds(raw) -> int:
    """Redis's clock, which its rate-limit script reads."""
    seconds, microseconds = raw.time()
    return seconds * 1_000_000 + microseconds


def redis_cache_settings():
    # A prefix of its own, so counts never leak between runs or into anyone else's keys.
    prefix = f"test-{uuid.uuid4().hex}"
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }, prefix


# The database fallback's clock (Redis reads its own), pinned; tests move it by hand.
PINNED_NOW = (int(time.time()) // 86400) * 86400 + 30.5


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Set `clock.now` to move the database fallback's clock."""

    class Clock:
        now = PINNED_NOW

    monkeypatch.setattr(throttling.RateLimitThrottle, "timer", staticmethod(lambda: Clock.now))
    return Clock


def statuses(client, url, count):
    return [client.get(url).status_code for _ in range(count)]


@override_settings(RATE_LIMIT_BURST="3/minute", RATE_LIMIT_SUSTAINED="off")
def test_burst_limit_answers_429_with_retry_after_in_the_flat_format(tenant):
    assert statuses(tenant.client, tenant.url, 3) == [200, 200, 200]

    response = tenant.client.get(tenant.url)

    assert response.status_code == 429, response.json()
    body = response.json()
    assert body["type"] == "throttled_error"
    assert body["code"] == "throttled"
    assert body["attr"] is None
    assert "Request was throttled" in body["detail"]
    assert response["Retry-After"] == "60"  # until the oldest of the three leaves the window


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="off", RATE_LIMIT_SUSTAINED="2/hour")
def test_sustained_limit_counts_on_its_own_and_waits_for_its_window(tenant, clock):
    assert statuses(tenant.client, tenant.url, 2) == [200, 200]
    clock.now += 600
    response = tenant.client.get(tenant.url)
    assert response.status_code == 429, response.json()
    assert response["Retry-After"] == "3000"  # the first request leaves the hour's window then


@override_settings(RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off")
def test_writes_count_too_and_a_throttled_write_changes_nothing(tenant):
    assert tenant.client.get(tenant.url).status_code == 200
    assert tenant.client.get(tenant.url).status_code == 200

    response = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")

    assert response.status_code == 429, response.json()
    assert not tenant.project.signal_source_configs.exists()


@override_settings(RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off")
def test_each_key_has_its_own_count(db):
    first, second = Tenant(), Tenant()
    assert statuses(first.client, first.url, 3) == [200, 200, 429]
    # Another key of the same user counts separately, and so does another user's key.
    _, same_user_raw = make_key(first.user)
    assert statuses(key_client(same_user_raw), first.url, 2) == [200, 200]
    assert statuses(second.client, second.url, 2) == [200, 200]


@override_settings(RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off")
def test_a_key_at_its_limit_gets_429_on_every_route_whatever_the_project(tenant, other_tenant):
    """Issue 12, row 7: the throttle runs before the permissions, so 403/404 answers are not free."""
    assert statuses(tenant.client, tenant.url, 2) == [200, 200]
    assert tenant.client.get(other_tenant.url).status_code == 429  # another organization's project (was 404)
    assert tenant.client.get("/api/projects/999999999/signal_source_configs/").status_code == 429
    assert tenant.client.get(f"{tenant.url}00000000-0000-0000-0000-000000000000/").status_code == 429
    assert other_tenant.client.get(other_tenant.url).status_code == 200  # its own count


@override_settings(RATE_LIMIT_BURST="1/minute", RATE_LIMIT_SUSTAINED="1/hour", RATE_LIMIT_ANONYMOUS="10/minute")
def test_refused_requests_without_a_key_are_not_counted_against_any_key(tenant):
    anonymous = key_client()
    for _ in range(3):
        assert anonymous.get(tenant.url).status_code == 401
    assert tenant.client.get(tenant.url).status_code == 200


@override_settings(RATE_LIMIT_BURST="off", RATE_LIMIT_SUSTAINED="off", RATE_LIMIT_ANONYMOUS="3/minute")
def test_requests_without_a_valid_key_are_limited_per_client_address(tenant):
    anonymous, bad_key = key_client(), key_client("phx_" + "x" * 40)
    assert statuses(anonymous, tenant.url, 2) == [401, 401]
    assert bad_key.get(tenant.url).status_code == 401
    # The address has had its three: a missing key and a refused one both answer 429 now.
    assert anonymous.get(tenant.url).status_code == 429
    assert bad_key.get(tenant.url).status_code == 429
    # Another address has its own count; a valid key is counted per key, not per address.
    assert key_client().get(tenant.url, REMOTE_ADDR="10.0.0.2").status_code == 401
    assert tenant.client.get(tenant.url).status_code == 200


@override_settings(RATE_LIMIT_BURST="off", RATE_LIMIT_SUSTAINED="off", RATE_LIMIT_ANONYMOUS="1/minute")
def test_a_forwarded_address_is_believed_only_when_a_setting_says_a_proxy_sets_it(tenant):
    client = key_client()
    assert client.get(tenant.url, HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 401
    # Without the setting the header is the client's own words: one address, whatever it claims.
    assert client.get(tenant.url, HTTP_X_FORWARDED_FOR="10.0.0.2").status_code == 429

    # (override_settings, not pytest-django's `settings`: restoring that one inside the decorator
    # would leave the decorator's limits in place for every later test.)
    with override_settings(CLIENT_IP_HEADER="X-Forwarded-For"):
        # The proxy appends the address it saw; what comes before it the client may have written.
        assert client.get(tenant.url, HTTP_X_FORWARDED_FOR="1.1.1.1, 10.0.0.3").status_code == 401
        assert client.get(tenant.url, HTTP_X_FORWARDED_FOR="1.1.1.1, 10.0.0.3").status_code == 429
        assert client.get(tenant.url, HTTP_X_FORWARDED_FOR="1.1.1.1, 10.0.0.4").status_code == 401


@override_settings(RATE_LIMITS_ENABLED=False, RATE_LIMIT_BURST="1/minute", RATE_LIMIT_SUSTAINED="1/hour")
def test_the_switch_turns_every_limit_off(tenant):
    assert statuses(tenant.client, tenant.url, 5) == [200] * 5
    assert statuses(key_client(), tenant.url, 5) == [401] * 5


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off")
def test_without_redis_the_history_lives_in_the_database_not_in_the_process(tenant):
    statuses(tenant.client, tenant.url, 2)
    assert tenant.client.get(tenant.url).status_code == 429
    # Every server process reads the database; a refused request is not counted.
    hits = RateLimitHit.objects.filter(subject=f"throttle:key:{tenant.api_key.digest[:32]}")
    assert list(hits.values_list("at", flat=True)) == [PINNED_NOW, PINNED_NOW]


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="3/minute", RATE_LIMIT_SUSTAINED="off")
def test_the_window_slides_and_a_boundary_lets_no_more_through(tenant, clock):
    """Issue 12, row 10: fixed windows let twice the limit through around a boundary."""
    clock.now = PINNED_NOW + 29.9  # just before a minute boundary
    assert statuses(tenant.client, tenant.url, 3) == [200] * 3
    clock.now = PINNED_NOW + 30.1  # just after it: a fixed window would start counting again
    assert statuses(tenant.client, tenant.url, 3) == [429] * 3
    clock.now = PINNED_NOW + 89.8  # 59.9 s after the three
    assert tenant.client.get(tenant.url).status_code == 429
    clock.now = PINNED_NOW + 89.9  # exactly 60 s after: they have left the window
    assert statuses(tenant.client, tenant.url, 4) == [200, 200, 200, 429]
    # Expired rows are deleted as the window moves: the history holds at most the window.
    assert RateLimitHit.objects.count() == 3


@pytest.mark.parametrize("sustained", ["off", "1000/hour"])
def test_a_request_exactly_one_window_old_has_left_the_window(tenant, clock, sustained):
    """The window is (now - 60 s, now]: a request made exactly 60 s ago no longer counts, whether its
    row was deleted (the longest window) or is still kept for a longer one and only not counted."""
    with override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED=sustained):
        clock.now = PINNED_NOW  # a value a double holds exactly, and so does PINNED_NOW + 60
        assert statuses(tenant.client, tenant.url, 3) == [200, 200, 429]
        clock.now = PINNED_NOW + 59.5
        assert tenant.client.get(tenant.url).status_code == 429
        clock.now = PINNED_NOW + 60
        assert statuses(tenant.client, tenant.url, 3) == [200, 200, 429]


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="5/minute", RATE_LIMIT_SUSTAINED="8/hour")
def test_no_window_anywhere_lets_more_than_the_limit_through(tenant, clock):
    """Requests at random times over three hours; for every accepted request, the accepted ones in
    the minute and in the hour ending with it are within the limits, and a request refused had a
    full window."""
    rng = random.Random(12)
    accepted, refused = [], []
    clock.now = PINNED_NOW
    for _ in range(150):
        clock.now += rng.choice([0.0, 0.5, 3, 7, 20, 61, 300, 900])
        status = tenant.client.get(tenant.url).status_code
        (accepted if status == 200 else refused).append(clock.now)
        assert status in (200, 429)
    for t in accepted:
        assert sum(t - 60 < u <= t for u in accepted) <= 5
        assert sum(t - 3600 < u <= t for u in accepted) <= 8
    for t in refused:
        in_minute = sum(t - 60 < u <= t for u in accepted)
        in_hour = sum(t - 3600 < u <= t for u in accepted)
        assert in_minute >= 5 or in_hour >= 8
    assert accepted and refused


@pytest.mark.skipif(not _redis_is_up(), reason="needs a Redis server (CI starts one on 127.0.0.1:6379)")
def test_with_redis_the_history_is_one_sorted_set_every_worker_sees(tenant):
    caches, prefix = redis_cache_settings()
    with override_settings(CACHES=caches, RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="5/hour"):
        assert statuses(tenant.client, tenant.url, 3) == [200, 200, 429]
        response = tenant.client.get(tenant.url)
        assert 59 <= int(response["Retry-After"]) <= 60
        # A separate Redis client, as another server worker or machine would be, sees the history.
        raw = redis.Redis.from_url(REDIS_URL)
        try:
            found = raw.keys(f"{prefix}:*throttle:key:{tenant.api_key.digest[:32]}")
            assert len(found) == 1
            assert raw.zcard(found[0]) == 2  # refused requests are not counted
            assert 3590 < raw.pttl(found[0]) / 1000 <= 3601  # kept for the longest window
        finally:
            for key in raw.scan_iter(f"{prefix}:*"):
                raw.delete(key)


@pytest.mark.skipif(not _redis_is_up(), reason="needs a Redis server (CI starts one on 127.0.0.1:6379)")
def test_with_redis_the_window_slides(tenant):
    """The limit's requests are written into the sorted set, dated by Redis's own clock, as if sent
    58 s ago: the next request is refused however slow the machine (it would take 58 s to be
    otherwise), and one is let through again once they are 60 s old."""
    caches, prefix = redis_cache_settings()
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        with override_settings(CACHES=caches, RATE_LIMIT_BURST="4/minute", RATE_LIMIT_SUSTAINED="off"):
            from django.core.cache import cache

            key = cache.make_key(f"throttle:key:{tenant.api_key.digest[:32]}")
            sent = _redis_microseconds(raw) - 58_000_000
            raw.zadd(key, {f"earlier-{i}": sent for i in range(4)})

            refused = tenant.client.get(tenant.url)
            assert refused.status_code == 429
            assert refused["Retry-After"] in {"1", "2"}
            assert raw.zcard(key) == 4  # a refused request is not counted

            # Once they are 60 s old (by Redis's clock), one more fits.
            while _redis_microseconds(raw) < sent + 60_000_000:
                time.sleep(0.1)
            assert statuses(tenant.client, tenant.url, 2) == [200, 200]
            assert raw.zcard(key) == 2  # the four earlier ones were dropped as they left the window
    finally:
        for key in raw.scan_iter(f"{prefix}:*"):
            raw.delete(key)


def test_an_unreachable_redis_fails_open_rather_than_taking_the_api_down(tenant, caplog):
    # Port 1 on localhost: nothing listens there, so every Redis command fails at once.
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with override_settings(CACHES=caches, RATE_LIMIT_BURST="1/minute"):
        assert statuses(tenant.client, tenant.url, 2) == [200, 200]
    # Once (the breaker then stops asking), with the Redis error's traceback.
    (warning,) = [record for record in caplog.records if record.name == "api.throttling"]
    assert warning.levelname == "WARNING"
    assert warning.getMessage() == "rate limit cache unavailable; requests not counted for a while"
    assert isinstance(warning.exc_info[1], redis.RedisError)


def test_a_new_breaker_is_closed_and_a_trip_opens_it_until_reset(settings):
    settings.REDIS_BREAKER_SECONDS = 600
    breaker = throttling.RedisBreaker()
    assert not breaker.is_open()

    breaker.trip()
    assert breaker.is_open()

    breaker.reset()
    assert not breaker.is_open()


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        ("10.0.0.5", "10.0.0.5"),
        ("1.1.1.1,10.0.0.6", "10.0.0.6"),
        ("1.1.1.1, 2.2.2.2, 10.0.0.7", "10.0.0.7"),
        ("not an address", "127.0.0.1"),
        (None, "127.0.0.1"),  # no header: the connection's address
    ],
)
def test_the_client_address_is_the_last_one_in_the_proxys_header(settings, forwarded, address):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}

    assert throttling.client_address(RequestFactory().get("/", **headers)) == address


def test_a_rate_left_empty_or_unset_is_off(tenant, settings):
    settings.RATE_LIMIT_BURST = ""
    del settings.RATE_LIMIT_SUSTAINED

    assert statuses(tenant.client, tenant.url, 2) == [200, 200]
    assert throttling.active_limits(throttling.KEY_LIMITS) == []


@override_settings(RATE_LIMIT_ANONYMOUS="1/minute")
def test_a_view_that_does_not_limit_requests_without_a_key_counts_none(db):
    request = Request(APIRequestFactory().get("/"))  # no key
    throttle = throttling.RateLimitThrottle()

    assert [throttle.allow_request(request, view=object()) for _ in range(2)] == [True, True]


@override_settings(RATE_LIMIT_SCHEMA="1/minute", RATE_LIMIT_ANONYMOUS="off")
def test_the_api_description_is_limited_per_address_under_its_own_rate(db):
    assert statuses(key_client(), "/api/schema/", 2) == [200, 429]


def cost_caches():
    yield pytest.param(NO_REDIS, id="database")
    if _redis_is_up():
        yield pytest.param(redis_cache_settings()[0], id="redis")


@pytest.mark.parametrize("caches", list(cost_caches()))
def test_a_cost_counts_as_that_many_requests_and_one_above_the_limit_never_fits(db, clock, caches):
    limits = [throttling.Limit("burst", 3, 60)]
    subject = f"cost-{uuid.uuid4().hex}"

    def count(cost):
        return throttling.count_request(subject, limits, lambda: clock.now, cost)

    with override_settings(CACHES=caches):
        assert count(2) is None
        assert count(2) is not None  # 2 + 2 > 3: refused, nothing counted
        assert count(1) is None  # 3 of 3
        assert count(4) == 60.0  # more than the limit at all: the whole window


@pytest.mark.live_server_process
@pytest.mark.parametrize("cache", ["redis", "database"])
def test_several_server_workers_enforce_one_limit(tmp_path, cache):
    """On the database this run uses: SQLite (what `make run` serves) or PostgreSQL, each in a database
    of the servers' own (`live_database`), since a server process cannot see the test database."""
    if cache == "redis" and not _redis_is_up():
        pytest.skip("needs a Redis server (CI starts one on 127.0.0.1:6379)")
    # An hour's window (the server's clock is not pinned), so none rolls over during the test.
    env = {"RATE_LIMIT_BURST": "6/hour", "RATE_LIMIT_SUSTAINED": "off", "REDIS_URL": ""}
    if cache == "redis":
        env["REDIS_URL"] = REDIS_URL
    with (
        live_database(tmp_path) as service,
        served(service.env["DATABASE_URL"], workers=3, **env) as (base_url, _),
    ):
        path = f"/api/projects/{service.project_id}/signal_source_configs/"
        # Sequential requests, each on a new connection: the workers take turns accepting them.
        statuses = [call(base_url, "GET", path, service.raw_key)[0] for _ in range(12)]
    assert statuses == [200] * 6 + [429] * 6


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_two_database_counts_of_one_subject_take_turns():
    # Each count is a read, then an insert: without the subject's advisory lock, two workers counting
    # at once would both read the same count and both let a request through at the limit.
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; PostgreSQL takes the subject's advisory lock")
    subject = f"race-{uuid.uuid4().hex}"
    other_worker = psycopg.connect(**connection.get_connection_params())
    counted = threading.Event()

    def count():
        try:
            throttling._count_in_database(subject, [throttling.Limit("burst", 1, 60)], time.time())
        finally:
            connections.close_all()  # this thread's connection
        counted.set()

    try:
        with other_worker.transaction():
            # The other worker is inside its count of the same subject.
            other_worker.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [subject])
            counting = threading.Thread(target=count)
            counting.start()
            assert not counted.wait(1.0), "the count did not wait for the other worker's"
        assert counted.wait(30), "the count never ended after the other worker's"
        counting.join()
    finally:
        other_worker.close()
    assert RateLimitHit.objects.filter(subject=subject).count() == 1
