from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Helpers every app may use; it depends on none of them."""

    name = "common"
