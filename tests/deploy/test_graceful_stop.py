"""An instance stops gracefully: on SIGTERM `/readyz` turns 503 while it keeps serving for
DRAIN_SECONDS, then it finishes the request it holds and takes no new connection."""

import contextlib
import json
import signal
import socket
import time

import pytest

from tests.deploy.topology import Instance
from tests.live_server import call, live_database

pytestmark = pytest.mark.live_server_process

DRAIN_SECONDS = 2


def _count_configs(service) -> int:
    code = "from signalsource.models import SignalSourceConfig; print(SignalSourceConfig.objects.count())"
    return int(service.manage("shell", "--no-imports", "-c", code))


def test_sigterm_drains_then_finishes_the_request_held_and_refuses_new_ones(tmp_path):
    with live_database(tmp_path) as service:
        instance = Instance(tmp_path, "graceful", service.env, workers=1, DRAIN_SECONDS=str(DRAIN_SECONDS))
        instance.start()
        try:
            instance.wait_ready()
            path = f"/api/projects/{service.project_id}/signal_source_configs/"
            body = json.dumps(
                {"source_product": "session_replay", "source_type": "session_analysis_cluster", "config": {}}
            ).encode()
            instance.process.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            # Draining: not ready any more, still serving.
            time.sleep(0.3)
            assert call(instance.base_url, "GET", "/readyz")[0] == 503
            assert call(instance.base_url, "GET", "/healthz")[0] == 200
            # A create whose body is half sent, accepted during the drain: the only worker holds it.
            held = socket.create_connection(("127.0.0.1", instance.port), timeout=30)
            held.sendall(
                (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {service.raw_key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                ).encode()
                + body[:10]
            )
            # Past the drain, granian itself is stopping: the held create still completes.
            time.sleep(max(0.0, DRAIN_SECONDS + 1.0 - (time.monotonic() - stopped_at)))
            assert instance.process.poll() is None  # it waits for the request it holds
            held.sendall(body[10:])
            answer = b""
            while chunk := held.recv(65536):
                answer += chunk
            held.close()
            assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
            assert instance.process.wait(timeout=30) == 0
            with pytest.raises(OSError), contextlib.closing(socket.create_connection(("127.0.0.1", instance.port))):
                pass
            assert _count_configs(service) == 1
        finally:
            instance.stop()
