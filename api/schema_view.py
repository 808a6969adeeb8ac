"""The API description, served from a copy built once per process.

Building the description walks every view and serializer (100-450 ms of CPU) and rendering it as
YAML takes another 25 ms; the description only changes with the code, so each worker builds it on
its first request for each format and serves the same bytes afterwards. It is what `make openapi`
writes to `openapi.yaml` (built without a request, as the command builds it), so a test can compare
the two byte for byte. It needs no key, so it is also limited per client address
(`RATE_LIMIT_SCHEMA`): a crowd of anonymous clients cannot hold every worker.
"""

import threading

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

from .body import BodyAfterAuthenticationMixin

# (renderer class) -> (content type, bytes). One per format; the description is the same for everyone.
_rendered: dict[type, tuple[str, bytes]] = {}
_building = threading.Lock()


class SchemaView(BodyAfterAuthenticationMixin, SpectacularAPIView):
    # Counted per client address, under its own limit (api/throttling.py).
    limit_requests_without_key = True
    address_limits = ("schema",)

    @extend_schema(exclude=True)  # not an operation of the API it describes
    def get(self, request, *args, **kwargs):
        renderer = request.accepted_renderer
        cached = _rendered.get(type(renderer))
        if cached is None:
            with _building:
                cached = _rendered.get(type(renderer))
                if cached is None:
                    cached = _rendered[type(renderer)] = self._render(renderer)
        content_type, content = cached
        filename = self._get_filename(request, None)
        return HttpResponse(
            content, content_type=content_type, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    def _render(self, renderer) -> tuple[str, bytes]:
        generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
        schema = generator.get_schema(request=None, public=self.serve_public)
        content_type = renderer.media_type + (f"; charset={renderer.charset}" if renderer.charset else "")
        return content_type, renderer.render(schema, renderer.media_type, {})
