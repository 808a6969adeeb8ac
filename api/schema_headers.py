"""The OpenAPI description of the conditional-request and idempotency headers (`conditional.py`,
`idempotency.py`): which action takes which request header, sends which response header, and may
answer 304, 409, 412 or 422. A subclass of the shared conventions (`schema.py`), so that it
composes with them; a viewset that uses those mixins sets `schema = HeadersAutoSchema()`.

PATCH's merge-patch media type (`parsers.MergePatchMixin`) is described in PATCH's words, not as a second
request body: offered two media types, openapi-python-client sends every PATCH as a merge patch, which
changes what `config` means.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from .conditional import PreconditionFailed
from .idempotency import MAX_KEY_LENGTH, IdempotencyKeyInProgress, IdempotencyKeyReused
from .schema import AutoSchema, ErrorSerializer

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
IDEMPOTENCY_KEY = (
    f"A unique key (1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID) that makes a retried create "
    "safe. A repeat with the same key and the same request within 24 hours gets the first response again, with "
    "`Idempotent-Replayed: true`, and creates nothing; validation errors are replayed too, 5xx and 429 are not. "
    "Keys are scoped to the API key."
)
REPLAYED = "`true` when this is the stored response to an earlier request with the same `Idempotency-Key`."


def _error(exception, description: str) -> OpenApiResponse:
    """The response for one of the exceptions below, with the body the server sends as its example."""
    body = {
        "type": exception.default_type,
        "code": exception.default_code,
        "detail": str(exception.default_detail),
        "attr": None,
    }
    example = OpenApiExample(exception.default_code, value=body, response_only=True)
    return OpenApiResponse(ErrorSerializer, description=description, examples=[example])


EXTRA_RESPONSES = {
    "retrieve": {"304": OpenApiResponse(description="Not modified: the config's ETag matches `If-None-Match`.")},
    "create": {
        "409": _error(IdempotencyKeyInProgress, "A request with this `Idempotency-Key` is still being processed."),
        "422": _error(IdempotencyKeyReused, "This `Idempotency-Key` was used for a different request."),
    },
}
PRECONDITION_FAILED = _error(
    PreconditionFailed,
    "`If-Match` does not match the config's current ETag (it changed or is gone). Nothing was changed.",
)
for _action in ("update", "partial_update", "destroy"):
    EXTRA_RESPONSES[_action] = {"412": PRECONDITION_FAILED}


def _header(name: str, description: str, *, response=None) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, description=description, response=response or False
    )


ACTION_HEADERS = {
    "retrieve": [_header("If-None-Match", IF_NONE_MATCH), _header("ETag", ETAG, response=["200", "304"])],
    "create": [
        _header("Idempotency-Key", IDEMPOTENCY_KEY),
        _header("ETag", ETAG, response=["201"]),
        _header("Idempotent-Replayed", REPLAYED, response=["201", "400"]),
    ],
    "update": [_header("If-Match", IF_MATCH), _header("ETag", ETAG, response=["200"])],
    "partial_update": [_header("If-Match", IF_MATCH), _header("ETag", ETAG, response=["200"])],
    "destroy": [_header("If-Match", IF_MATCH)],
}


class HeadersAutoSchema(AutoSchema):
    def _action(self) -> str | None:
        return getattr(self.view, "action", None)

    def get_override_parameters(self):
        return [*super().get_override_parameters(), *ACTION_HEADERS.get(self._action(), ())]

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        extra = EXTRA_RESPONSES.get(self._action())
        if not extra or not isinstance(responses, dict):
            return responses
        return responses | extra

    def get_description(self):
        description = super().get_description() or ""
        if self._action() == "partial_update":
            merge = (
                "With `Content-Type: application/merge-patch+json` (RFC 7396), `config` is merged into the stored "
                "one key by key (`null` removes a key, objects merge recursively) and the result is checked as a "
                "whole; with `application/json` it is replaced whole."
            )
            description = f"{description}\n\n{merge}".strip()
        return description
