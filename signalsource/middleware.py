"""Request ids and the one-line-per-request log."""

import contextvars
import logging
import re
import time
import uuid

logger = logging.getLogger("signalsource.request")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# A client may pass its own id through a proxy; anything else is replaced, so ids stay safe to log.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdLogFilter(logging.Filter):
    """Adds the current request's id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestLogMiddleware:
    """Gives each request an id (sent back as `X-Request-ID`) and logs one line when it ends.

    Only the path is logged, never the query string or headers, which may carry a key.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            key = getattr(request, "auth_key_mask", None)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "api_key": key,
                },
            )
            return response
        finally:
            request_id_var.reset(token)
