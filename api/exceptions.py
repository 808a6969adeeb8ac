"""Every error the service answers is JSON in PostHog's flat format:

    {"type": "validation_error", "code": "required", "detail": "...", "attr": "source_type"}

DRF's errors go through drf-exceptions-hog (PostHog's own library for this format); Django's own
404 and 500 pages are replaced by `page_not_found` and `server_error` below.

The domain's services raise domain errors, never HTTP ones: Django's `ValidationError` (a 400 on
the field it names, with its code), `ObjectDoesNotExist` (a 404), `VersionMismatch` (a 412, see
`conditional.py`) and `StateConflict` (a 409). They are translated here.
"""

import logging
import sys

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DomainValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from exceptions_hog import exception_handler as hog_exception_handler
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error

from .conditional import PreconditionFailed, VersionMismatch
from .request_id import request_id_var

logger = logging.getLogger("api.errors")

DB_RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable. Try again shortly."
    default_code = "service_unavailable"
    default_type = "server_error"


class StateConflict(Exception):
    """A domain error: the object's state refuses the change (a finished run changes no more). The
    API answers 409 with the error's `code` and message."""

    code = "conflict"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's state does not allow this change."
    default_code = "conflict"
    default_type = "invalid_request"


class ServerError(exceptions.APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "A server error occurred."
    default_code = "error"
    default_type = "server_error"


def error_body(type_: str, code: str, detail: str, attr: str | None = None) -> dict:
    body = {"type": type_, "code": code, "detail": detail, "attr": attr}
    if type_ == "server_error":
        body["request_id"] = request_id_var.get()
    return body


def exception_handler(exc, context):
    if isinstance(exc, DomainValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, VersionMismatch):
        exc = PreconditionFailed()
    elif isinstance(exc, StateConflict):
        exc = Conflict(str(exc) or None, code=exc.code)
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable", exc_info=exc)
        exc = ServiceUnavailable()
        exc.wait = DB_RETRY_AFTER_SECONDS
    elif not isinstance(exc, exceptions.APIException | Http404 | PermissionDenied):
        # A crash: log the traceback here, answer without anything internal.
        logger.error("unhandled exception", exc_info=exc)
        exc = ServerError()
    response = hog_exception_handler(exc, context)
    if response is None:
        return None
    if response.status_code >= 500:
        response.data["request_id"] = request_id_var.get()
    # drf-exceptions-hog drops the challenge DRF computes for 401s; put it back.
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header
    return response


def report_exception(exc, context):
    """drf-exceptions-hog's reporting hook; crashes are already logged by `exception_handler`."""
    return None


def page_not_found(request, exception=None):
    return JsonResponse(error_body("invalid_request", "not_found", "Not found."), status=404)


def server_error(request):
    # Django calls this inside its `except` block for a crash outside DRF (a plain view, a middleware);
    # its own `django.request` logger is silenced in settings, so the traceback is logged here.
    logger.error("unhandled exception", exc_info=sys.exc_info())
    return JsonResponse(error_body("server_error", "error", "A server error occurred."), status=500)


def bad_request(request, exception=None):
    return JsonResponse(error_body("invalid_request", "bad_request", "Bad request."), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(
        error_body("authentication_error", "permission_denied", "You do not have permission to do this."),
        status=403,
    )
