import django_filters

from . import catalog
from .models import SignalSourceConfig


class SignalSourceConfigFilter(django_filters.FilterSet):
    source_product = django_filters.ChoiceFilter(choices=catalog.PRODUCT_CHOICES)
    source_type = django_filters.ChoiceFilter(choices=catalog.TYPE_CHOICES)
    # A strict choice, so that `?enabled=maybe` is a 400 rather than silently ignored.
    enabled = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true"
    )

    class Meta:
        model = SignalSourceConfig
        fields = ["source_product", "source_type", "enabled"]
