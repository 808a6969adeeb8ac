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


# --- Row 4: a client that dies mid-upload ---------------------------------------------------------------


def send_cut_off(base_url, raw_key, path, body: bytes, declared: int) -> bytes:
    """Sends `body` with a Content-Length of `declared`, then closes its sending side; returns what
    the server answered (possibly nothing)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {raw_key}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: cut-off\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        connection.sendall(head.encode() + body)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
        return answer


def test_a_body_shorter_than_its_content_length_is_a_400_and_stores_nothing(tmp_path):
    # A form: what arrived is a valid form by itself (a create with enabled and config left to defaults).
    whole = b"source_product=github&source_type=issue&enabled=false&config=%7B%22steering%22%3A%22x%22%7D"
    cut = whole[: len(b"source_product=github&source_type=issue")]
    with live_database(tmp_path) as service, served(service.env["DATABASE_URL"]) as (base_url, _):
        path = f"/api/projects/{service.project_id}/signal_source_configs/"
        answer = send_cut_off(base_url, service.raw_key, path, cut, len(whole))
        # One worker: this is answered after the cut-off request was handled.
        listed = call(base_url, "GET", path, service.raw_key)
        retried = call(base_url, "POST", path, service.raw_key, {"source_product": "github", "source_type": "issue"})

    if answer:  # the server may not answer a client that hung up
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"incomplete_body" in answer
    assert listed[2]["count"] == 0
    assert retried[0] == 201  # nothing was stored, and the retry is a fresh create


# --- Row 2: a slow body from a client without a key holds no worker -----------------------------------


def start_slow_body(base_url, path: str, headers: str = "") -> socket.socket:
    """Sends a request head and the first chunk of a chunked body, and never the rest."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}"
        "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n".encode()
    )
    return connection


def test_slow_bodies_without_a_valid_key_are_answered_from_their_head_and_stall_nobody(tmp_path):
    with live_database(tmp_path) as service, served(service.env["DATABASE_URL"]) as (base_url, _):
        path = f"/api/projects/{service.project_id}/signal_source_configs/"
        # One worker, and bodies that never end: if anything read them, that worker would be held.
        slow = [
            start_slow_body(base_url, "/healthz"),
            start_slow_body(base_url, path),
            start_slow_body(base_url, path, "Authorization: Bearer phx_not_a_key\r\n"),
            start_slow_body(base_url, "/api/schema/"),
        ]
        try:
            # Each is answered while its body is still unfinished (the socket's timeout guards a hang).
            answers = [connection.recv(200) for connection in slow]
            health = call(base_url, "GET", "/healthz")
            listed = call(base_url, "GET", path, service.raw_key)
        finally:
            for connection in slow:
                connection.close()

    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.1 405 Method Not Allowed",
    ]
    assert health[0] == 200
    assert listed[0] == 200
