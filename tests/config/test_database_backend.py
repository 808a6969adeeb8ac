"""The PostgreSQL backend (config/postgresql): Django's, with a health check that asks the socket.

Django's own check sends `SELECT 1` before each request's first query; this one sends nothing, and
still replaces a connection the server has closed before a request uses it.
"""

import threading
import time

import psycopg
import pytest
from django.db import connection, connections

from signalsource.models import SignalSourceConfig
from tests.helpers import Tenant, make_config
from tests.live_server import call, database_url_of, served

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's health check"),
]
# A guard against a hang, not a speed measurement.
GUARD_SECONDS = 10


def _admin_connection():
    return psycopg.connect(database_url_of(connection), autocommit=True)


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def own_connection():
    """A connection of its own (the test's runs inside a transaction that must survive)."""
    other = connections.create_connection("default")
    other.ensure_connection()
    yield other
    other.close()


def test_a_healthy_connection_passes_without_a_query_to_the_server(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    assert own_connection.is_usable()

    with _admin_connection() as admin:
        last = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
    assert last == "SELECT pg_backend_pid()"  # Django's check would have left "SELECT 1"


def test_a_connection_the_server_closed_is_unusable(own_connection):
    pid = _backend_pid(own_connection)
    with _admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    deadline = time.monotonic() + GUARD_SECONDS
    while own_connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.01)  # the server's goodbye travels asynchronously
    assert not own_connection.is_usable()


def test_a_closed_connection_is_unusable(own_connection):
    own_connection.connection.close()

    assert not own_connection.is_usable()


@pytest.mark.live_server_process
def test_a_request_after_the_database_closed_the_servers_connection_is_answered(transactional_db):
    tenant = Tenant()
    path = f"/api/projects/{tenant.project.id}/signal_source_configs/"
    own_pid = _backend_pid(connection)  # this test's connection is spared
    with served(database_url_of(connection), CONN_MAX_AGE="60") as (base_url, _):
        assert call(base_url, "GET", path, tenant.raw_key)[0] == 200

        with _admin_connection() as admin:  # what a database restart does to the server's connection
            terminated = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                [own_pid],
            ).fetchall()
        assert terminated
        time.sleep(0.2)  # the goodbye reaches the server's socket

        status, _, body = call(base_url, "GET", path, tenant.raw_key)
        assert status == 200, body


@pytest.mark.live_server_process
def test_a_column_type_change_while_serving_answers_every_request(transactional_db):
    """Issue 25 row 1: what widening a `max_length` in a migration does, while requests flow. Every
    statement the server prepared before the ALTER returns the column; none of its requests may fail."""
    tenant = Tenant()
    config = make_config(tenant.project)
    path = f"/api/projects/{tenant.project.id}/signal_source_configs/"
    statuses = []

    def one_round(enabled=True):
        statuses.append(call(base_url, "GET", path, tenant.raw_key)[0])
        statuses.append(call(base_url, "GET", f"{path}{config.id}/", tenant.raw_key)[0])
        statuses.append(call(base_url, "PATCH", f"{path}{config.id}/", tenant.raw_key, {"enabled": enabled})[0])

    def keep_asking(stop):
        while not stop.is_set():
            one_round(enabled=False)

    table = SignalSourceConfig._meta.db_table
    try:
        with served(database_url_of(connection), CONN_MAX_AGE="60") as (base_url, _):
            for _ in range(4):  # psycopg prepares a statement on its third use
                one_round()
            stop = threading.Event()
            flowing = threading.Thread(target=keep_asking, args=(stop,))
            flowing.start()
            try:
                with _admin_connection() as admin:
                    admin.execute(f"ALTER TABLE {table} ALTER COLUMN status TYPE varchar(32)")
                for _ in range(4):
                    one_round()
            finally:
                stop.set()
                flowing.join()
    finally:
        with _admin_connection() as admin:
            admin.execute(f"ALTER TABLE {table} ALTER COLUMN status TYPE varchar(16)")

    assert len(statuses) >= 24
    assert [status for status in statuses if status >= 500] == []
    assert set(statuses) == {200}
