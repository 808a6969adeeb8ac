"""Request ids, the one-line-per-request log, and the request body limit."""

import io
import logging
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse

from .exceptions import error_body
from .request_id import request_id_var
from .throttling import client_address

logger = logging.getLogger("api.request")

# A client may pass its own id through a proxy; anything else is replaced, so ids stay safe to log.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# No Content-Length on these: a 204 must not have one (RFC 9110, 8.6), a 304 has no body of its own.
NO_BODY_STATUSES = frozenset({204, 304})


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
            if not response.streaming and response.status_code not in NO_BODY_STATUSES:
                # Without a length gunicorn sends the body chunked: one more write per request.
                response.setdefault("Content-Length", str(len(response.content)))
            # DRF hands the authenticated key to the Django request as `auth`; its mask is safe to
            # log, the key is not.
            key = getattr(getattr(request, "auth", None), "mask", None)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "api_key": key,
                    # The address rate limits and the admin's lockout count against (CLIENT_IP_HEADER).
                    "client": client_address(request),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class AllowedHostMiddleware:
    """A Host outside `ALLOWED_HOSTS` gets a JSON 400 on every route, before anything reads the host.

    Django checks the host only when something calls `request.get_host()` (the HTTPS redirect, CSRF,
    absolute URLs in pagination links), and then raises deep inside a view: a 500 there, and an
    answer as usual on routes that never build a URL.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost:
            body = error_body(
                "validation_error", "invalid_host", "The Host header names a host this service does not serve."
            )
            return JsonResponse(body, status=400)
        return self.get_response(request)


class RequestBodyLimitMiddleware:
    """Refuses request bodies larger than `MAX_REQUEST_BODY_BYTES` with a JSON 413, before any of
    the body is read, and bodies shorter than their `Content-Length` (a client that died mid-upload)
    with a 400, before anything parses them.

    A declared `Content-Length` is judged as is. A chunked body has no length up front, and Django
    would otherwise see it as empty; it is read here, at most one byte past the limit, and handed on
    as an ordinary body of known length.
    """

    READ_SIZE = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_REQUEST_BODY_BYTES
        declared = (request.META.get("CONTENT_LENGTH") or "").strip()
        if declared:
            if not declared.isascii() or not declared.isdigit():
                body = error_body("invalid_request", "bad_request", "The Content-Length header must be a whole number.")
                return JsonResponse(body, status=400)
            if int(declared) > limit:
                return self._too_large(limit)
            if int(declared) and len(request.body) < int(declared):
                # The client stopped sending (or died) before the end: what arrived is half a request,
                # which would otherwise be parsed as a whole one. Read here, at most the limit.
                body = error_body(
                    "invalid_request", "incomplete_body", "The request body is shorter than its Content-Length."
                )
                return JsonResponse(body, status=400)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self._read_at_most(request.environ["wsgi.input"], limit + 1)
            if len(body) > limit:
                return self._too_large(limit)
            request._stream = LimitedStream(io.BytesIO(body), len(body))
            request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)

    def _read_at_most(self, stream, size: int) -> bytes:
        parts, remaining = [], size
        while remaining > 0:
            part = stream.read(min(self.READ_SIZE, remaining))
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
        return b"".join(parts)

    @staticmethod
    def _too_large(limit: int):
        return JsonResponse(too_large_body(limit), status=413)


def too_large_body(limit: int | None = None) -> dict:
    """The 413's body, for a body over `limit` bytes (default: the setting)."""
    limit = settings.MAX_REQUEST_BODY_BYTES if limit is None else limit
    return error_body("invalid_request", "request_too_large", f"The request body must be at most {limit} bytes.")
