import django_filters

from api.filters import BooleanChoiceFilter

from . import catalog
from .models import SignalSourceConfig


class SignalSourceConfigFilter(django_filters.FilterSet):
    source_product = django_filters.ChoiceFilter(choices=catalog.PRODUCT_CHOICES)
    source_type = django_filters.ChoiceFilter(choices=catalog.TYPE_CHOICES)
    enabled = BooleanChoiceFilter()

    class Meta:
        model = SignalSourceConfig
        fields = ["source_product", "source_type", "enabled"]
