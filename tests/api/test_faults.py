"""Faults: the database going away under a running server, and crashes inside a view.

The database outage runs a real server (`python manage.py serve`) whose only way to PostgreSQL is a TCP proxy owned
by the test. Taking the proxy down cuts every open connection and refuses new ones, as a stopped or
unreachable database would, without touching the PostgreSQL server other test runs share.
"""

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import Tenant
from tests.live_server import TCPProxy, call, database_url_of, served

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="takes a network database away; SQLite has no server to lose"
)


@pytest.fixture
def proxied_server(transactional_db):
    """A gunicorn server (one worker) reaching this run's test database only through a TCPProxy."""
    settings_dict = connection.settings_dict
    proxy = TCPProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    database_url = database_url_of(connection, "127.0.0.1", proxy.port)
    try:
        with served(database_url, DB_CONNECT_TIMEOUT="2", CONN_MAX_AGE="60") as (base_url, server):
            yield base_url, proxy, server
    finally:
        proxy.down()


def assert_unavailable(status, headers, body):
    assert status == 503, body
    assert int(headers["Retry-After"]) > 0
    assert body["type"] == "server_error"
    assert body["code"] == "service_unavailable"
    assert body["request_id"]
    assert "Traceback" not in json.dumps(body)


@needs_postgresql
@pytest.mark.live_server_process
def test_a_database_outage_answers_503_and_the_server_recovers_without_a_restart(proxied_server):
    base_url, proxy, server = proxied_server
    tenant = Tenant()
    path = f"/api/projects/{tenant.project.id}/signal_source_configs/"
    assert call(base_url, "GET", path, tenant.raw_key)[0] == 200
    status, _, created = call(
        base_url, "POST", path, tenant.raw_key, {"source_product": "github", "source_type": "issue"}
    )
    assert status == 201, created

    # 1. The database goes away: open connections are cut, new ones refused.
    proxy.down()
    assert_unavailable(*call(base_url, "GET", path, tenant.raw_key))
    assert_unavailable(
        *call(base_url, "POST", path, tenant.raw_key, {"source_product": "linear", "source_type": "issue"})
    )
    assert_unavailable(*call(base_url, "PATCH", f"{path}{created['id']}/", tenant.raw_key, {"enabled": False}))
    status, headers, body = call(base_url, "GET", "/readyz")
    assert status == 503, body
    assert headers["Retry-After"]
    assert call(base_url, "GET", "/healthz")[0] == 200  # the process itself is fine

    # 2. The database host answers TCP but never speaks: the connect timeout ends it, not the client.
    proxy.blackhole()
    assert_unavailable(*call(base_url, "GET", path, tenant.raw_key))

    # 3. The database is back: the same server process serves again.
    proxy.up()
    status, _, body = call(base_url, "GET", path, tenant.raw_key)
    assert status == 200, body
    assert [row["id"] for row in body["results"]] == [created["id"]]
    status, _, body = call(base_url, "POST", path, tenant.raw_key, {"source_product": "linear", "source_type": "issue"})
    assert status == 201, body
    assert call(base_url, "GET", "/readyz")[0] == 200
    assert server.poll() is None

    # Nothing was written while the database was away, and the writes after it are there once.
    rows = SignalSourceConfig.objects.filter(project=tenant.project)
    assert sorted(rows.values_list("source_product", "enabled")) == [("github", True), ("linear", True)]


# --- Crashes --------------------------------------------------------------------------------


SECRET_LOOKING_MESSAGE = "boom SELECT * FROM auth_keys_personalapikey; SECRET_KEY=abc /work/main/signalsource"


@pytest.fixture
def crashing_create(monkeypatch):
    def crash(**kwargs):
        raise RuntimeError(SECRET_LOOKING_MESSAGE)

    monkeypatch.setattr(services, "create_config", crash)


def test_a_crash_in_a_view_is_a_json_500_with_the_request_id_and_nothing_internal(tenant, crashing_create, caplog):
    caplog.set_level(logging.ERROR, logger="api.errors")
    response = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")

    assert response.status_code == 500, response.content
    body = response.json()
    assert body == {
        "type": "server_error",
        "code": "error",
        "detail": "A server error occurred.",
        "attr": None,
        "request_id": response["X-Request-ID"],
    }
    for internal in ("boom", "SELECT", "SECRET_KEY", "Traceback", "/work/main", "RuntimeError"):
        assert internal not in response.content.decode()

    # Logged, with the traceback and the same request id.
    records = [r for r in caplog.records if r.name == "api.errors"]
    assert len(records) == 1
    assert records[0].exc_info and records[0].exc_info[0] is RuntimeError
    assert records[0].request_id == response["X-Request-ID"]
    assert not SignalSourceConfig.objects.exists()


def test_the_service_keeps_serving_after_a_crash(tenant, crashing_create):
    assert (
        tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json").status_code
        == 500
    )
    assert tenant.client.get(tenant.url).status_code == 200


def test_a_crash_outside_the_api_views_is_a_json_500_too(db, monkeypatch, caplog):
    import api.health as health

    def crash(*args, **kwargs):
        raise RuntimeError(SECRET_LOOKING_MESSAGE)

    monkeypatch.setattr(health, "JsonResponse", crash)
    client = Client(raise_request_exception=False)
    response = client.get("/healthz")

    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "server_error"
    assert body["request_id"] == response["X-Request-ID"]
    assert "boom" not in response.content.decode()
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
