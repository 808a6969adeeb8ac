"""The production topology for tests: Debian's nginx with deploy/nginx.conf in front of several
instances (`python manage.py serve`), each restartable on its own port.

nginx runs unprivileged, with its own prefix (pid, logs, buffers) in a temp directory and free
ports, never as the system service. Instances share one PostgreSQL database (`live_database`):
SQLite cannot be shared by several servers writing at once (one writer, file locks), so these tests
run on PostgreSQL only.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_server import HANG_GUARD_SECONDS, ROOT, STARTUP_GUARD_SECONDS, call, free_port

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


def render_nginx_conf(prefix: Path, listen: str, instance_ports: list[int]) -> str:
    """deploy/nginx.conf with its @...@ tokens filled in (as `make topology` does with sed)."""
    servers = "\n        ".join(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in instance_ports)
    text = NGINX_CONF.read_text()
    return text.replace("@PREFIX@", str(prefix)).replace("@LISTEN@", listen).replace("@INSTANCES@", servers)


@contextlib.contextmanager
def nginx(tmp_dir: Path, instance_ports: list[int]):
    """Runs nginx in the foreground on a free port in front of `instance_ports`; yields its base URL."""
    prefix = tmp_dir / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(prefix, f"127.0.0.1:{port}", instance_ports))
    argv = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    # Started by root (CI), nginx's workers would drop to `nobody`, who cannot write the prefix.
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    process = subprocess.Popen([*argv, "-g", directives], start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if call(base_url, "GET", "/nginx-healthz")[0] == 200:
                    break
            assert process.poll() is None, (prefix / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield base_url
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what it holds
        try:
            process.wait(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Instance:
    """One `python manage.py serve` on a fixed port, logging to a file, restartable."""

    def __init__(self, tmp_dir: Path, name: str, env: dict, workers: int = 2, **extra_env):
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_dir / f"{name}.log"
        self.env = {k: v for k, v in env.items() if k not in {"TEST_DATABASE_NAME", "DEBUG"}}
        self.env.update(
            HOST="127.0.0.1",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(workers),
            LOG_LEVEL="INFO",
            CLIENT_IP_HEADER="X-Real-IP",
            RATE_LIMITS_ENABLED="0",
        )
        self.env.update(extra_env)
        self.process: subprocess.Popen | None = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_GUARD_SECONDS
        while True:
            with contextlib.suppress(OSError):
                if call(self.base_url, "GET", "/readyz")[0] == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.log_path.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM) -> int:
        """Signals the instance (its main process: what systemd signals) and waits for it to exit."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def kill_hard(self):
        """kill -9 of the instance and every worker of it (its whole session), as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def request_log(self) -> list[dict]:
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("logger") == "api.request":
                    lines.append(record)
        return lines


@contextlib.contextmanager
def instances(tmp_dir: Path, env: dict, count: int = 2, **extra_env):
    running = [Instance(tmp_dir, f"instance{n + 1}", env, **extra_env) for n in range(count)]
    try:
        for instance in running:
            instance.start()
        for instance in running:
            instance.wait_ready()
        yield running
    finally:
        for instance in running:
            instance.stop()


def postgresql_only():
    """Several instances share one database: PostgreSQL only (SQLite serialises every writer)."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        pytest.skip("several instances share one database: PostgreSQL only (SQLite serialises every writer)")
