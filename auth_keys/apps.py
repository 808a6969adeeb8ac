from django.apps import AppConfig


class AuthKeysConfig(AppConfig):
    name = "auth_keys"
    verbose_name = "Personal API keys"

    def ready(self):
        from . import schema  # noqa: F401 -- registers the OpenAPI extension for key authentication
