"""Per-key rate limits: a burst and a sustained rate, configurable, off-switchable, answered with 429
and `Retry-After` in the flat error format, counted in the cache that every server process shares."""

import os
import time
import uuid

import pytest
import redis
from django.db import connection
from django.test import override_settings

from api import throttling
from api.models import RateLimitCounter
from tests.helpers import Tenant, key_client, make_key
from tests.live_server import call, database_url_of, served

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# Any cache but Redis: the limits are then counted in the database (even when REDIS_URL is set).
NO_REDIS = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


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


# The throttles' clock, pinned 30.5 seconds into a minute (and into an hour, and a day): no window
# can roll over mid-test, and the waits are exact.
PINNED_NOW = (int(time.time()) // 86400) * 86400 + 30.5


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(throttling.PersonalAPIKeyRateThrottle, "timer", staticmethod(lambda: PINNED_NOW))


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
    assert response["Retry-After"] == "30"  # the rest of the minute


@override_settings(RATE_LIMIT_BURST="off", RATE_LIMIT_SUSTAINED="2/hour")
def test_sustained_limit_counts_on_its_own_and_waits_up_to_its_window(tenant):
    assert statuses(tenant.client, tenant.url, 3) == [200, 200, 429]
    response = tenant.client.get(tenant.url)
    assert response.status_code == 429, response.json()
    assert response["Retry-After"] == "3570"  # the rest of the hour


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


@override_settings(RATE_LIMIT_BURST="1/minute", RATE_LIMIT_SUSTAINED="1/hour")
def test_refused_requests_without_a_key_are_not_counted_against_anyone(tenant):
    anonymous = key_client()
    for _ in range(3):
        assert anonymous.get(tenant.url).status_code == 401
    assert tenant.client.get(tenant.url).status_code == 200


@override_settings(RATE_LIMITS_ENABLED=False, RATE_LIMIT_BURST="1/minute", RATE_LIMIT_SUSTAINED="1/hour")
def test_the_switch_turns_every_limit_off(tenant):
    assert statuses(tenant.client, tenant.url, 5) == [200] * 5


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off")
def test_the_count_lives_in_the_shared_cache_not_in_the_process(tenant):
    statuses(tenant.client, tenant.url, 2)
    assert tenant.client.get(tenant.url).status_code == 429
    # The count is in the database (Redis when REDIS_URL is set), which every server process reads,
    # not in anything the process keeps.
    counter = RateLimitCounter.objects.get(key=f"throttle:burst:key:{tenant.api_key.digest[:32]}")
    assert counter.count == 3
    assert counter.window_start == int(PINNED_NOW // 60)


@override_settings(CACHES=NO_REDIS, RATE_LIMIT_BURST="3/minute", RATE_LIMIT_SUSTAINED="5/hour")
def test_both_limits_are_counted_on_every_request_and_a_new_window_starts_a_new_count(tenant, monkeypatch):
    assert statuses(tenant.client, tenant.url, 4) == [200, 200, 200, 429]  # the burst limit

    # The next minute: the burst count starts again, the hour's count goes on to its limit.
    monkeypatch.setattr(throttling.PersonalAPIKeyRateThrottle, "timer", staticmethod(lambda: PINNED_NOW + 60))
    assert statuses(tenant.client, tenant.url, 2) == [200, 429]  # 5 counted this hour, then 6
    response = tenant.client.get(tenant.url)
    assert response["Retry-After"] == str(3600 - 90)  # the longer wait of the two limits
    counts = dict(RateLimitCounter.objects.values_list("key", "count"))
    digest = tenant.api_key.digest[:32]
    assert counts == {f"throttle:burst:key:{digest}": 3, f"throttle:sustained:key:{digest}": 7}


@pytest.mark.skipif(not _redis_is_up(), reason="needs a Redis server (CI starts one on 127.0.0.1:6379)")
def test_with_redis_the_count_is_kept_in_redis_where_every_worker_sees_it(tenant):
    caches, prefix = redis_cache_settings()
    with override_settings(CACHES=caches, RATE_LIMIT_BURST="2/minute", RATE_LIMIT_SUSTAINED="off"):
        assert statuses(tenant.client, tenant.url, 3) == [200, 200, 429]
        # A separate Redis client, as another gunicorn worker or machine would be, sees the count.
        raw = redis.Redis.from_url(REDIS_URL)
        try:
            found = raw.keys(f"{prefix}:*throttle:burst:key:{tenant.api_key.digest[:32]}:*")
            assert len(found) == 1
            assert int(raw.get(found[0])) == 3
            assert 0 < raw.ttl(found[0]) <= 61
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
    assert any("rate limit cache unavailable" in record.getMessage() for record in caplog.records)


@pytest.mark.live_server_process
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server process needs a database it can reach")
@pytest.mark.parametrize("cache", ["redis", "database"])
def test_several_gunicorn_workers_enforce_one_limit(transactional_db, cache):
    if cache == "redis" and not _redis_is_up():
        pytest.skip("needs a Redis server (CI starts one on 127.0.0.1:6379)")
    tenant = Tenant()
    path = tenant.url
    # An hour's window (the server's clock is not pinned), so none rolls over during the test.
    env = {"RATE_LIMIT_BURST": "6/hour", "RATE_LIMIT_SUSTAINED": "off", "REDIS_URL": ""}
    if cache == "redis":
        env["REDIS_URL"] = REDIS_URL
    with served(database_url_of(connection), workers=3, **env) as (base_url, _):
        # Sequential requests, each on a new connection: the workers take turns accepting them.
        statuses = [call(base_url, "GET", path, tenant.raw_key)[0] for _ in range(12)]
    assert statuses == [200] * 6 + [429] * 6
