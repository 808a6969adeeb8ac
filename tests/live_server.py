"""A real server (`python manage.py serve`) for tests that need one: worker processes, a real socket, real HTTP.

Only for PostgreSQL runs (or routes that never touch the database): the server is a separate
process, so it can only see data the test has committed (`transactional_db`) in a database it can
reach over the network.
"""

import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# A guard against a hang, not a speed measurement: a request that has not answered by then has hung.
HANG_GUARD_SECONDS = 30
# Starting workers imports Django in each; on a loaded 2-core machine that has taken over 30 s.
STARTUP_GUARD_SECONDS = 120


class TCPProxy:
    """Forwards a local port to the database. `down()` cuts every connection and refuses new ones;
    `blackhole()` accepts connections and never answers; `up()` forwards again, on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "up"
        self.listener = None
        self.port = None
        self.open_sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self._listen()

    def _listen(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: down
            with self.lock:
                self.open_sockets.add(client)
            if self.mode == "blackhole":
                continue  # keep it open, say nothing
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open_sockets.add(upstream)
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a, b):
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def _cut_everything(self):
        # shutdown() first: close() alone leaves a listener that a thread is blocked on accepting.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for s in self.open_sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
            self.open_sockets.clear()

    def down(self):
        self.mode = "down"
        self._cut_everything()

    def blackhole(self):
        self._cut_everything()
        self.mode = "blackhole"
        self._listen()

    def up(self):
        self._cut_everything()
        self.mode = "up"
        self._listen()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base_url, method, path, raw_key=None, body=None):
    """(status, headers, parsed body) from the live server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)  # noqa: S310 (http only)
    if raw_key:
        request.add_header("Authorization", f"Bearer {raw_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HANG_GUARD_SECONDS) as response:  # noqa: S310
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


@contextlib.contextmanager
def served(database_url: str, workers: int = 1, project_dir: Path = ROOT, **env):
    """Serves the app with `python manage.py serve` (as production does) on a free port; yields
    (base_url, process). The server runs in a session of its own and is stopped by its process id.
    `project_dir`: another checkout of the project to serve (a previous release, say)."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_NAME", "DEBUG"}}
    environment.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test-" + "s" * 60,
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        LOG_LEVEL="WARNING",
        **env,
    )
    # A file, not a pipe: nobody reads a pipe while the server runs, and a full one would block it.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=project_dir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_GUARD_SECONDS
            while True:
                with contextlib.suppress(OSError):
                    if call(base_url, "GET", "/healthz")[0] == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError("the server did not start:\n" + log.read().decode(errors="replace"))
                time.sleep(0.05)
            yield base_url, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=HANG_GUARD_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@dataclass
class LiveService:
    """A live server on a database of its own, with a project and a task:read/write key."""

    base_url: str
    raw_key: str
    project_id: int
    env: dict

    def manage(self, *args: str) -> str:
        """Runs a management command against the server's database; returns its stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return result.stdout.strip()

    @property
    def configs_url(self) -> str:
        return f"{self.base_url}/api/projects/{self.project_id}/signal_source_configs/"


@contextlib.contextmanager
def live_database(tmp_dir: Path):
    """Yields a LiveService without a server yet (`base_url` empty). Its database is new: a SQLite file
    in `tmp_dir`, or, when this run is on PostgreSQL, a database created for it and dropped afterwards.
    (A server is another process, so it cannot see pytest-django's test database, which on SQLite
    lives in memory.) It is set up with the same management commands an operator uses."""
    with throwaway_database(tmp_dir) as database_url:
        environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_NAME"}
        environment.update(DATABASE_URL=database_url, SECRET_KEY="test-" + "s" * 60, DEBUG="0")
        service = LiveService("", "", 0, environment)
        service.manage("migrate", "--no-input")
        service.manage("createcachetable")
        service.project_id = int(service.manage("create_project", "Live project", "--member", "live@example.com"))
        service.raw_key = service.manage("create_api_key", "live@example.com", "--scopes", "task:read,task:write")
        yield service


@contextlib.contextmanager
def live_service(tmp_dir: Path, **env):
    """Yields a LiveService on a database of its own (`live_database`), served by two workers."""
    with live_database(tmp_dir) as service, served(service.env["DATABASE_URL"], workers=2, **env) as (base_url, _):
        service.base_url = base_url
        yield service


@contextlib.contextmanager
def throwaway_database(tmp_dir: Path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_dir / 'live.sqlite3'}"
        return
    name = f"live_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url_of(connection, host=None, port=None) -> str:
    """The URL of this run's test database, optionally reached through another host and port."""
    settings_dict = connection.settings_dict
    user = settings_dict["USER"] or ""
    host = host or settings_dict["HOST"] or "127.0.0.1"
    port = port or settings_dict["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"
