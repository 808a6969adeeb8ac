from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The shared HTTP layer: errors, middleware, tenancy base, permissions, pagination, parsers,
    renderers, rate limits, health probes and the OpenAPI conventions. It holds no domain."""

    name = "api"
    verbose_name = "API"

    def ready(self):
        from . import schema  # noqa: F401 -- registers the OpenAPI extensions
