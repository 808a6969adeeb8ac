"""Request ids, the one-line-per-request log, and the request body limit."""

import logging
import re
import time
import uuid

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from rest_framework.exceptions import APIException

from .body import check_head, error_response, read_body
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
    """Refuses a `Content-Length` over `MAX_REQUEST_BODY_BYTES` (413) or not a number (400) from the
    head, and has the body read through `api.body.read_body` (chunked and short bodies) before a view
    that reads its own runs, except where the view reads it later itself: an API view after the key
    has passed (`api.body.BodyAfterAuthenticationMixin`), or never (a probe, `reads_body_itself`).
    In `process_view`, before the CSRF check reads a form, so that its answers pass every header
    middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view = getattr(view_func, "cls", view_func)
        try:
            if getattr(view, "reads_body_itself", False):
                check_head(request)
            else:
                read_body(request)
        except APIException as error:
            return error_response(error)
        return None
