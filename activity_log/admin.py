"""The operators' view of the activity log: browse and filter, never add, change or delete (old
records are removed only by `manage.py prune_activity_log`)."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from api.admin_display import time_with_zone

from .models import ActivityLog

VALUE_PREVIEW = 200  # characters of a before/after value shown in a list


def _value(value) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= VALUE_PREVIEW else text[:VALUE_PREVIEW] + "…"


def format_changes(record: ActivityLog) -> str:
    """A record's changes as lines of `field: before → after` (JSON values)."""
    changes = ((record.detail or {}).get("changes")) or []
    return format_html_join(
        "",
        "<div><code>{}</code> {}: {} → {}</div>",
        (
            (change.get("field") or "", change.get("action"), _value(change.get("before")), _value(change.get("after")))
            for change in changes
        ),
    )


def format_who(record: ActivityLog) -> str:
    if record.user_id is None:
        return record.actor
    email = record.user.email if record.user else record.user_id
    return format_html("{} <span class='quiet'>({})</span>", email, record.actor)


def activity_log_changelist_url(**filters) -> str:
    return f"{reverse('admin:activity_log_activitylog_changelist')}?{urlencode(filters)}"


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    list_display = ["created", "scope", "item", "activity", "who", "project", "changes"]
    list_filter = ["scope", "activity", "is_system", "actor", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["item_id__exact", "request_id__exact", "actor", "user__email"]
    search_help_text = "Search by object id, request id, actor (e.g. a key's mask) or user email."
    list_select_related = ["project", "user"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) of a long log on every page
    fields = [
        "created",
        "project",
        "scope",
        "item_id",
        "name",
        "activity",
        "user",
        "actor",
        "is_system",
        "was_impersonated",
        "request_id",
        "changes",
        "detail_json",
    ]
    readonly_fields = fields

    # Read-only for everyone, superusers included: records are never changed or deleted here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="created at", ordering="created_at")
    def created(self, record):
        return time_with_zone(record.created_at)

    @admin.display(description="object", ordering="item_id")
    def item(self, record):
        name = (record.detail or {}).get("name")
        return f"{name} ({record.item_id})" if name else record.item_id

    @admin.display(description="name")
    def name(self, record):
        return (record.detail or {}).get("name")

    @admin.display(description="who")
    def who(self, record):
        return format_who(record)

    @admin.display(description="changes")
    def changes(self, record):
        return format_changes(record)

    @admin.display(description="detail")
    def detail_json(self, record):
        return format_html("<pre>{}</pre>", json.dumps(record.detail, indent=2, ensure_ascii=False, default=str))
