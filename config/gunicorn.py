"""gunicorn settings for `make run` and production. Each can be overridden by the environment."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Sync workers, cores + 1 by default. A request is mostly CPU work in Python with short waits on
# PostgreSQL and Redis in between: one worker more than cores keeps every core busy while one
# waits; more only add context switches (2 cores, 16 connections: 3 workers 461 list req/s,
# 4 447, 5 436). Threads would share one GIL on this CPU-bound work.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"
# Load the application once in the master, then fork: workers share its memory pages, and start
# ready (see when_ready) instead of importing on their first request, which took 0.6-2 s.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Recycle workers now and then so that a slow leak can never grow without bound.
max_requests = 10000
max_requests_jitter = 1000
# The service logs one JSON line per request itself; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def when_ready(server):
    """Before forking: Django imports its URLconf (and through it every view, serializer and schema
    class) only on the first request, so each worker would pay for it on its first request. Nothing
    here opens a database or Redis connection; each worker opens its own."""
    try:
        from django.apps import apps
    except ImportError:  # an app that is not Django (the benchmark's floor) has nothing to warm
        return
    if apps.ready:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 -- imports the URLconf
