"""Captures log output as the service writes it: JSON lines, formatted by the configured handler."""

import io
import json
import logging
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter


def _service_handler() -> logging.Handler:
    """The stdout handler configured by settings.LOGGING (the one with the JSON formatter)."""
    return next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))


@contextmanager
def captured_logs(level=logging.DEBUG):
    """Yields a StringIO that receives every record, formatted and filtered like the service's own output."""
    configured = _service_handler()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        handler.addFilter(log_filter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
