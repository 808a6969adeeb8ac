"""Optimistic concurrency (RFC 9110): a strong `ETag` on every response that carries one object,
`If-Match` on PATCH, PUT and DELETE, `If-None-Match` on retrieve.

The ETag is the object's `version` (a counter the services move on every write), so checking it
costs nothing: the services write with `UPDATE/DELETE ... WHERE id = %s AND version = %s` and raise
`VersionMismatch` when no row matched, which the API answers as 412. Without the headers nothing
here adds a query.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.response import Response


class VersionMismatch(Exception):
    """Domain error: the object is no longer at the version the caller expected (it changed or is
    gone). Raised by services, answered by the API as 412 (`api/exceptions.py`)."""


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object has changed since you read it (If-Match does not match its current ETag)."
    default_code = "precondition_failed"
    default_type = "invalid_request"


def etag_for(instance) -> str:
    return quote_etag(str(instance.version))


def _strong_match(header: str, etag: str) -> bool:
    # Strong comparison (RFC 9110 8.8.3.2): a weak validator (W/"...") never matches.
    return etag in parse_etags(header)


def _weak_match(header: str, etag: str) -> bool:
    etags = parse_etags(header)
    return etags == ["*"] or etag in [value.removeprefix("W/") for value in etags]


def header(name: str, description: str, *, response=None) -> OpenApiParameter:
    """A request header, or with `response` (status codes) a response header, for the description."""
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, description=description, response=response or False
    )


ETAG = (
    "The config's current version, a strong entity tag. Send it back in `If-Match` to write only if the "
    "config has not changed since, or in `If-None-Match` to skip an unchanged body. Listed items have no "
    "ETag of their own: a `GET` or `HEAD` of the item sends it."
)
IF_MATCH = (
    "Write only if the config is still at this ETag (one or more, comma-separated; weak tags never match), "
    "else 412 and nothing changes. `*` matches any existing config. A config that is gone is a 412 for "
    "any value but `*`."
)
IF_NONE_MATCH = "Answer 304 with no body if the config's ETag is one of these (or `*`)."
PRECONDITION_FAILED = (
    PreconditionFailed,
    "`If-Match` does not match the config's current ETag (it changed or is gone). Nothing was changed.",
)
_WRITE = {
    "headers": [header("If-Match", IF_MATCH), header("ETag", ETAG, response=["200"])],
    "errors": {"412": PRECONDITION_FAILED},
}


# (A comment, not a docstring: drf-spectacular would publish a view's docstrings as descriptions.)
# For a viewset over a model with a `version` counter whose `perform_update` and `perform_destroy`
# pass `self.expected_version` to the services (None: write unconditionally, as without If-Match).
#
# Preconditions are evaluated after authentication, permissions and the project (a 401/403/404
# comes first), and before the body is validated.
class ConditionalRequestsMixin:
    expected_version: int | None = None
    # What this mixin adds to each action's OpenAPI operation (`api/schema.py` collects it).
    openapi_by_action = {
        "retrieve": {
            "headers": [header("If-None-Match", IF_NONE_MATCH), header("ETag", ETAG, response=["200", "304"])],
            "responses": {"304": "Not modified: the config's ETag matches `If-None-Match`."},
        },
        "create": {"headers": [header("ETag", ETAG, response=["201"])]},
        "update": _WRITE,
        "partial_update": _WRITE,
        "destroy": {"headers": [header("If-Match", IF_MATCH)], "errors": {"412": PRECONDITION_FAILED}},
    }

    def _if_match(self) -> str | None:
        return self.request.headers.get("If-Match")

    def get_object_for_write(self):
        """The object, with the If-Match precondition checked. A config that is gone (or never was, in
        this project) answers 412 for an If-Match other than `*`: the client's version of it is stale."""
        if_match = self._if_match()
        try:
            instance = self.get_object()
        except (Http404, exceptions.NotFound):
            if if_match is not None and parse_etags(if_match) != ["*"] and self._is_well_formed_id():
                raise PreconditionFailed() from None
            raise
        if_none_match = self.request.headers.get("If-None-Match")
        if if_none_match is not None and _weak_match(if_none_match, etag_for(instance)):
            # RFC 9110 13.1.2: on a write, a true If-None-Match (`*`: any current version; or one it
            # names) refuses the write. One naming other versions lets it through, unconditionally.
            raise PreconditionFailed("The object exists at a version If-None-Match names; nothing was changed.")
        if if_match is not None and parse_etags(if_match) != ["*"]:
            if not _strong_match(if_match, etag_for(instance)):
                raise PreconditionFailed()
            # The services write only if the row is still at this version: compare and write atomically.
            self.expected_version = instance.version
        return instance

    def _is_well_formed_id(self) -> bool:
        # An id that could never name an object (not a UUID) is a 404 whatever the headers: no client
        # can hold an ETag of it.
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            self.get_queryset().model._meta.pk.to_python(value)
        except DjangoValidationError:
            return False
        return True

    def retrieve(self, request, *args, **kwargs):
        return self.conditional_response(self.get_object())

    def conditional_response(self, instance):
        """The object's representation with its ETag, or 304 if `If-None-Match` names that ETag."""
        etag = etag_for(instance)
        if_none_match = self.request.headers.get("If-None-Match")
        if if_none_match is not None and _weak_match(if_none_match, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(instance).data, headers={"ETag": etag})

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        headers = {"ETag": etag_for(serializer.instance)}
        return Response(serializer.data, status=status.HTTP_201_CREATED, headers=headers)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object_for_write()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data, headers={"ETag": etag_for(serializer.instance)})

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object_for_write())
        return Response(status=status.HTTP_204_NO_CONTENT)


class Precondition:
    """What a write by a key other than the object's id (an upsert) expects of the object, from
    `If-Match` and `If-None-Match`: the services check it against the row they find, so that the
    check and the write see the same row. `If-Match: *` asks that the object exists, a list of ETags
    that it is at one of their versions (an object that is gone never is); `If-None-Match: *` that it
    does not exist, a list of ETags that it is at none of their versions."""

    __slots__ = ("if_match", "if_none_match")

    def __init__(self, if_match: str | None = None, if_none_match: str | None = None):
        self.if_match = parse_etags(if_match) if if_match is not None else None
        self.if_none_match = if_none_match  # compared weakly, as on the id route (`_weak_match`)

    def __bool__(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check_absent(self) -> None:
        """For a write that finds no object: `VersionMismatch` if it expected one."""
        if self.if_match is not None:
            raise VersionMismatch("There is no object to match If-Match.")

    def expected_version(self, instance) -> int | None:
        """For a write that found `instance`: the version it must still be at when written (None:
        any), or `VersionMismatch` if it is not what the client expected."""
        etag = etag_for(instance)
        if self.if_none_match is not None and _weak_match(self.if_none_match, etag):
            raise VersionMismatch(f"The object exists, at {etag}; If-None-Match refuses it.")
        if self.if_match is None or self.if_match == ["*"]:
            return None
        if etag not in self.if_match:  # strong comparison: a weak tag (W/"...") never matches
            raise VersionMismatch(f"The object is at {etag}, not at If-Match's.")
        return instance.version
