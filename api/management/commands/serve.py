"""`python manage.py serve`: the one command that starts the production server (api/server.py).

It lives in `api`, the HTTP layer every other app sits on: Django finds commands only in installed
apps, and `config/` is not one.
"""

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from api.server import DRAIN_MARKER_ENV, drain_seconds, granian_argv


class Command(BaseCommand):
    help = "Serve the API with granian; reads HOST, PORT and WEB_CONCURRENCY (see README, Deployment)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--app",
            help="WSGI application as module:attribute (default: WSGI_APPLICATION; the benchmark serves its floor)",
        )
        parser.add_argument(
            "--share-port",
            action="store_true",
            help="start even when another server listens on the port (a zero-downtime handover: the old "
            "instance stops once the new one answers)",
        )

    def handle(self, *args, app, share_port, **options):
        argv = granian_argv(app)
        if not share_port:
            refuse_a_taken_port(argv[argv.index("--host") + 1], int(argv[argv.index("--port") + 1]))
        # The granian beside this interpreter: the one this project's lock installed.
        executable = os.path.join(os.path.dirname(sys.executable), "granian")
        if not os.access(executable, os.X_OK):
            executable = shutil.which("granian")
        if not executable:
            raise CommandError("granian is not installed: run `make .venv/.installed`.")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE)
        sys.stdout.flush()
        sys.stderr.flush()
        sys.exit(serve_until_stopped([executable, *argv[1:]], drain_seconds()))


def serve_until_stopped(argv: list[str], drain: float) -> int:
    """Runs granian as a child and stops it gracefully; returns its exit code.

    This process stays granian's parent so that a stop happens in two steps. On SIGTERM or SIGINT it
    first creates the drain marker, which turns every worker's `/readyz` to 503 (api/health.py), and
    waits `drain` seconds while the instance keeps serving, so that a balancer polling `/readyz` stops
    sending. Then granian gets SIGTERM: it stops accepting connections and gives its workers
    GRACEFUL_TIMEOUT seconds (`--workers-kill-timeout`) to finish the requests they hold. SIGHUP
    (granian's reload of its workers) is passed on as is.
    """
    marker_dir = tempfile.mkdtemp(prefix="signalsource-drain-")
    marker = os.path.join(marker_dir, "draining")
    environment = {**os.environ, DRAIN_MARKER_ENV: marker}
    stop = threading.Event()
    child = subprocess.Popen(argv, env=environment)  # noqa: S603 -- a fixed argv, no shell
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: child.send_signal(signal.SIGHUP))
    try:
        while child.poll() is None and not stop.wait(0.2):
            pass
        if child.poll() is None:
            with open(marker, "w"):
                pass
            # Draining: still serving; a worker that dies meanwhile ends the wait.
            waited = 0.0
            while waited < drain and child.poll() is None:
                stop.clear()
                stop.wait(0.1)
                waited += 0.1
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        return child.wait()
    finally:
        shutil.rmtree(marker_dir, ignore_errors=True)


def refuse_a_taken_port(host: str, port: int) -> None:
    """granian listens with SO_REUSEPORT: a second instance on a busy port would start without a word
    and take half of the first one's connections. A socket without that option cannot bind a port
    another process listens on (SO_REUSEADDR only lets it past connections in TIME_WAIT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {port} on {host} is in use by another process: stop it, set another PORT, "
                    "or pass --share-port for a zero-downtime handover."
                ) from None
            raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}.") from None
