"""The production server's settings: granian (a Rust HTTP server) serving the WSGI app.

`python manage.py serve` (api/management/commands/serve.py) builds granian's command line from
these and replaces itself with granian. Why granian (measurements in README "Deployment"): its
HTTP/1 connections are read by an async Rust runtime, so a client that sends half a request line,
or headers a byte at a time, holds a socket, not a worker; Python threads only ever run complete
requests. gunicorn's sync and gthread workers are held by such clients until their timeout (3
idle connections took an instance down for 30 s). granian also keeps connections alive and has no
control socket shared between instances.

Each setting can be overridden by the environment.
"""

import os

from django.conf import settings

# The file whose existence says "this instance is stopping": `manage.py serve` creates it on SIGTERM
# and passes its path to every worker in this variable; `/readyz` answers 503 once it exists.
DRAIN_MARKER_ENV = "SIGNALSOURCE_DRAIN_MARKER"


def drain_seconds(environ=None) -> float:
    """Seconds between SIGTERM (readyz 503) and granian's own graceful stop: set it to how long the
    balancer takes to see a failing /readyz. 0 (default): nothing polls it (nginx open source)."""
    environ = os.environ if environ is None else environ
    value = str(environ.get("DRAIN_SECONDS", "")).strip()
    return float(value) if value else 0.0


def draining(environ=None) -> bool:
    """Whether this instance has been told to stop (one stat() of the marker, only on /readyz)."""
    environ = os.environ if environ is None else environ
    marker = environ.get(DRAIN_MARKER_ENV)
    return bool(marker) and os.path.exists(marker)


def default_app() -> str:
    """Django's WSGI_APPLICATION ("config.wsgi.application") as granian names it ("config.wsgi:application")."""
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    return f"{module}:{attribute}"


def _int(environ, name: str, default: int) -> int:
    value = str(environ.get(name, "")).strip()
    return int(value) if value else default


def granian_argv(app: str | None = None, environ=None) -> list[str]:
    app = app or default_app()
    environ = os.environ if environ is None else environ
    cores = os.cpu_count() or 1
    return [
        "granian",
        "--interface",
        "wsgi",
        app,
        "--host",
        environ.get("HOST", "127.0.0.1"),
        "--port",
        str(_int(environ, "PORT", 8000)),
        # One process per core + 1, each running one request at a time: a request is mostly CPU work
        # in Python with short waits on PostgreSQL and Redis, so one process more than cores keeps
        # every core busy while one waits; threads would share one GIL on this CPU-bound work.
        "--workers",
        str(_int(environ, "WEB_CONCURRENCY", cores + 1)),
        "--blocking-threads",
        str(_int(environ, "WEB_THREADS", 1)),
        # A client gets this long to send its request line and headers, then the connection is closed.
        # Waiting clients cost a socket each, never a worker.
        "--http1-header-read-timeout",
        str(_int(environ, "HEADER_READ_TIMEOUT_MS", 10_000)),
        "--http1-keep-alive",
        # HTTP/1.1 only: the service sits behind a load balancer or proxy that speaks HTTP/2 to clients.
        "--http",
        "1",
        "--no-ws",
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        str(_int(environ, "GRACEFUL_TIMEOUT", 10)),
        # The service logs one JSON line per request itself; an access log would repeat it.
        "--no-access-log",
        "--log-level",
        environ.get("SERVER_LOG_LEVEL", "info").lower(),
    ]
