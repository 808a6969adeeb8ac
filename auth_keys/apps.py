from django.apps import AppConfig


class AuthKeysConfig(AppConfig):
    name = "auth_keys"
    # The app's name in the admin, distinct from its model's ("Personal API keys"), which the
    # breadcrumb shows after it.
    verbose_name = "API keys"

    def ready(self):
        from . import schema  # noqa: F401 -- registers the OpenAPI extension for key authentication
