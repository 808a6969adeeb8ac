"""Reading the activity log."""

from .models import ActivityLog

NEWEST_FIRST = ("-created_at", "-id")


def records():
    """Every record, newest first, with its user (one query for a page, however many users)."""
    return ActivityLog.objects.select_related("user").order_by(*NEWEST_FIRST)


def item_records(*, project_id: int, scope: str, item_id):
    """One object's history in one project, which outlives the object."""
    return records().filter(project_id=project_id, scope=scope, item_id=str(item_id))
