from django.apps import AppConfig


class SignalSourceAppConfig(AppConfig):
    name = "signalsource"
    verbose_name = "Signal sources"
