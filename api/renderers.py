import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()


class ORJSONRenderer(renderers.JSONRenderer):
    """JSON responses encoded by orjson, which is several times faster than the standard library.

    DRF's encoder still handles the types orjson does not know (lazy strings, Decimals, ...).
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            return orjson.dumps(data, default=_fallback.default)
        except TypeError:
            # orjson refuses integers beyond 64 bits. PostgreSQL's jsonb hands large numbers back
            # as such integers (a stored 1e300 reads back with 301 digits); the standard library
            # writes them, so such a config stays readable.
            return super().render(data, accepted_media_type, renderer_context)
