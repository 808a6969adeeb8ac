"""The operators' admin for personal API keys.

Keys are made by `services.create_api_key`, whose raw value is shown once, on the page answering the
save, and exists nowhere else afterwards (not in a message, the session or a log). The digest is
never shown and no form can change it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html, format_html_join

from projects.models import Organization, Project

from .models import PersonalAPIKey
from .scopes import ALL_SCOPES, VALID_SCOPES, validate_scopes
from .services import create_api_key, revoke_api_key

SCOPE_LABELS = {ALL_SCOPES: "* (everything)"}


def _scope_choices():
    # Everything first, then by object and level.
    return [(scope, SCOPE_LABELS.get(scope, scope)) for scope in sorted(VALID_SCOPES, key=lambda s: (s != "*", s))]


class PersonalAPIKeyCreationForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=_scope_choices, widget=forms.CheckboxSelectMultiple, help_text="A :write scope also grants :read."
    )
    scoped_projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.select_related("organization"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Leave empty to allow every project the user may use. Ctrl or Cmd chooses several.",
    )
    scoped_organizations = forms.ModelMultipleChoiceField(
        queryset=Organization.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Leave empty to allow every organization the user is a member of. Ctrl or Cmd chooses several.",
    )
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for a key that does not expire."
    )

    class Meta:
        model = PersonalAPIKey
        fields = ["user", "label"]

    def clean_scopes(self):
        try:
            return validate_scopes(self.cleaned_data["scopes"])
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None

    def create_key(self) -> tuple[PersonalAPIKey, str]:
        data = self.cleaned_data
        return create_api_key(
            data["user"],
            scopes=data["scopes"],
            label=data["label"],
            scoped_projects=[project.pk for project in data["scoped_projects"]],
            scoped_organizations=[organization.pk for organization in data["scoped_organizations"]],
            expires_in_days=data["expires_in_days"],
        )


class YesNoFilter(admin.SimpleListFilter):
    """A filter on a yes-or-no property of a key: `matching(yes)` is the condition for either answer."""

    def lookups(self, request, model_admin):
        return [("yes", self.title.capitalize()), ("no", f"Not {self.title}")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(self.matching(self.value() == "yes"))
        return queryset


class RevokedFilter(YesNoFilter):
    title = parameter_name = "revoked"

    def matching(self, yes: bool) -> Q:
        return Q(revoked_at__isnull=not yes)


class ExpiredFilter(YesNoFilter):
    title = parameter_name = "expired"

    def matching(self, yes: bool) -> Q:
        now = timezone.now()
        return Q(expires_at__lte=now) if yes else Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _short_time(value) -> str:
    """A time in the list as `2026-11-28 01:52` (the admin's default is twice as wide)."""
    return "-" if value is None else format_date(timezone.localtime(value), "Y-m-d H:i")


@admin.register(PersonalAPIKey)
class PersonalAPIKeyAdmin(admin.ModelAdmin):
    # What fits 1366 px beside the admin's menu; the projects and organizations a key is limited to,
    # and when it was made, are on its page.
    list_display = ["mask", "owner", "label", "scope_list", "last_used", "expires", "revoked"]
    list_filter = [RevokedFilter, ExpiredFilter]
    search_fields = ["mask", "user__email", "user__username", "label"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]
    # The digest is in none of these: never shown, never in a form.
    change_fields = [
        "mask",
        "user",
        "label",
        "scope_list",
        "scoped_project_links",
        "scoped_organization_links",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    change_readonly_fields = [f for f in change_fields if f not in ("label", "expires_at")]

    def lookup_allowed(self, lookup, value, request=None):
        # As Django's UserAdmin refuses lookups on `password`: a filter such as `?digest__lt=` would
        # let anyone who may view keys recover a digest one comparison at a time (257 requests).
        if lookup.split("__")[0] == "digest":
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            # Only these are model fields set by the form; the rest are the service's arguments.
            kwargs.update(form=PersonalAPIKeyCreationForm, fields=PersonalAPIKeyCreationForm.Meta.fields)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "label", "scopes", "scoped_projects", "scoped_organizations", "expires_in_days"]
        return self.change_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.change_readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = form.create_key()
        # The admin goes on with `obj` (history entry, the page below): make it the saved key.
        obj.pk = api_key.pk
        obj.refresh_from_db()
        obj._state.adding = False
        obj.raw_key_shown_once = raw_key  # in memory only, for `response_add`

    def response_add(self, request, obj, post_url_continue=None):
        """Answers the save with the raw key itself, instead of a redirect that would need the key
        kept somewhere until the next page. The admin's views are never cached."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Copy the new personal API key",
            "api_key": obj,
            "raw_key": obj.raw_key_shown_once,
            "change_url": reverse("admin:auth_keys_personalapikey_change", args=[obj.pk]),
            "changelist_url": reverse("admin:auth_keys_personalapikey_changelist"),
            "add_url": reverse("admin:auth_keys_personalapikey_add"),
        }
        return TemplateResponse(request, "admin/auth_keys/personalapikey/created.html", context)

    @admin.action(description="Revoke selected personal API keys", permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            revoke_api_key(api_key)
        self.message_user(request, f"Revoked {len(keys)} personal API key(s).", messages.SUCCESS)

    @admin.display(description="user", ordering="user__username")
    def owner(self, api_key):
        # A long name (an email) may break anywhere: one long address would push the list past 1366 px.
        return format_html('<span style="overflow-wrap: anywhere">{}</span>', api_key.user)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, api_key):
        return _short_time(api_key.last_used_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, api_key):
        return _short_time(api_key.expires_at)

    @admin.display(description="revoked", boolean=True, ordering="revoked_at")
    def revoked(self, api_key):
        return api_key.is_revoked

    @admin.display(description="scopes")
    def scope_list(self, api_key):
        return ", ".join(api_key.scopes)

    @admin.display(description="scoped projects")
    def scoped_project_links(self, api_key):
        return _links("admin:projects_project_change", Project.objects.filter(pk__in=api_key.scoped_projects))

    @admin.display(description="scoped organizations")
    def scoped_organization_links(self, api_key):
        return _links(
            "admin:projects_organization_change", Organization.objects.filter(pk__in=api_key.scoped_organizations)
        )


def _links(url_name, objects):
    return (
        format_html_join(", ", '<a href="{}">{}</a>', ((reverse(url_name, args=[o.pk]), o) for o in objects))
        or "all (not restricted)"
    )
