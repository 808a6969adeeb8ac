"""The operators' admin for organizations, their members and projects, and users."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Organization, OrganizationMembership, Project


class MembershipInline(admin.TabularInline):
    model = OrganizationMembership
    extra = 0
    readonly_fields = ["joined_at"]


class OrganizationMembersInline(MembershipInline):
    autocomplete_fields = ["user"]
    verbose_name = "member"
    verbose_name_plural = "members"


class UserOrganizationsInline(MembershipInline):
    autocomplete_fields = ["organization"]
    verbose_name = "organization membership"


class ProjectInline(admin.TabularInline):
    model = Project
    extra = 0
    fields = ["name", "created_at"]
    readonly_fields = ["created_at"]
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "project_count", "created_at"]
    # Explicit: the model's default ordering does not apply to the counting (GROUP BY) queryset.
    ordering = ["name"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    inlines = [OrganizationMembersInline, ProjectInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", distinct=True), project_count=Count("projects", distinct=True))
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, organization):
        return organization.member_count

    @admin.display(description="projects", ordering="project_count")
    def project_count(self, organization):
        return organization.project_count


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "organization", "config_count", "created_at"]
    list_display_links = ["id", "name"]
    ordering = ["id"]
    list_filter = ["organization"]
    # `id__exact` compares the id as text, so a search term that is not a number matches nothing
    # instead of failing.
    search_fields = ["name", "id__exact"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    fields = ["name", "organization", "members", "created_at"]
    readonly_fields = ["members", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(config_count=Count("signal_source_configs"))

    @admin.display(description="signal source configs", ordering="config_count")
    def config_count(self, project):
        return project.config_count

    @admin.display(description="members")
    def members(self, project):
        """Members belong to the organization and may use all of its projects, so they are listed
        here and edited on the organization."""
        if project.pk is None:
            return "Members of the chosen organization may use this project."
        memberships = project.organization.memberships.select_related("user").order_by("user__email")
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a> <span class="quiet">(joined {})</span></li>',
            (
                (
                    reverse("admin:auth_user_change", args=[m.user_id]),
                    m.user.email or m.user.get_username(),
                    m.joined_at.date().isoformat(),
                )
                for m in memberships
            ),
        )
        edit_url = reverse("admin:projects_organization_change", args=[project.organization_id])
        return format_html(
            '<ul style="margin-left:0;padding-left:1em">{}</ul><a href="{}">Edit the members of {}</a>',
            rows or format_html("<li>{}</li>", "No members yet."),
            edit_url,
            project.organization,
        )


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class MemberUserAdmin(UserAdmin):
    """Django's user admin, plus the organizations each user is a member of."""

    inlines = [UserOrganizationsInline]
