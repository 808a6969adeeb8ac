"""Small display helpers the admins share."""

from django.utils import timezone
from django.utils.dateformat import format as format_date


def time_with_zone(value) -> str:
    """A time as `2026-11-28 01:52:03 UTC`: the admin's default format leaves the zone out."""
    if value is None:
        return "-"
    return format_date(timezone.localtime(value), "Y-m-d H:i:s T")
