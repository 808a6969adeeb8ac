"""The one base for views under `/api/projects/{project_id}/`: tenancy lives here and nowhere else."""

import functools

from django.db import connection
from django.utils.functional import cached_property
from rest_framework import exceptions, viewsets
from rest_framework.permissions import IsAuthenticated

from projects.models import OrganizationMembership, Project

from .permissions import APIScopePermission, ProjectAccessPermission

# Largest id a bigint column holds; a larger number names no project (and must not overflow a query).
MAX_PROJECT_ID = 2**63 - 1
MAX_PROJECT_ID_DIGITS = len(str(MAX_PROJECT_ID))


@functools.cache
def _project_lookup_sql() -> str:
    """The project, with whether the user is a member of its organization (`user_is_member`), in one
    query: `Project.objects.annotate(user_is_member=Exists(...)).filter(pk=...)`, written by hand
    because it runs on every request and the ORM takes about 1 ms of CPU to compile it, raw() 0.2 ms."""
    quote = connection.ops.quote_name
    project, membership = quote(Project._meta.db_table), quote(OrganizationMembership._meta.db_table)
    return (
        f"SELECT p.*, EXISTS(SELECT 1 FROM {membership} m"  # noqa: S608 -- names only, no values
        " WHERE m.organization_id = p.organization_id AND m.user_id = %s) AS user_is_member"
        f" FROM {project} p WHERE p.id = %s"
    )


class ProjectScopedViewSet(viewsets.GenericViewSet):
    """Resolves the project from the URL, checks access in the contract's order, and filters every
    queryset by that project.

    Subclasses declare `scope_object` and `queryset`, and may narrow the queryset in
    `get_project_queryset`. Whatever they set, they cannot weaken the tenancy:
    - the base's own permissions always run; a subclass's `permission_classes` are checked after them,
      never instead of them (as PostHog's routing mixin composes its permissions);
    - the methods that resolve the project, the queryset and the object, and that run the checks, may
      not be overridden at all (a TypeError when the class is defined).
    """

    scope_object: str | None = None
    # Requests without a valid key are rate-limited per client address (api/throttling.py).
    limit_requests_without_key = True
    # Extra permissions a subclass may add; the base's own always come first.
    permission_classes = ()
    tenancy_permission_classes = (IsAuthenticated, APIScopePermission, ProjectAccessPermission)
    GUARDED_METHODS = ("get_queryset", "get_object", "get_permissions", "check_permissions", "initial")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.GUARDED_METHODS:
            if name in cls.__dict__:
                hint = " (narrow the queryset in get_project_queryset)" if name == "get_queryset" else ""
                raise TypeError(f"{cls.__name__} may not override {name}: the tenancy base owns it{hint}.")
        if "tenancy_permission_classes" in cls.__dict__ or "GUARDED_METHODS" in cls.__dict__:
            raise TypeError(f"{cls.__name__} may not change the tenancy base's own permissions or guards.")

    def get_permissions(self):
        extra = [cls for cls in self.permission_classes if cls not in self.tenancy_permission_classes]
        return [permission() for permission in (*ProjectScopedViewSet.tenancy_permission_classes, *extra)]

    def initial(self, request, *args, **kwargs):
        # A method this route does not take is a 405 (with `Allow`), whoever asks.
        # The router maps PUT and OPTIONS to actions (update, metadata) that `http_method_names`
        # leaves out; without the second check they would reach the permissions and answer 403.
        if self.action is None or request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        # DRF's APIView.initial, with the throttles moved before the permissions: a key at its limit
        # gets 429 on every route whatever the project (its 403s and 404s would otherwise be free),
        # and a request whose key is refused (401) is counted against its client address.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # the key was refused: counted per client address
            raise
        self.check_throttles(request)
        self.check_permissions(request)

    def check_permissions(self, request):
        # Contract order: no or bad key (401), then unknown project (404), then the 403s.
        if not request.user or not request.user.is_authenticated:
            self.permission_denied(request)
        self.project  # noqa: B018 -- raises 404 for an unknown project
        super().check_permissions(request)

    @cached_property
    def project(self) -> Project:
        raw_id = str(self.kwargs.get("project_id", ""))
        project = None
        # The length check comes first: int() refuses strings of more than 4300 digits with a ValueError.
        if (
            raw_id.isascii()
            and raw_id.isdigit()
            and len(raw_id) <= MAX_PROJECT_ID_DIGITS
            and 0 < int(raw_id) <= MAX_PROJECT_ID
        ):
            project = next(iter(Project.objects.raw(_project_lookup_sql(), [self.request.user.pk, int(raw_id)])), None)
        if project is None:
            raise exceptions.NotFound("Project not found.")
        return project

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting the view
            return super().get_queryset().none()
        # Filtered after the subclass's narrowing, so that nothing it does can widen it past the project.
        return self.get_project_queryset(super().get_queryset()).filter(project_id=self.project.id)

    def get_object(self):
        instance = super().get_object()
        if instance.project_id != self.project.id:  # unreachable through get_queryset; a last guard
            raise exceptions.NotFound()
        return instance

    def get_project_queryset(self, queryset):
        return queryset
