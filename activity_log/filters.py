import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import ActivityLog


class CommaSeparatedFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """`a,b,c`: any of the values."""


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An integer id; anything else answers 400, including a number no id column can hold (the
    database would refuse it with an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class ActivityLogFilter(django_filters.FilterSet):
    """PostHog's filters of its activity log, all exact and combined with AND."""

    scope = django_filters.CharFilter(help_text="Only records of this scope, e.g. `SignalSourceConfig`.")
    scopes = CommaSeparatedFilter(field_name="scope", help_text="Only records of any of these comma-separated scopes.")
    item_id = django_filters.CharFilter(help_text="Only records about this object (its id).")
    user = IdFilter(field_name="user_id", help_text="Only changes made by this user (their id).")
    activity = django_filters.CharFilter(help_text="Only this kind of change: `created`, `updated`, ... [ours]")

    class Meta:
        model = ActivityLog
        fields = ["scope", "scopes", "item_id", "user", "activity"]
