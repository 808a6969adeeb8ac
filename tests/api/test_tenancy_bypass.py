"""The tenancy base cannot be weakened by a subclass: whatever permissions, queryset or narrowing a
view declares, another organisation's project stays 403 and another project's config stays 404."""

import base64

import pytest
from rest_framework import mixins
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from api.viewsets import ProjectListModelMixin, ProjectScopedViewSet
from signalsource.models import SignalSourceConfig
from signalsource.serializers import SignalSourceConfigSerializer
from tests.helpers import make_config

pytestmark = pytest.mark.django_db

factory = APIRequestFactory()


class LooseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet):
    """What a careless subclass might write: its own, weaker permissions and an unfiltered queryset."""

    scope_object = "task"
    permission_classes = [IsAuthenticated]
    queryset = SignalSourceConfig.objects.all()
    serializer_class = SignalSourceConfigSerializer


class OpenViewSet(LooseViewSet):
    permission_classes = [AllowAny]


class WideningViewSet(LooseViewSet):
    def get_project_queryset(self, queryset):
        return SignalSourceConfig.objects.all()  # tries to drop the project filter


def call(viewset, raw_key, project_id, config_id=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"} if raw_key else {}
    request = factory.get("/", **headers)
    if config_id is None:
        return viewset.as_view({"get": "list"})(request, project_id=str(project_id))
    return viewset.as_view({"get": "retrieve"})(request, project_id=str(project_id), pk=str(config_id))


@pytest.mark.parametrize("viewset", [LooseViewSet, OpenViewSet, WideningViewSet])
def test_a_non_member_is_still_403_whatever_the_subclass_permits(viewset, tenant, other_tenant):
    response = call(viewset, tenant.raw_key, other_tenant.project.id)

    assert response.status_code == 403, response.data
    assert response.data["detail"] == "You don't have access to the project."


@pytest.mark.parametrize("viewset", [LooseViewSet, OpenViewSet, WideningViewSet])
def test_no_key_is_still_401_whatever_the_subclass_permits(viewset, tenant):
    response = call(viewset, None, tenant.project.id)

    assert response.status_code == 401, response.data


@pytest.mark.parametrize("viewset", [LooseViewSet, OpenViewSet])
def test_a_missing_scope_is_still_403_whatever_the_subclass_permits(viewset, tenant):
    tenant.api_key.scopes = []  # a key that grants nothing (the services refuse to make one)
    tenant.api_key.save(update_fields=["scopes"])

    response = call(viewset, tenant.raw_key, tenant.project.id)

    assert response.status_code == 403, response.data
    assert response.data["detail"] == "API key missing required scope 'task:read'"


def test_an_unfiltered_queryset_still_lists_only_the_projects_configs(tenant, other_tenant):
    own = make_config(tenant.project)
    make_config(other_tenant.project)

    for viewset in (LooseViewSet, WideningViewSet):
        response = call(viewset, tenant.raw_key, tenant.project.id)
        assert response.status_code == 200, response.data
        assert [item["id"] for item in response.data["results"]] == [str(own.id)]


@pytest.mark.parametrize("viewset", [LooseViewSet, OpenViewSet, WideningViewSet])
def test_another_projects_config_is_still_404_whatever_the_subclass_queries(viewset, tenant, other_tenant):
    foreign = make_config(other_tenant.project)

    response = call(viewset, tenant.raw_key, tenant.project.id, foreign.id)

    assert response.status_code == 404, response.data
    assert response.data["detail"] == "Not found."


@pytest.mark.parametrize(
    "method",
    [
        "get_queryset",
        "get_object",
        "get_permissions",
        "check_permissions",
        "get_authenticators",
        "perform_authentication",
        "check_throttles",
        "initial",
        "select_project_page",
    ],
)
def test_a_subclass_may_not_override_the_methods_that_enforce_tenancy(method):
    with pytest.raises(TypeError, match=f"may not override {method}"):
        type("Bypass", (ProjectScopedViewSet,), {"scope_object": "task", method: lambda self, *a, **k: None})


@pytest.mark.parametrize("attribute", ["tenancy_permission_classes", "GUARDED_METHODS"])
def test_a_subclass_may_not_replace_the_bases_own_permissions_or_guards(attribute):
    with pytest.raises(TypeError, match="may not change the tenancy base"):
        type("Bypass", (ProjectScopedViewSet,), {"scope_object": "task", attribute: ()})


def _any_projects_page(*, project_id, offset, limit):
    """A careless page selector: it forgets the project it is given."""
    rows = list(SignalSourceConfig.objects.order_by("id")[offset : offset + limit])
    for row in rows:
        row.total_count = len(rows)
    return rows


class CarelessSelectorViewSet(ProjectListModelMixin, LooseViewSet):
    project_page_selector = _any_projects_page


def test_a_page_selector_that_returns_another_projects_rows_answers_404(tenant, other_tenant):
    own = make_config(tenant.project)
    response = call(CarelessSelectorViewSet, tenant.raw_key, tenant.project.id)
    assert response.status_code == 200, response.data
    assert [item["id"] for item in response.data["results"]] == [str(own.id)]

    make_config(other_tenant.project)

    assert call(CarelessSelectorViewSet, tenant.raw_key, tenant.project.id).status_code == 404


class ExtraActionViewSet(LooseViewSet):
    from rest_framework.decorators import action

    @action(detail=False, methods=["get"])
    def undeclared(self, request, *args, **kwargs):
        return Response({"reached": True})


def test_an_action_the_view_does_not_declare_a_scope_for_is_refused_to_every_key(tenant):
    tenant.api_key.scopes = ["*"]
    tenant.api_key.save(update_fields=["scopes"])
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")

    response = ExtraActionViewSet.as_view({"get": "undeclared"})(request, project_id=str(tenant.project.id))

    assert response.status_code == 403, response.data
    assert response.data["detail"] == "This action is not available to API keys (undeclared)."

    class Declared(ExtraActionViewSet):
        scope_object_read_actions = (*ExtraActionViewSet.scope_object_read_actions, "undeclared")

    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
    response = Declared.as_view({"get": "undeclared"})(request, project_id=str(tenant.project.id))
    assert response.status_code == 200, response.data


def test_a_subclass_may_add_permissions_of_its_own(tenant):
    class Refusing:
        message = "Closed for maintenance."

        def has_permission(self, request, view):
            return False

        def has_object_permission(self, request, view, obj):
            return False

    class MaintenanceViewSet(LooseViewSet):
        permission_classes = [Refusing]

        def list(self, request, *args, **kwargs):
            return Response([])

    response = call(MaintenanceViewSet, tenant.raw_key, tenant.project.id)

    assert response.status_code == 403, response.data
    assert response.data["detail"] == "Closed for maintenance."


class PasswordViewSet(LooseViewSet):
    """Authenticated without a key: the project is then not found by the key's query but by its own."""

    authentication_classes = [BasicAuthentication]


def test_without_a_key_the_project_is_still_resolved_before_the_scope_is_refused(tenant, other_tenant):
    tenant.user.set_password("a long enough password")
    tenant.user.save()
    credentials = base64.b64encode(f"{tenant.user.username}:a long enough password".encode()).decode()

    def password_call(project_id):
        request = factory.get("/", HTTP_AUTHORIZATION=f"Basic {credentials}")
        return PasswordViewSet.as_view({"get": "list"})(request, project_id=str(project_id))

    assert password_call(other_tenant.project.id + 1000).status_code == 404
    for project in (tenant.project, other_tenant.project):  # found, then refused: a password has no scopes
        response = password_call(project.id)
        assert response.status_code == 403, response.data
        assert response.data["detail"] == "API key missing required scope 'task:read'"
