"""The one settings module reads the environment (issue 2).

Each test evaluates a fresh copy of `config/settings.py` with the environment it sets, placed in
an empty folder (so that a local `.secret_key` or `db.sqlite3` of this checkout plays no part). The
running test settings are never touched.
"""

import runpy
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.utils import ConnectionHandler

import config.settings as active_settings

SETTINGS_FILE = Path(active_settings.__file__)
ENV_NAMES = [
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CONN_MAX_AGE",
    "DB_CONNECT_TIMEOUT",
    "DB_PREPARED_STATEMENTS",
    "TEST_DATABASE_NAME",
    "PERSONAL_API_KEY_IN_REQUEST_ALLOWED",
    "REDIS_URL",
    "LOG_LEVEL",
    "SECURE_SSL",
    "RUN_STALE_AFTER_MINUTES",
    "DORMANT_AFTER_DAYS",
    "RUNS_RETENTION_DAYS",
]


@pytest.fixture
def load_settings(tmp_path, monkeypatch):
    """Returns a function that evaluates the settings module under the given environment."""
    package = tmp_path / "config"
    package.mkdir()
    shutil.copy(SETTINGS_FILE, package / "settings.py")

    def load(**env) -> dict:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(package / "settings.py"))

    load.base_dir = tmp_path
    return load


# --- DEBUG and SECRET_KEY --------------------------------------------------------------------------


def test_debug_is_off_unless_set(load_settings):
    assert load_settings(SECRET_KEY="s")["DEBUG"] is False
    assert load_settings(SECRET_KEY="s", DEBUG="")["DEBUG"] is False
    assert load_settings(SECRET_KEY="s", DEBUG="0")["DEBUG"] is False
    assert load_settings(SECRET_KEY="s", DEBUG="no")["DEBUG"] is False
    assert load_settings(SECRET_KEY="s", DEBUG="1")["DEBUG"] is True
    assert load_settings(SECRET_KEY="s", DEBUG="true")["DEBUG"] is True


def test_secret_key_comes_from_the_environment(load_settings):
    assert load_settings(SECRET_KEY="from-env")["SECRET_KEY"] == "from-env"


def test_secret_key_is_required_when_debug_is_off(load_settings):
    with pytest.raises(ImproperlyConfigured, match=r"^SECRET_KEY must be set when DEBUG is off\.$"):
        load_settings()


def test_debug_runs_without_a_secret_key(load_settings):
    assert load_settings(DEBUG="1")["SECRET_KEY"]


def test_local_runs_use_the_generated_secret_key_file(load_settings):
    (load_settings.base_dir / ".secret_key").write_text("generated-by-make-run\n")

    assert load_settings()["SECRET_KEY"] == "generated-by-make-run"
    assert load_settings(SECRET_KEY="env-wins")["SECRET_KEY"] == "env-wins"


# --- Hosts and switches -----------------------------------------------------------------------------


def test_allowed_hosts_default_to_the_local_machine(load_settings):
    # Not `testserver`: Django's test setup adds it for tests only.
    assert load_settings(SECRET_KEY="s")["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]


def test_allowed_hosts_are_comma_separated(load_settings):
    hosts = load_settings(SECRET_KEY="s", ALLOWED_HOSTS=" api.example.com, .example.org ,,")["ALLOWED_HOSTS"]

    assert hosts == ["api.example.com", ".example.org"]


def test_key_in_request_is_off_by_default_and_can_be_turned_on(load_settings):
    assert load_settings(SECRET_KEY="s")["PERSONAL_API_KEY_IN_REQUEST_ALLOWED"] is False
    on = load_settings(SECRET_KEY="s", PERSONAL_API_KEY_IN_REQUEST_ALLOWED="true")
    assert on["PERSONAL_API_KEY_IN_REQUEST_ALLOWED"] is True


def test_https_settings_turn_on_with_secure_ssl(load_settings):
    assert "SECURE_SSL_REDIRECT" not in load_settings(SECRET_KEY="s")
    secure = load_settings(SECRET_KEY="s", SECURE_SSL="1")
    assert secure["SECURE_SSL_REDIRECT"] is True
    assert secure["SESSION_COOKIE_SECURE"] is True
    assert secure["CSRF_COOKIE_SECURE"] is True
    assert secure["SECURE_HSTS_SECONDS"] > 0


def test_redis_cache_when_redis_url_is_set(load_settings):
    assert load_settings(SECRET_KEY="s")["CACHES"]["default"]["BACKEND"].endswith("DatabaseCache")
    redis = load_settings(SECRET_KEY="s", REDIS_URL="redis://127.0.0.1:6379/0")["CACHES"]["default"]
    assert redis == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
        "OPTIONS": {"socket_timeout": 0.05, "socket_connect_timeout": 0.05},  # tens of ms, not redis-py's none
    }


def test_logs_go_to_stdout_as_json_with_the_request_id(load_settings):
    logging_config = load_settings(SECRET_KEY="s", LOG_LEVEL="WARNING")["LOGGING"]

    handler = logging_config["handlers"]["stdout"]
    assert handler["stream"] == "ext://sys.stdout"
    assert handler["filters"] == ["request_id"]
    assert logging_config["formatters"][handler["formatter"]]["()"] == "pythonjsonlogger.json.JsonFormatter"
    assert logging_config["root"] == {"handlers": ["stdout"], "level": "WARNING"}


# --- Databases --------------------------------------------------------------------------------------


def test_default_database_is_a_sqlite_file_in_the_project_folder(load_settings):
    database = load_settings(SECRET_KEY="s")["DATABASES"]["default"]

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(load_settings.base_dir / "db.sqlite3")


def test_sqlite_is_set_up_for_a_multi_threaded_server(load_settings):
    options = load_settings(SECRET_KEY="s")["DATABASES"]["default"]["OPTIONS"]

    assert options["transaction_mode"] == "IMMEDIATE"
    assert "PRAGMA journal_mode=WAL" in options["init_command"]


def test_a_sqlite_file_really_opens_in_wal_mode_with_immediate_transactions(load_settings, tmp_path, django_db_blocker):
    path = tmp_path / "wal.sqlite3"
    handler = ConnectionHandler(load_settings(SECRET_KEY="s", DATABASE_URL=f"sqlite:///{path}")["DATABASES"])
    sqlite = handler["default"]
    with django_db_blocker.unblock():
        try:
            with sqlite.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone()[0] == "wal"
                cursor.execute("CREATE TABLE t (x INTEGER)")
            # IMMEDIATE: a transaction takes the write lock when it begins, not at its first write, so a
            # second writer is refused at once instead of both failing midway.
            # What transaction.atomic() does on entry, on this private connection.
            sqlite.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            other = sqlite3.connect(path, timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
                # WAL: readers are not blocked by the writer.
                assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
            finally:
                other.close()
                sqlite.rollback()
                sqlite.set_autocommit(True)
        finally:
            handler.close_all()


def test_postgresql_url_uses_psycopg_with_health_checks_and_a_connect_timeout(load_settings):
    database = load_settings(
        SECRET_KEY="s",
        DATABASE_URL="postgres://app:pw@db.internal:6543/signals",
        CONN_MAX_AGE="30",
        DB_CONNECT_TIMEOUT="2",
    )["DATABASES"]["default"]

    assert database["ENGINE"] == "config.postgresql"  # Django's, with a health check without a round trip
    assert (database["HOST"], database["PORT"], database["NAME"], database["USER"]) == (
        "db.internal",
        6543,
        "signals",
        "app",
    )
    assert database["CONN_MAX_AGE"] == 30
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 2


def test_postgresql_prepares_statements_unless_turned_off(load_settings):
    url = "postgres://app@db.internal/signals"
    options = load_settings(SECRET_KEY="s", DATABASE_URL=url)["DATABASES"]["default"]["OPTIONS"]
    assert (options["server_side_binding"], options["prepare_threshold"]) == (True, 2)

    options = load_settings(SECRET_KEY="s", DATABASE_URL=url, DB_PREPARED_STATEMENTS="0")["DATABASES"]["default"]
    assert "server_side_binding" not in options["OPTIONS"] and "prepare_threshold" not in options["OPTIONS"]


# transaction=True: statements inside a transaction are never prepared (config/postgresql/base.py),
# and a request's reads run outside one, in autocommit, as here.
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="checks the live PostgreSQL connection")
def test_postgresql_prepares_a_statement_it_runs_again():
    connection.ensure_connection()
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT COUNT(*) FROM projects_project WHERE id = %s", [1])
        cursor.execute("SELECT COUNT(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1


def test_test_database_name_can_be_set_for_parallel_runs(load_settings):
    database = load_settings(SECRET_KEY="s", TEST_DATABASE_NAME="test_someone")["DATABASES"]["default"]

    assert database["TEST"] == {"NAME": "test_someone"}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="checks the live PostgreSQL connection's driver")
def test_postgresql_runs_on_psycopg_3():
    connection.ensure_connection()

    assert connection.Database.__name__ == "psycopg"
    assert connection.Database.__version__.startswith("3.")
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


# --- The test settings themselves ------------------------------------------------------------------


def test_tests_run_with_debug_off():
    from django.conf import settings

    assert settings.DEBUG is False


# --- Processing runs (issue 27) ---------------------------------------------------------------------


def test_the_runs_settings_have_defaults_and_come_from_the_environment(load_settings):
    from datetime import timedelta

    defaults = load_settings(SECRET_KEY="s")
    assert defaults["RUN_STALE_AFTER"] == timedelta(minutes=15)
    assert defaults["DORMANT_AFTER"] == timedelta(days=7)
    assert defaults["RUNS_RETENTION_DAYS"] == 30
    chosen = load_settings(
        SECRET_KEY="s", RUN_STALE_AFTER_MINUTES="5", DORMANT_AFTER_DAYS="2", RUNS_RETENTION_DAYS="90"
    )
    assert (chosen["RUN_STALE_AFTER"], chosen["DORMANT_AFTER"], chosen["RUNS_RETENTION_DAYS"]) == (
        timedelta(minutes=5),
        timedelta(days=2),
        90,
    )
