from django.apps import AppConfig


class ChangeEventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "change_events"
    verbose_name = "change events"
