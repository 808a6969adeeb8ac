"""Small display helpers the admins share."""

from django.contrib import admin
from django.utils import timezone
from django.utils.dateformat import format as format_date


def time_with_zone(value) -> str:
    """A time as `2026-11-28 01:52:03 UTC`: the admin's default format leaves the zone out."""
    if value is None:
        return "-"
    return format_date(timezone.localtime(value), "Y-m-d H:i:s T")


class DropdownChoicesFilter(admin.ChoicesFieldListFilter):
    """A field's choices as one select in the filter sidebar, for fields with many choices."""

    template = "admin/dropdown_filter.html"
