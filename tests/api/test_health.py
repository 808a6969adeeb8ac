"""`/healthz` (the process is up, no database) and `/readyz` (the database answers, else 503), issue 2."""

import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from api.throttling import redis_breaker
from tests.api.test_rate_limits import _redis_is_up, redis_cache_settings
from tests.helpers import PROJECT_DIR

# Run in a separate process whose settings point at a database that does not answer. The shared
# servers are never stopped: PostgreSQL is asked for on a port nobody listens on (1), SQLite for a
# file in a directory that does not exist.
PROBE_SCRIPT = """
import json
import django

django.setup()
from django.test import Client

client = Client(raise_request_exception=False)
results = {}
for url in ("/healthz", "/readyz"):
    response = client.get(url)
    results[url] = {"status": response.status_code, "body": response.json(),
                    "retry_after": response.headers.get("Retry-After")}
print(json.dumps(results))
"""


def probe_with_database(database_url: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DB_CONNECT_TIMEOUT": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "health-test-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "CRITICAL",  # keep stdout for the results
    }
    env.pop("TEST_DATABASE_NAME", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_healthz_answers_ok_without_touching_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = APIClient().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_readyz_answers_ok_when_the_database_answers():
    response = APIClient().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_need_no_key_and_ignore_a_bad_one(url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer phx_not-a-key")

    assert client.get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_answer_head(url):
    response = APIClient().head(url)

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_probes_refuse_other_methods_with_a_json_405(url, method):
    # A real client's POST carries no CSRF token; it must still get the 405, not a CSRF page.
    client = APIClient(enforce_csrf_checks=True)

    response = getattr(client, method)(url)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {
        "type": "invalid_request",
        "code": "method_not_allowed",
        "detail": f'Method "{method.upper()}" not allowed.',
        "attr": None,
    }


@pytest.mark.parametrize(
    "database_url",
    ["postgres://root@127.0.0.1:1/unreachable", "sqlite:////nonexistent-dir-helper-health/db.sqlite3"],
    ids=["postgresql", "sqlite"],
)
def test_when_the_database_does_not_answer_readyz_is_503_and_healthz_stays_200(database_url):
    results = probe_with_database(database_url)

    assert results["/healthz"] == {"status": 200, "body": {"status": "ok"}, "retry_after": None}
    assert results["/readyz"] == {
        "status": 503,
        "body": {"status": "unavailable", "detail": "The database does not answer."},
        "retry_after": "5",
    }


# The probes with the rate limits' cache in Redis: the ping's answer, or its failure, is reported and
# keeps the instance in service (api/health.py).
@pytest.mark.django_db
@pytest.mark.skipif(not _redis_is_up(), reason="needs the test Redis")
def test_the_probes_report_a_redis_that_answers():
    with override_settings(CACHES=redis_cache_settings()[0]):
        for url in ("/healthz", "/readyz"):
            response = APIClient().get(url)
            assert response.status_code == 200, url
            assert response.json() == {"status": "ok", "rate_limit_cache": "ok"}, url


@pytest.mark.django_db
@pytest.mark.skipif(not _redis_is_up(), reason="needs the test Redis")
def test_the_probes_report_a_redis_that_does_not_answer_or_whose_breaker_is_open():
    with override_settings(CACHES=redis_cache_settings()[0]):
        redis_breaker.trip()  # a failure moments ago: Redis is not asked
        response = APIClient().get("/readyz")
        assert (response.status_code, response.json()) == (200, {"status": "ok", "rate_limit_cache": "unavailable"})
    redis_breaker.reset()
    refused = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with override_settings(CACHES=refused):
        response = APIClient().get("/readyz")
        assert (response.status_code, response.json()) == (200, {"status": "ok", "rate_limit_cache": "unavailable"})
        assert redis_breaker.is_open()  # the failure tripped it
