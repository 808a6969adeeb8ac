"""Shared fixtures. The plain helpers they are built on (factories, URLs, assert_error, database
snapshots) live in `tests/helpers.py`; import them from there."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import (  # re-exported: some modules still import the factories from here
    Tenant,
    configs_url,
    key_client,
    make_key,
    make_organization,
    make_project,
    make_user,
)

__all__ = ["Tenant", "configs_url", "key_client", "make_key", "make_organization", "make_project", "make_user"]


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """Collects the static files into a directory of this run, as `make run` does, so that whitenoise
    serves them and admin pages find their hashed names. Plain manifest storage: the same hashed
    names as production's, without production's gzip pass, which would add seconds to every run."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    # TEST_STATIC_ROOT: a directory collected once and kept (tools/mutate.py runs a pytest session per
    # mutant, and collecting costs seconds each time).
    kept = os.environ.get("TEST_STATIC_ROOT")
    static_root = Path(kept) if kept else tmp_path_factory.mktemp("static")
    manifest_storage = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": manifest_storage}
    with override_settings(STATIC_ROOT=static_root, STORAGES=storages):
        if not (static_root / "staticfiles.json").exists():
            call_command("collectstatic", interactive=False, verbosity=0)
        yield static_root


@pytest.fixture
def tenant(db):
    return Tenant()


@pytest.fixture
def other_tenant(db):
    return Tenant()


@pytest.fixture
def pinned_now(monkeypatch):
    """Pins `django.utils.timezone.now()` (the clock of the key's last use and of idempotency records)
    at `pinned_now.now`; tests move it by hand."""
    from django.utils import timezone

    class Clock:
        now = timezone.now()

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


@pytest.fixture
def fast_password_hashing(settings):
    """For admin tests: the admin_client fixture's superuser has a password, and real hashing would
    dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def live_service(tmp_path_factory):
    """A real server (`python manage.py serve`) on its own database, with a project and a task:read/write key."""
    from tests.live_server import live_service

    with live_service(tmp_path_factory.mktemp("live")) as service:
        yield service


@pytest.fixture(autouse=True)
def closed_redis_breaker():
    """Every test starts with the rate limits' Redis breaker closed (api/throttling.py): a test that
    failed Redis on purpose must not leave the next one skipping it."""
    from api.throttling import redis_breaker

    redis_breaker.reset()
    yield
    redis_breaker.reset()


@pytest.fixture(scope="session", autouse=True)
def cold_query_caches():
    """What common/sql.py, the selectors, the key's lookup and the rate limits build once per process
    (SQL, parsed rates) is built anew in each session: tools/mutate.py runs a session per mutant, in
    processes forked from one that built it."""
    from api import throttling
    from auth_keys import authentication
    from common import sql
    from signalsource import selectors

    for cached in (
        sql._insert_of,
        selectors._one_config_query,
        selectors._page_query,
        authentication._lookup,
        throttling._database_statements,
        throttling.parse_rate,
    ):
        cached.cache_clear()
