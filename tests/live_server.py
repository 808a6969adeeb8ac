"""A real gunicorn server for tests that need one: worker processes, a real socket, real HTTP.

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
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A guard against a hang, not a speed measurement: a request that has not answered by then has hung.
HANG_GUARD_SECONDS = 30


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
def gunicorn_server(database_url: str, workers: int = 1, **env):
    """Serves the app with gunicorn.conf.py on a free port; yields (base_url, process)."""
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
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "signalsource.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            with contextlib.suppress(OSError):
                if call(base_url, "GET", "/healthz")[0] == 200:
                    break
            if server.poll() is not None:
                raise AssertionError(server.stdout.read().decode(errors="replace"))
            time.sleep(0.05)
        yield base_url, server
    finally:
        server.terminate()
        server.communicate(timeout=HANG_GUARD_SECONDS)


def database_url_of(connection, host=None, port=None) -> str:
    """The URL of this run's test database, optionally reached through another host and port."""
    settings_dict = connection.settings_dict
    user = settings_dict["USER"] or ""
    host = host or settings_dict["HOST"] or "127.0.0.1"
    port = port or settings_dict["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"
