from django.apps import AppConfig


class AuthKeysConfig(AppConfig):
    name = "auth_keys"
    verbose_name = "Personal API keys"
