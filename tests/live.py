"""A real gunicorn server for end-to-end tests, on a database of its own.

The server runs in other processes, so it cannot see pytest-django's test database (on SQLite that
one lives in memory). It gets a fresh SQLite file or a fresh PostgreSQL database instead, set up with
the same management commands an operator uses.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 30


@dataclass
class LiveService:
    base_url: str
    raw_key: str
    project_id: int
    env: dict

    def manage(self, *args: str) -> str:
        """Runs a management command against the server's database; returns its stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    @property
    def configs_url(self) -> str:
        return f"{self.base_url}/api/projects/{self.project_id}/signal_source_configs/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Database:
    """A throwaway database named after this run: a SQLite file, or a PostgreSQL database."""

    def __init__(self, tmp_dir: Path):
        url = os.environ.get("DATABASE_URL", "")
        self.pg = dj_database_url.parse(url) if url.startswith(("postgres://", "postgresql://")) else None
        if self.pg:
            self.name = f"live_{uuid.uuid4().hex[:12]}"
            self.url = url.rsplit("/", 1)[0] + "/" + self.name
        else:
            self.url = f"sqlite:///{tmp_dir / 'live.sqlite3'}"

    def _admin(self):
        return psycopg.connect(
            host=self.pg["HOST"],
            port=self.pg["PORT"] or 5432,
            user=self.pg["USER"],
            password=self.pg["PASSWORD"] or None,
            dbname=self.pg["NAME"],
            autocommit=True,
        )

    def create(self):
        if self.pg:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        if self.pg:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def start_live_service(tmp_dir: Path, extra_env: dict | None = None):
    """Starts the server; returns (LiveService, stop function)."""
    database = _Database(tmp_dir)
    database.create()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "SECRET_KEY": "live-test-secret-key-" + uuid.uuid4().hex,
        "DEBUG": "0",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        **(extra_env or {}),
    }
    env.pop("TEST_DATABASE_NAME", None)
    service = LiveService(f"http://127.0.0.1:{port}", "", 0, env)
    service.manage("migrate", "--no-input")
    service.manage("createcachetable")
    service.project_id = int(service.manage("create_project", "Live project", "--member", "live@example.com"))
    service.raw_key = service.manage("create_api_key", "live@example.com", "--scopes", "task:read,task:write")

    log_file = open(tmp_dir / "gunicorn.log", "w")  # noqa: SIM115 -- open for the server's lifetime
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "signalsource.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )

    def stop():
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        database.drop()

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{service.base_url}/healthz", timeout=1):  # noqa: S310 -- loopback
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop()
                raise RuntimeError(f"gunicorn did not start; see {tmp_dir / 'gunicorn.log'}") from None
            time.sleep(0.2)
    return service, stop
