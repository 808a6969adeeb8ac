"""When and how a request body is read.

The head alone decides what it can: a `Content-Length` that is not a number (400) or over
`MAX_REQUEST_BODY_BYTES` (413). The body itself is read only when something needs it, and an API
view needs it only after the key has passed (authentication, rate limits, permissions), so a request
without a valid key, or one for a probe, costs a worker no read of its body however slowly it comes
(issue 25, row 2). `read_body` then refuses a chunked body before reading any of it (411: the
server, granian, reads a chunked body cut off before its last chunk as a complete one, so it could
be stored half; nginx in front sends every body with its length), and reads any other whole,
refusing one shorter than its `Content-Length` (a client that died mid-upload: 400
`incomplete_body`, nothing parsed).
"""

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.request import Request

from .exceptions import error_body


class BadContentLength(exceptions.ParseError):
    default_type = "invalid_request"
    default_detail = "The Content-Length header must be a whole number."
    default_code = "bad_request"


class IncompleteBody(exceptions.ParseError):
    default_type = "invalid_request"
    default_detail = "The request body is shorter than its Content-Length."
    default_code = "incomplete_body"


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_type = "invalid_request"
    default_detail = (
        "The request body must be sent with a Content-Length, not chunked: "
        "a chunked body cut off before its end cannot be told from a complete one."
    )
    default_code = "length_required"


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_type = "invalid_request"

    def __init__(self):
        super().__init__(f"The request body must be at most {settings.MAX_REQUEST_BODY_BYTES} bytes.")


def error_response(error: exceptions.APIException) -> JsonResponse:
    """One of these errors answered outside DRF (the middleware), in the same flat format."""
    body = error_body(error.default_type, error.default_code, str(error.detail))
    return JsonResponse(body, status=error.status_code)


def too_large_body() -> dict:
    """The 413's body, as the API description shows it."""
    return error_body(BodyTooLarge.default_type, BodyTooLarge.default_code, str(BodyTooLarge().detail))


def check_head(request) -> None:
    """Raises for a `Content-Length` that is not a number or is over the limit; reads nothing."""
    declared = (request.META.get("CONTENT_LENGTH") or "").strip()
    if declared and not (declared.isascii() and declared.isdigit()):
        raise BadContentLength()
    if declared and int(declared) > settings.MAX_REQUEST_BODY_BYTES:
        raise BodyTooLarge()


def read_body(request) -> None:
    """Reads the Django `request`'s body whole, once, or raises (see the module)."""
    if getattr(request, "_body_checked", False):
        return
    # Whatever Content-Length comes with it: a Transfer-Encoding overrides it (RFC 9112, 6.3).
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired()
    check_head(request)
    declared = int((request.META.get("CONTENT_LENGTH") or "0").strip())
    if declared and len(request.body) < declared:
        raise IncompleteBody()
    request._body_checked = True


class CheckedBodyRequest(Request):
    """DRF's request, whose body goes through `read_body` the first time anything reads it."""

    def _load_stream(self):
        read_body(self._request)
        super()._load_stream()


class BodyAfterAuthenticationMixin:
    """For a DRF view: its body is read only when the view (or a key sent in the body) asks for it,
    which DRF's order puts after authentication. `api.middleware.RequestBodyLimitMiddleware` leaves
    such views to read their own."""

    reads_body_itself = True

    def initialize_request(self, request, *args, **kwargs):
        # Built by DRF's own chain (viewsets set their action there), then given the checked reading.
        drf_request = super().initialize_request(request, *args, **kwargs)
        drf_request.__class__ = CheckedBodyRequest
        return drf_request
