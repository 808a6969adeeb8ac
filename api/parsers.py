import orjson
from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# What any request of this API needs, with room to spare (a config is at most 64 levels deep and
# 64 KiB). A 1 MB body of 340,000 empty arrays parses in milliseconds, but every later walk of it
# (validation, fingerprints, merge patches) costs a second of CPU, and a structure deeper than
# Python's or orjson's own recursion limits ends in a 500: such bodies are refused right after parsing.
MAX_JSON_DEPTH = 128
MAX_JSON_NODES = 20_000


def _check_json_shape(raw: bytes, data) -> None:
    """Raises ParseError when `data` (parsed from `raw`) has more than MAX_JSON_NODES values or is
    nested deeper than MAX_JSON_DEPTH. Costs two byte counts for an ordinary body: the walk runs only
    when they allow a structure that large (each comma, bracket and brace at most one value, inside
    strings too), and it stops at the limit."""
    containers = raw.count(b"[") + raw.count(b"{")
    if containers <= MAX_JSON_DEPTH and containers + raw.count(b",") < MAX_JSON_NODES:
        return
    nodes, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise ParseError(f"JSON body has more than {MAX_JSON_NODES} values.")
        # Depth is the containers' (a scalar inside the deepest container is at its depth), as the
        # first guess counts it: both paths then agree on every body.
        if depth > MAX_JSON_DEPTH and isinstance(value, dict | list):
            raise ParseError(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class ORJSONParser(parsers.JSONParser):
    """JSON bodies parsed by orjson: faster than the standard library, and strict. It refuses NaN,
    numbers that overflow a double, unpaired surrogates, invalid UTF-8 and nesting deeper than
    1024 levels, all of which would otherwise reach the database or the stack; then bodies larger or
    deeper than any request needs (`_check_json_shape`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        _check_json_shape(raw, data)
        return data


MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"


class MergePatchParser(ORJSONParser):
    """RFC 7396 JSON Merge Patch bodies: JSON, read as a patch to merge into the stored object rather
    than values to replace it with. Views that take it check `is_merge_patch` (PATCH only)."""

    media_type = MERGE_PATCH_MEDIA_TYPE


def is_merge_patch(request) -> bool:
    return request.content_type.split(";", 1)[0].strip().lower() == MERGE_PATCH_MEDIA_TYPE


# Django decodes form fields with errors="replace", so invalid UTF-8 (a lone surrogate sent as raw
# bytes, say) would be stored silently as U+FFFD. These parsers let Django decode as latin-1, which
# maps every byte to one character and loses nothing, then decode each field strictly: invalid
# text is a 400, and what is stored is what was sent.


def _strict_text(value: str, encoding: str) -> str:
    try:
        return value.encode("latin-1").decode(encoding)
    except UnicodeDecodeError:
        raise ParseError(f"Form body is not valid {encoding} text.") from None


def _strict_query_dict(lossless: QueryDict, encoding: str) -> QueryDict:
    decoded = QueryDict(mutable=True, encoding=encoding)
    for key, values in lossless.lists():
        for value in values:
            decoded.appendlist(_strict_text(key, encoding), _strict_text(value, encoding))
    decoded._mutable = False
    return decoded


class StrictFormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        return _strict_query_dict(QueryDict(stream.read(), encoding="latin-1"), encoding)


class StrictMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        lossless = super().parse(stream, media_type, {**(parser_context or {}), "encoding": "latin-1"})
        return parsers.DataAndFiles(_strict_query_dict(lossless.data, encoding), lossless.files)


# (A comment, not a docstring: drf-spectacular would publish a view's docstrings as descriptions.)
# Lets a viewset's PATCH take `application/merge-patch+json`, and the actions it names in
# `merge_patch_actions`; any other answers it 415. (DRF's view sets `self.request` and its
# `action_map` before it asks for the parsers, and `action` only after.)
class MergePatchMixin:
    merge_patch_actions = ("partial_update",)

    # What this mixin adds to PATCH's OpenAPI operation (`api/schema.py` collects it): the merge-patch
    # media type as a second request body, after JSON, and in words.
    openapi_by_action = {
        "partial_update": {
            "merge_patch": True,
            "description": "With `Content-Type: application/merge-patch+json` (RFC 7396), `config` is merged "
            "into the stored one key by key (`null` removes a key, objects merge recursively) and the result is "
            "checked as a whole; with `application/json` it is replaced whole."
        }
    }

    def get_parsers(self):
        parsers = super().get_parsers()
        if self.request is not None:
            action = getattr(self, "action_map", {}).get(self.request.method.lower())
            if action in self.merge_patch_actions:
                parsers.append(MergePatchParser())
        return parsers
