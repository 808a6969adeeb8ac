import django_filters
from django_filters.rest_framework import DjangoFilterBackend

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


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request sends none of the filter's parameters.

    Building a filterset builds its form and validates it, about a tenth of a list request's CPU,
    and without parameters it would filter nothing. Any parameter that starts with a filter's name
    counts (a range filter reads `<name>_min` and `<name>_max`), so a bad value is still a 400.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = tuple(filterset_class.base_filters)
        if not any(param.startswith(names) for param in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
