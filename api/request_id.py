"""The current request's id, set by RequestLogMiddleware and read by logs and error bodies.

A module of its own, importing nothing of ours: the middleware, `exceptions` and the logging
configuration (which loads before Django's apps) all need it.
"""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdLogFilter(logging.Filter):
    """Adds the current request's id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True
