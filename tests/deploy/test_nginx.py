"""deploy/nginx.conf, run by the real nginx in front of two real instances on PostgreSQL.

Slow uploads are held by nginx, not by the instances' workers; the client address the service sees
is the real client's, whatever headers the client sends; keyed creates reach the service intact
through the retrying location; the schema is cached.
"""

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import uuid

import pytest

from tests.deploy.topology import NGINX_CONF, instances, nginx, nginx_available, postgresql_only
from tests.live_server import live_database

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(not nginx_available(), reason="nginx is not installed (.ci/run installs it)"),
]

# A behaviour bound, not a speed measurement: a probe that takes longer than this is a stalled instance.
PROBE_BUDGET_SECONDS = 1.0
SLOW_CLIENTS = 200


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    """Two instances and nginx, shared by this module's tests (starting instances takes most of the time)."""
    postgresql_only()
    tmp_path = tmp_path_factory.mktemp("topology")
    # Anonymous requests limited to 3 a minute per client address (counted in the shared database).
    limits = {"RATE_LIMITS_ENABLED": "1", "RATE_LIMIT_ANONYMOUS": "3/minute"}
    with (
        live_database(tmp_path) as service,
        instances(tmp_path, service.env, **limits) as running,
        nginx(tmp_path, [instance.port for instance in running]) as base_url,
    ):
        service.base_url = base_url
        yield service, running


def _request(base_url, method, path, headers=None, body=None, source="127.0.0.1", timeout=30.0):
    """(status, headers, body text) over a fresh connection from `source` (any 127.x address is ours)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        conn.close()


def _slow_senders(base_url, count, list_path, key, stop: threading.Event, opened: list):
    """Half keyed creates, half admin logins, each announcing a body and sending one byte a second."""
    host, port = base_url.removeprefix("http://").split(":")
    sockets = []
    for index in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        if index % 2:
            head = (
                f"POST {list_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1024\r\n\r\n"
            )
        else:
            head = (
                f"POST /admin/login/ HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1024\r\n\r\n"
            )
        sock.sendall(head.encode())
        sockets.append(sock)
    opened.append(len(sockets))
    while not stop.wait(1.0):
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(b" ")
    for sock in sockets:
        sock.close()


def test_slowly_sent_bodies_never_stall_an_instance(topology):
    service, _ = topology
    list_path = service.configs_url.removeprefix(service.base_url)
    auth = {"Authorization": f"Bearer {service.raw_key}"}
    stop = threading.Event()
    opened: list[int] = []
    attacker = threading.Thread(
        target=_slow_senders, args=(service.base_url, SLOW_CLIENTS, list_path, service.raw_key, stop, opened)
    )
    attacker.start()
    slowest = {"/healthz": 0.0, list_path: 0.0}
    failures = []
    try:
        deadline = time.monotonic() + 30
        while not opened and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened == [SLOW_CLIENTS]
        # The bodies keep trickling for 6 s: every probe during that time must answer within budget.
        until = time.monotonic() + 6
        while time.monotonic() < until:
            for path in slowest:
                started = time.monotonic()
                try:
                    status, _, _ = _request(service.base_url, "GET", path, auth, timeout=PROBE_BUDGET_SECONDS)
                except OSError as error:
                    failures.append((path, repr(error)))
                    continue
                elapsed = time.monotonic() - started
                slowest[path] = max(slowest[path], elapsed)
                if status != 200:
                    failures.append((path, status))
            time.sleep(0.2)
    finally:
        stop.set()
        attacker.join()
    print(f"{SLOW_CLIENTS} slow bodies through nginx; slowest probe: {slowest}")
    assert not failures, failures
    assert max(slowest.values()) < PROBE_BUDGET_SECONDS


def test_the_service_sees_the_real_client_address_whatever_the_client_sends(topology):
    service, running = topology
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8", "X-Request-ID": "forged-address"}
    for source in ("127.0.0.2", "127.0.0.3"):
        status, _, _ = _request(service.base_url, "GET", "/healthz", {**forged, "X-Request-ID": source}, source=source)
        assert status == 200
    seen = {
        line["request_id"]: line["client"]
        for instance in running
        for line in instance.request_log()
        if line.get("path") == "/healthz" and line.get("request_id", "").startswith("127.0.0.")
    }
    assert seen == {"127.0.0.2": "127.0.0.2", "127.0.0.3": "127.0.0.3"}


def test_rate_limits_count_the_real_client_and_forged_headers_do_not_reset_them(topology):
    service, _ = topology
    path = service.configs_url.removeprefix(service.base_url)
    statuses = []
    for attempt in range(5):
        # A new forged address every time: were it believed, each request would start a fresh count.
        forged = {"X-Forwarded-For": f"198.51.100.{attempt}", "X-Real-IP": f"198.51.100.{attempt}"}
        statuses.append(_request(service.base_url, "GET", path, forged, source="127.0.0.4")[0])
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    # Another real client is counted on its own, on either instance.
    assert _request(service.base_url, "GET", path, source="127.0.0.5")[0] == 401


def test_a_keyed_create_passes_through_the_retrying_location_once(topology):
    service, _ = topology
    path = service.configs_url.removeprefix(service.base_url)
    key = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {service.raw_key}", "Content-Type": "application/json", "Idempotency-Key": key}
    body = json.dumps({"source_product": "session_replay", "source_type": "session_analysis_cluster", "config": {}})
    first = _request(service.base_url, "POST", path, headers, body)
    again = _request(service.base_url, "POST", path, headers, body)
    assert first[0] == 201, first
    assert again[0] == 201 and again[1]["Idempotent-Replayed"] == "true"
    assert json.loads(again[2])["id"] == json.loads(first[2])["id"]


def test_the_schema_is_cached_and_bodies_over_the_service_limit_get_its_413(topology):
    service, running = topology
    for _ in range(5):
        assert _request(service.base_url, "GET", "/api/schema/")[0] == 200
    built = sum(1 for instance in running for line in instance.request_log() if line.get("path") == "/api/schema/")
    assert built == 1
    path = service.configs_url.removeprefix(service.base_url)
    headers = {"Authorization": f"Bearer {service.raw_key}", "Content-Type": "application/json"}
    status, _, text = _request(service.base_url, "POST", path, headers, b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert json.loads(text)["code"] == "request_too_large"


def _trickled(chunks):
    """Chunks sent a moment apart, so that nginx cannot see the whole body in its first read."""
    for index, chunk in enumerate(chunks):
        if index:
            time.sleep(0.5)
        yield chunk


def test_a_chunked_create_reaches_the_service_with_its_length(topology):
    # The service refuses chunked bodies (411: its server cannot tell a cut-off one from a whole one);
    # nginx reads the whole body first and forwards it with a Content-Length, so clients behind it may chunk.
    service, _ = topology
    path = service.configs_url.removeprefix(service.base_url)
    headers = {"Authorization": f"Bearer {service.raw_key}", "Content-Type": "application/json"}
    body = json.dumps({"source_product": "github", "source_type": "issue", "config": {}}).encode()
    host, port = service.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=_trickled([body[:10], body[10:]]), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        status, created = response.status, json.loads(response.read())
    finally:
        conn.close()
    assert status == 201, created
    assert created["source_product"] == "github"


def test_a_body_that_stops_arriving_is_cut_off_and_never_reaches_an_instance(topology):
    # The service cannot time a body out (granian reads it without a deadline: docs/operations.md,
    # "Known limits"); nginx does, between two reads, before an instance sees the request.
    service, running = topology
    body_timeout = int(re.search(r"client_body_timeout (\d+)s;", NGINX_CONF.read_text()).group(1))
    path = service.configs_url.removeprefix(service.base_url)
    key = uuid.uuid4().hex
    body = json.dumps({"source_product": "error_tracking", "source_type": "issue_created", "config": {}}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {service.raw_key}\r\n"
        f"Content-Type: application/json\r\nIdempotency-Key: {key}\r\nX-Request-ID: cut-{key}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    host, port = service.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=body_timeout + 10) as sock:
        sock.sendall(head.encode() + body[:-5])  # then silence
        started = time.monotonic()
        answer = sock.recv(65536)
        waited = time.monotonic() - started
    # Closed after the timeout, with nothing sent (nginx logs 408 but writes no response on it).
    assert answer == b""
    assert body_timeout - 1 < waited < body_timeout + 5
    # No instance saw it: nothing logged or stored, and the key is free for the client's retry.
    assert [line for instance in running for line in instance.request_log() if key in line.get("request_id", "")] == []
    headers = {"Authorization": f"Bearer {service.raw_key}", "Content-Type": "application/json", "Idempotency-Key": key}
    status, response_headers, text = _request(service.base_url, "POST", path, headers, body)
    assert status == 201, text
    assert "Idempotent-Replayed" not in response_headers
    status, _, text = _request(service.base_url, "GET", f"{path}?source_product=error_tracking", headers)
    assert status == 200, text
    assert [config["source_type"] for config in json.loads(text)["results"]] == ["issue_created"]
