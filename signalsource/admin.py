"""The operators' admin for signal source configs. Every change goes through `services`, as the API's
do, so both follow one set of rules."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from activity_log import selectors as activity_selectors
from activity_log.admin import activity_log_changelist_url
from activity_log.services import Actor
from api.admin_display import DropdownChoicesFilter, time_with_zone

from . import activity, catalog, health, services
from .forms import SignalSourceConfigAdminForm, admin_messages
from .models import ProcessingStatus, SignalSourceConfig, SignalSourceRun

# The health badge's colour for each state (signalsource/health.py).
HEALTH_COLOURS = {
    health.HEALTHY: "#2e7d32",
    health.FAILING: "#c62828",
    health.STALE: "#ef6c00",
    health.DORMANT: "#6a1b9a",
    health.NEVER_RAN: "#607d8b",
    health.DISABLED: "#9e9e9e",
}


class StatusFilter(admin.SimpleListFilter):
    """The processing statuses, and "unknown" for configs nothing has reported on yet."""

    title = "status"
    parameter_name = "status"
    UNKNOWN = "unknown"

    def lookups(self, request, model_admin):
        return [*ProcessingStatus.choices, (self.UNKNOWN, "Unknown")]

    def queryset(self, request, queryset):
        if self.value() == self.UNKNOWN:
            return queryset.filter(status__isnull=True)
        if self.value() in ProcessingStatus.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(SignalSourceConfig)
class SignalSourceConfigAdmin(admin.ModelAdmin):
    form = SignalSourceConfigAdminForm
    # What fits 1366 px without scrolling: the source's label says its product and type.
    list_display = [
        "source",
        "project_name",
        "enabled",
        "shown_status",
        "health",
        "last_error",
        "updated",
    ]
    list_filter = [
        ("source_product", DropdownChoicesFilter),
        ("source_type", DropdownChoicesFilter),
        "enabled",
        StatusFilter,
        ("project__organization", admin.RelatedOnlyFieldListFilter),
    ]
    # Project name and project id (compared as text, so any term is safe); a UUID finds the config.
    search_fields = ["project__name", "project__id__exact"]
    search_help_text = "Search by project name, project id or config id."
    list_select_related = ["project"]
    ordering = ["-updated_at", "id"]
    autocomplete_fields = ["project"]
    actions = ["enable", "disable"]
    record_fields = ["id", "created_by", "created", "updated"]

    def get_fieldsets(self, request, obj=None):
        editable = ["project", "source", *SignalSourceConfig.EDITABLE_FIELDS]
        if obj is None:
            return [(None, {"fields": editable})]
        return [
            (None, {"fields": editable}),
            ("Processing", {"fields": ["status", "recent_runs"], "description": _status_help(obj)}),
            ("Record", {"fields": self.record_fields}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # The project and the source are fixed once the config exists, as in the API.
        return [] if obj is None else ["project", "source", "recent_runs", *self.record_fields]

    @admin.display(description="source", ordering="source_product")
    def source(self, config):
        return catalog.source_label(config.source_product, config.source_type)  # wraps: the list fits 1366 px

    @admin.display(description="project", ordering="project__name")
    def project_name(self, config):
        # Not the field itself: the admin keeps a foreign key's cell on one line, and a long project
        # name would push the list past 1366 px.
        return str(config.project)

    @admin.display(description="created at", ordering="created_at")
    def created(self, config):
        return time_with_zone(config.created_at)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, config):
        return time_with_zone(config.updated_at)

    # --- Health (signalsource/health.py), worked out once for the page's rows ---------------------

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        configs = list(changelist.result_list)  # evaluated once: the page's template reads the same rows
        for row in health.health_of(configs):
            row.config.health_row = row
        return changelist

    @admin.display(description="status", ordering="status")
    def shown_status(self, config):
        # As the API shows it: a running run whose heartbeat stopped counts as failed.
        status = health.shown_status(config)
        return ProcessingStatus(status).label if status else "-"

    @admin.display(description="health")
    def health(self, config):
        row = getattr(config, "health_row", None)
        if row is None:
            return "-"
        colour = HEALTH_COLOURS[row.state]
        return format_html(
            '<span class="health-badge health-{}" title="{}" style="background: {}; color: #fff; padding: 2px 8px; '
            'border-radius: 10px; font-weight: bold; display: inline-block; text-align: center">{}</span>',
            row.state,
            health.STATES[row.state],
            colour,
            row.state.replace("_", " "),
        )

    @admin.display(description="error")  # short headers: the list fits 1366 px
    def last_error(self, config):
        row = getattr(config, "health_row", None)
        if row is None or row.last_error is None:
            return "-"
        return format_html("<code>{}</code>: {}", row.last_error["code"], row.last_error["message"][:200])

    RECENT_RUNS = 20

    @admin.display(description="recent runs")
    def recent_runs(self, config):
        runs = list(SignalSourceRun.objects.filter(config=config).order_by("-started_at", "-id")[: self.RECENT_RUNS])
        if not runs:
            return "No run reported yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    health.shown_state(run)[0],
                    time_with_zone(run.started_at),
                    time_with_zone(run.heartbeat_at),
                    time_with_zone(run.finished_at) if run.finished_at else "-",
                    run.items_processed,
                    run.signals_emitted,
                    (lambda error: f"{error['code']}: {error['message'][:200]}" if error else "-")(
                        health.shown_state(run)[1]
                    ),
                )
                for run in runs
            ),
        )
        return format_html(
            '<table class="recent-runs"><thead><tr><th>state</th><th>started</th><th>heartbeat</th>'
            "<th>finished</th><th>items</th><th>signals</th><th>error</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_search_results(self, request, queryset, search_term):
        try:
            config_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=config_id), False

    # --- Writes, all through services -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            product, source_type = form.source_pair()
            created = services.create_config(
                project=data["project"],
                created_by=request.user,
                source_product=product,
                source_type=source_type,
                actor=Actor.admin(request),
                **form.editable_values(),
            )
            # The admin goes on with `obj` (history entry, redirect): make it the saved config.
            obj.pk = created.pk
            obj.refresh_from_db()
            obj._state.adding = False
            return
        changes = {name: value for name, value in form.editable_values().items() if name in form.changed_data}
        if not changes and "status" not in form.changed_data:
            return
        # The form has already put its values on `obj`; the services compare with the stored ones.
        stored = SignalSourceConfig.objects.get(pk=obj.pk)
        if changes:
            services.update_config(stored, actor=Actor.admin(request), **changes)
        if "status" in form.changed_data:
            services.set_status(stored, data["status"] or None, actor=Actor.admin(request))
        obj.updated_at = stored.updated_at

    # The history page shows the activity log's records of the config (every writer's, with what
    # changed), above Django's own admin entries.
    object_history_template = "admin/signalsource/signalsourceconfig/object_history.html"
    HISTORY_RECORDS = 100

    def history_view(self, request, object_id, extra_context=None):
        config = self.get_object(request, object_id)
        records = []
        if config is not None:  # else Django's own view answers (a redirect with a message)
            history = activity_selectors.item_records(
                project_id=config.project_id, scope=activity.SCOPE, item_id=config.pk
            )
            records = list(history[: self.HISTORY_RECORDS])
        context = {
            "activity_records": records,
            "activity_records_limit": self.HISTORY_RECORDS,
            "activity_log_url": activity_log_changelist_url(item_id=object_id),
        }
        return super().history_view(request, object_id, extra_context={**(extra_context or {}), **context})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # Another create of the same source won the race after the form's own check passed.
            self.message_user(request, " ".join(admin_messages(error)), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        services.delete_config(obj, actor=Actor.admin(request))

    def delete_queryset(self, request, queryset):
        for config in queryset:
            services.delete_config(config, actor=Actor.admin(request))

    @admin.action(description="Enable selected signal source configs", permissions=["change"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected signal source configs", permissions=["change"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        # The API's bulk service, per project: a config already so writes nothing, one deleted since
        # the page was shown is not made again (`create=False`).
        by_project: dict = {}
        for config in queryset.select_related("project").order_by("project_id", "id"):
            by_project.setdefault(config.project, []).append(config)
        outcomes = []
        for project, configs in by_project.items():
            for start in range(0, len(configs), services.MAX_BULK_OPERATIONS):
                operations = [
                    {"source_product": config.source_product, "source_type": config.source_type, "enabled": enabled}
                    for config in configs[start : start + services.MAX_BULK_OPERATIONS]
                ]
                outcomes += services.apply_bulk(
                    project=project,
                    operations=operations,
                    atomic=False,
                    create=False,
                    with_defaults=False,
                    refuse_retired_types=False,
                    actor=Actor.admin(request),
                )
        changed = sum(
            1 for outcome in outcomes if not isinstance(outcome, Exception) and outcome[1] == services.UPDATED
        )
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{verb} {changed} signal source config(s).", messages.SUCCESS)


def _status_help(config) -> str:
    source = catalog.get_source(config.source_product, config.source_type)
    reporter = source.status_from if source else "the system that processes this source"
    return (
        f"The state of this source's latest processing run, normally reported by the {reporter}. "
        "Set it here to correct it; empty means nothing is known."
    )
