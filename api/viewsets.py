"""The one base for views under `/api/projects/{project_id}/`: tenancy lives here and nowhere else."""

import functools

from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils.functional import cached_property
from rest_framework import exceptions, mixins, viewsets
from rest_framework.permissions import IsAuthenticated

from auth_keys.authentication import PersonalAPIKeyAuthentication
from projects.models import OrganizationMembership, Project

from .body import BodyAfterAuthenticationMixin
from .permissions import APIScopePermission, ProjectAccessPermission

# Largest id a bigint column holds; a larger number names no project (and must not overflow a query).
MAX_PROJECT_ID = 2**63 - 1
MAX_PROJECT_ID_DIGITS = len(str(MAX_PROJECT_ID))


class ProjectScopedViewSet(BodyAfterAuthenticationMixin, viewsets.GenericViewSet):
    """Resolves the project from the URL, checks access in the contract's order, and filters every
    queryset by that project.

    Subclasses declare `scope_object` and `queryset`, and may narrow the queryset in
    `get_project_queryset`. An action of their own names the access it needs by adding itself to
    `scope_object_read_actions` or `scope_object_write_actions` (PostHog's names); an action in
    neither is refused to every key. Whatever they set, they cannot weaken the tenancy:
    - the base's own permissions always run; a subclass's `permission_classes` are checked after them,
      never instead of them (as PostHog's routing mixin composes its permissions);
    - the methods that resolve the project, the queryset and the object, and that run the checks, may
      not be overridden at all (a TypeError when the class is defined).
    """

    scope_object: str | None = None
    # The access each action needs on `scope_object` (`auth_keys.scopes.required_scope`).
    scope_object_read_actions = ("list", "retrieve")
    scope_object_write_actions = ("create", "update", "partial_update", "destroy")
    # Optional selectors, faster than the ORM's queries on the busiest routes, used where nothing in
    # the request or the subclass narrows the queryset (`_nothing_narrows`); the base passes the project:
    # `project_object_selector(project_id=..., pk=...)`: the project's object with that key, or None;
    # `project_page_selector(project_id=..., offset=..., limit=...)`: a page of the queryset, in its
    # order, each row annotated with the `total_count` of the whole list.
    project_object_selector = None
    project_page_selector = None
    _throttles_checked = False  # a request is counted once (see perform_authentication)
    # Requests without a valid key are rate-limited per client address (api/throttling.py).
    limit_requests_without_key = True
    # Extra permissions a subclass may add; the base's own always come first.
    permission_classes = ()
    tenancy_permission_classes = (IsAuthenticated, APIScopePermission, ProjectAccessPermission)
    GUARDED_METHODS = (
        "get_queryset",
        "get_object",
        "get_permissions",
        "check_permissions",
        "get_authenticators",
        "perform_authentication",
        "check_throttles",
        "initial",
        "select_project_page",
        "_nothing_narrows",
    )

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

    def get_authenticators(self):
        # The key's query finds the URL's project too: one round trip less on every request.
        return [
            authenticator(project_id=self.project_id)
            if issubclass(authenticator, PersonalAPIKeyAuthentication)
            else authenticator()
            for authenticator in self.authentication_classes
        ]

    def initial(self, request, *args, **kwargs):
        # A method this route does not take is a 405 (with `Allow`), whoever asks.
        # The router maps PUT and OPTIONS to actions (update, metadata) that `http_method_names`
        # leaves out; without the second check they would reach the permissions and answer 403.
        if self.action is None or request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    # DRF checks the throttles after the permissions; here they come right after authentication
    # (`perform_authentication`, DRF's hook that runs first): a key at its limit gets 429 on every
    # route whatever the project (its 403s and 404s would otherwise be free), and a request whose
    # key is refused (401) is counted against its client address. `check_throttles` then counts a
    # request once, when DRF calls it again after the permissions.
    def perform_authentication(self, request):
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # the key was refused: counted per client address
            raise
        self.check_throttles(request)

    def check_throttles(self, request):
        if not self._throttles_checked:
            self._throttles_checked = True
            super().check_throttles(request)

    def check_permissions(self, request):
        # Contract order: no or bad key (401), then unknown project (404), then the 403s.
        if not request.user or not request.user.is_authenticated:
            self.permission_denied(request)
        self.project  # noqa: B018 -- raises 404 for an unknown project
        super().check_permissions(request)

    @cached_property
    def project_id(self) -> int | None:
        """The URL's project id, or None when it cannot name a project."""
        raw_id = str(self.kwargs.get("project_id", ""))
        # The length check comes first: int() refuses strings of more than 4300 digits with a ValueError.
        if (
            raw_id.isascii()
            and raw_id.isdigit()
            and len(raw_id) <= MAX_PROJECT_ID_DIGITS
            and 0 < int(raw_id) <= MAX_PROJECT_ID
        ):
            return int(raw_id)
        return None

    @cached_property
    def project(self) -> Project:
        """The URL's project, annotated with whether the user is a member of its organization."""
        project = None
        if self.project_id is not None:
            authenticator = self.request.successful_authenticator
            if isinstance(authenticator, PersonalAPIKeyAuthentication) and authenticator.project_id == self.project_id:
                project = authenticator.requested_project  # found by the key's own query
            else:  # authenticated some other way
                memberships = OrganizationMembership.objects.filter(
                    organization=OuterRef("organization_id"), user=self.request.user.pk
                )
                project = (
                    Project.objects.annotate(user_is_member=Exists(memberships)).filter(pk=self.project_id).first()
                )
        if project is None:
            raise exceptions.NotFound("Project not found.")
        return project

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting the view
            return super().get_queryset().none()
        # Filtered after the subclass's narrowing, so that nothing it does can widen it past the project.
        return self.get_project_queryset(super().get_queryset()).filter(project_id=self.project.id)

    def get_object(self):
        if self.project_object_selector is not None and self._nothing_narrows():
            lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
            instance = type(self).project_object_selector(project_id=self.project.id, pk=lookup)
            if instance is None:
                # As DRF's lookup (django.shortcuts.get_object_or_404) raises it.
                raise Http404(f"No {self.queryset.model._meta.object_name} matches the given query.")
            self.check_object_permissions(self.request, instance)
        else:
            instance = super().get_object()
        if instance.project_id != self.project.id:  # unreachable through get_queryset; a last guard
            raise exceptions.NotFound()
        return instance

    def select_project_page(self):
        """The list's page by the view's `project_page_selector`, or None where the selector cannot
        stand in for the queryset (see `_nothing_narrows`; `ProjectListModelMixin` uses it)."""
        paginator = self.paginator
        if (
            self.project_page_selector is None
            or paginator is None
            or not self._nothing_narrows(allowed_params={paginator.limit_query_param, paginator.offset_query_param})
        ):
            return None
        fetch_page = functools.partial(type(self).project_page_selector, project_id=self.project.id)
        rows = paginator.paginate_with(fetch_page, self.request, count=lambda: self.get_queryset().count())
        if any(row.project_id != self.project.id for row in rows):  # a last guard, as in get_object
            raise exceptions.NotFound()
        return rows

    def _nothing_narrows(self, allowed_params=frozenset()) -> bool:
        # A selector stands in for the queryset only when no filter in the query string and no
        # narrowing in get_project_queryset could make the ORM's answer differ from it.
        return (
            set(self.request.query_params) <= allowed_params
            and type(self).get_project_queryset is ProjectScopedViewSet.get_project_queryset
        )

    def get_project_queryset(self, queryset):
        return queryset


# DRF's list, served by the view's `project_page_selector` where nothing narrows the request: then
# not even the queryset is built (a twelfth of a short list's CPU). (A comment, not a docstring:
# drf-spectacular would publish it as the list's description.)
class ProjectListModelMixin(mixins.ListModelMixin):
    def list(self, request, *args, **kwargs):
        page = self.select_project_page()
        if page is None:
            return super().list(request, *args, **kwargs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
