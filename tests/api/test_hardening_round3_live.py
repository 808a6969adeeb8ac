"""Issue 25's attack table (hardening round 3), the rows that need a live server (`python manage.py serve`)."""

import contextlib
import socket
import threading

import pytest

from tests.live_server import call, live_database, served

pytestmark = pytest.mark.live_server_process


class SilentServer:
    """A real TCP server that accepts every connection and never answers: a hung Redis. Counts them."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(client)  # held open, never read from or written to

    def close(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for client in self.accepted:
            client.close()


# --- Row 9: a Redis that accepts connections and never answers ------------------------------------------


def test_a_hung_redis_is_asked_once_per_breaker_period_and_readyz_reports_it(tmp_path):
    redis = SilentServer()
    try:
        with (
            live_database(tmp_path) as service,
            served(
                service.env["DATABASE_URL"],
                REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
                REDIS_BREAKER_SECONDS="600",
            ) as (base_url, _),
        ):
            path = f"/api/projects/{service.project_id}/signal_source_configs/"
            # Each answered at all: redis-py's default would wait for the hung Redis without end.
            statuses = [call(base_url, "GET", path, service.raw_key)[0] for _ in range(8)]
            status, _, ready = call(base_url, "GET", "/readyz")
    finally:
        redis.close()

    assert statuses == [200] * 8  # let through uncounted
    assert status == 200
    assert ready == {"status": "ok", "rate_limit_cache": "unavailable"}
    # One worker: the first request met the timeout and opened the breaker; nothing asked again.
    assert len(redis.accepted) == 1
