"""Safe retries of a create: the `Idempotency-Key` request header (the IETF httpapi draft, with
Stripe's semantics).

The first request with a key is processed and its status and body are stored (in the database, so
every instance sees them: `IdempotencyRecord`), in the same transaction as what it created. A repeat
with the same key and the same request within 24 hours gets them again with `Idempotent-Replayed:
true`, and writes nothing. The same key with another request is a 422; a repeat while the first is
still being processed is a 409. Errors the client can fix (4xx) are stored and replayed; 5xx and 429
are not, so the client may retry those (a 429 never reaches the view anyway).

A request without the header costs nothing here. One with it costs an INSERT (the claim, which the
unique constraint makes atomic across instances: `ON CONFLICT DO NOTHING`, so a taken key is no
statement error) and an UPDATE (the stored response); a replay costs the INSERT that inserts
nothing and a SELECT. What is kept per key: a 2xx's body (one config), or for a refused request a
summary of its error (`_summary`: type, code, attr, detail cut to 500 characters), for 24 hours.

"The same request" is the same method, the same path (trailing slash or not) and the same meaning:
the body as the view's serializer reads it (`_fingerprint`).
"""

import hashlib
from datetime import timedelta

import orjson
from django.db import DatabaseError, connections, router, transaction
from django.http import QueryDict
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response

from .conditional import header
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)
# A claim older than this whose request never finished belongs to a worker that died (gunicorn kills
# a request after its 30 s timeout): a repeat may take it over.
ABANDONED_AFTER = timedelta(seconds=120)
# The stored response's headers that a replay sends again.
REPLAYED_HEADERS = ("ETag",)


class InvalidIdempotencyKey(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is a good choice)."
    default_code = "invalid_idempotency_key"
    default_type = "invalid_request"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = f"This {HEADER} was already used for a different request. Use a new key for a new request."
    default_code = "idempotency_key_reused"
    default_type = "invalid_request"


class IdempotencyKeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"A request with this {HEADER} is still being processed. Retry after it has finished."
    default_code = "idempotency_key_in_progress"
    default_type = "invalid_request"


def is_stored(status_code: int) -> bool:
    return status_code < 500 and status_code != status.HTTP_429_TOO_MANY_REQUESTS


KEY_DESCRIPTION = (
    f"A unique key (1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID) that makes a retried create "
    "safe. A repeat with the same key and the same request within 24 hours gets the first response again, with "
    "`Idempotent-Replayed: true`, and creates nothing; validation errors are replayed too, 5xx and 429 are not. "
    "Keys are scoped to the API key."
)
REPLAYED_DESCRIPTION = "`true` when this is the stored response to an earlier request with the same `Idempotency-Key`."


def _idempotency_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise InvalidIdempotencyKey()
    return key


def _meaning(view, request):
    """What the request asks for, as its first use and a repeat must agree on: the body as the view's
    serializer reads it (so JSON and a form body with the same values agree, and so do JSON
    whitespace, key order or a multipart boundary), or, for a body it refuses, the parsed body."""
    serializer = view.get_serializer(data=request.data)
    if serializer.is_valid():
        return serializer.validated_data
    data = request.data
    if isinstance(data, QueryDict):
        data = {key: values[0] if len(values) == 1 else values for key, values in data.lists()}
    return data


def _fingerprint(view, request) -> str:
    """Method, path (with or without its trailing slash: the API takes both) and the request's meaning."""
    try:
        body = orjson.dumps(_meaning(view, request), option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # orjson's own recursion limit, or a value it cannot write
        raise exceptions.ParseError(f"This request body cannot be used with {HEADER}.") from None
    path = request.path.rstrip("/")
    return hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), path.encode(), body)).hexdigest()


def _insert_claim(api_key, key: str, fingerprint: str, now) -> IdempotencyRecord | None:
    """The claim as one INSERT that does nothing when the key is taken (no statement error, so
    nothing in the database's log on every replay): the new record, or None."""
    connection = connections[router.db_for_write(IdempotencyRecord)]
    quote, meta = connection.ops.quote_name, IdempotencyRecord._meta
    columns = ("api_key_id", "key", "fingerprint", "response_headers", "created_at")
    values = [
        meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in zip(("api_key", *columns[1:]), (api_key.pk, key, fingerprint, {}, now), strict=True)
    ]
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(column) for column in columns)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({quote('api_key_id')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyRecord(pk=row[0], api_key=api_key, key=key, fingerprint=fingerprint, created_at=now)


def _claim(api_key, key: str, fingerprint: str) -> IdempotencyRecord | Response:
    """The key's record, claimed for this request; or the stored response to replay. Raises 409/422."""
    for _ in range(3):
        now = timezone.now()
        claimed = _insert_claim(api_key, key, fingerprint, now)
        if claimed is not None:
            return claimed
        existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue  # released (a 5xx) since our insert: claim it again
        unfinished = existing.status_code is None
        if existing.created_at < now - TTL or (unfinished and existing.created_at < now - ABANDONED_AFTER):
            # Expired, or abandoned: replace exactly that row (a racing repeat may have done so first).
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if unfinished:
            raise IdempotencyKeyInProgress()
        headers = {**existing.response_headers, "Idempotent-Replayed": "true"}
        return Response(existing.response_body, status=existing.status_code, headers=headers)
    raise IdempotencyKeyInProgress()  # lost three races for this key in a row: let the client retry


# A refused request's error is kept as a summary: its type, code and attr, and its detail cut to this
# many characters. Its size then does not depend on the request's (a 400 may quote the input).
STORED_DETAIL_CHARACTERS = 500


def _summary(body):
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    detail = body.get("detail")
    if detail is not None:
        # PostgreSQL's jsonb cannot hold NUL characters, which an error may quote from the input.
        detail = str(detail)[:STORED_DETAIL_CHARACTERS].replace("\x00", "\ufffd")
    return {"type": body.get("type"), "code": body.get("code"), "detail": detail, "attr": body.get("attr")}


def _store(record: IdempotencyRecord, response) -> None:
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    body = response.data if response.status_code < 400 else _summary(response.data)
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=response.status_code, response_body=body, response_headers=headers
    )


def openapi_extras(*success_codes: str) -> dict:
    """What `Idempotency-Key` adds to an action's OpenAPI operation (`api/schema.py` collects it)."""
    return {
        "headers": [
            header(HEADER, KEY_DESCRIPTION),
            header("Idempotent-Replayed", REPLAYED_DESCRIPTION, response=[*success_codes, "400"]),
        ],
        "errors": {
            "409": (IdempotencyKeyInProgress, "A request with this `Idempotency-Key` is still being processed."),
            "422": (IdempotencyKeyReused, "This `Idempotency-Key` was used for a different request."),
        },
    }


# (A comment, not a docstring: drf-spectacular would publish a view's docstrings as descriptions.)
# Makes a viewset's `create` honour `Idempotency-Key` (`respond_idempotently`). Put it before the
# mixin that defines `create`; the key is scoped to the authenticated API key (`request.auth`).
class IdempotentCreateMixin:
    # What this mixin adds to the create's OpenAPI operation (`api/schema.py` collects it).
    openapi_by_action = {"create": openapi_extras("201")}

    def create(self, request, *args, **kwargs):
        create = super().create
        return respond_idempotently(self, request, lambda: create(request, *args, **kwargs))


def respond_idempotently(view, request, respond):
    """`respond()`'s response, made safe to retry with `Idempotency-Key` (for any action that writes):
    the first request with a key stores its response, a repeat gets it again. The key is scoped to
    the authenticated API key (`request.auth`). Without the header, just `respond()`."""
    key = _idempotency_key(request)
    if key is None:
        return respond()
    claimed = _claim(request.auth, key, _fingerprint(view, request))
    if isinstance(claimed, Response):
        return claimed
    try:
        # The write and its stored response commit together: a stored 201 always has its config.
        with transaction.atomic():
            response = respond()
            _store(claimed, response)
        return response
    except Exception as error:  # answered here so that a 400 can be stored; dispatch would answer the same
        response = view.handle_exception(error)
    try:
        if is_stored(response.status_code):
            _store(claimed, response)
            return response
    except DatabaseError:
        pass  # a response the database would not keep: released like a 5xx, never left claimed
    IdempotencyRecord.objects.filter(pk=claimed.pk).delete()  # the client may retry
    return response
