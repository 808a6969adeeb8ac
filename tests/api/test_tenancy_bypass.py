"""The tenancy base cannot be weakened by a subclass: whatever permissions, queryset or narrowing a
view declares, another organisation's project stays 403 and another project's config stays 404.
The selectors a view may declare (`project_object_selector`, `project_page_selector`) answer only
where nothing narrows the request, and their rows pass the same checks as the queryset's."""

import base64
import re
import uuid

import pytest
from rest_framework import mixins
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from api.viewsets import ProjectListModelMixin, ProjectScopedViewSet
from signalsource import selectors
from signalsource.models import SignalSourceConfig
from signalsource.serializers import SignalSourceConfigSerializer
from tests.helpers import make_config, make_user

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


def call(viewset, raw_key, project_id, config_id=None, query=""):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"} if raw_key else {}
    request = factory.get(f"/?{query}" if query else "/", **headers)
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
    ("method", "hint"),
    [
        ("get_queryset", " (narrow the queryset in get_project_queryset)"),
        ("get_object", ""),
        ("get_permissions", ""),
        ("check_permissions", ""),
        ("get_authenticators", ""),
        ("perform_authentication", ""),
        ("check_throttles", ""),
        ("initial", ""),
        ("select_project_page", ""),
        ("_nothing_narrows", ""),
    ],
)
def test_a_subclass_may_not_override_the_methods_that_enforce_tenancy(method, hint):
    message = f"Bypass may not override {method}: the tenancy base owns it{hint}."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
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


def _any_projects_config(*, project_id, pk):
    """A careless object selector: it forgets the project it is given."""
    return SignalSourceConfig.objects.filter(pk=pk).first()


class ObjectSelectorViewSet(LooseViewSet):
    """Retrieves through the configs' own selector, as the configs' views do."""

    project_object_selector = selectors.project_config


class CarelessObjectSelectorViewSet(LooseViewSet):
    project_object_selector = _any_projects_config


def test_the_object_selector_finds_the_projects_own_config_only(tenant, other_tenant):
    own = make_config(tenant.project)
    foreign = make_config(other_tenant.project)

    response = call(ObjectSelectorViewSet, tenant.raw_key, tenant.project.id, own.id)

    assert response.status_code == 200, response.data
    assert response.data["id"] == str(own.id)
    for config_id in (foreign.id, uuid.uuid4()):
        response = call(ObjectSelectorViewSet, tenant.raw_key, tenant.project.id, config_id)
        assert response.status_code == 404, response.data
        assert response.data["detail"] == "Not found."


def test_an_object_selector_that_returns_another_projects_config_answers_404(tenant, other_tenant):
    foreign = make_config(other_tenant.project)

    response = call(CarelessObjectSelectorViewSet, tenant.raw_key, tenant.project.id, foreign.id)

    assert response.status_code == 404, response.data


class CreatorOnly:
    message = "Only its creator may read this config."

    def has_permission(self, request, view):
        return True

    def has_object_permission(self, request, view, obj):
        return obj.created_by_id == request.user.pk


class CreatorOnlyViewSet(ObjectSelectorViewSet):
    permission_classes = [CreatorOnly]


def test_a_subclass_object_permission_judges_the_selectors_config_for_the_requests_user(tenant):
    mine = make_config(tenant.project, created_by=tenant.user)
    theirs = make_config(tenant.project, source_product="linear", created_by=make_user())

    assert call(CreatorOnlyViewSet, tenant.raw_key, tenant.project.id, mine.id).status_code == 200
    response = call(CreatorOnlyViewSet, tenant.raw_key, tenant.project.id, theirs.id)
    assert response.status_code == 403, response.data
    assert response.data["detail"] == "Only its creator may read this config."


@pytest.fixture
def page_selector_calls():
    """A list view whose page selector (the configs' own) notes each call: `(viewset, calls)`."""
    calls = []

    def recording_page(*, project_id, offset, limit):
        calls.append({"project_id": project_id, "offset": offset, "limit": limit})
        return selectors.project_configs_page(project_id=project_id, offset=offset, limit=limit)

    viewset = type(
        "PageSelectorViewSet", (ProjectListModelMixin, LooseViewSet), {"project_page_selector": recording_page}
    )
    return viewset, calls


def test_the_page_selector_lists_the_projects_page_when_only_the_page_is_asked_for(
    tenant, other_tenant, page_selector_calls
):
    viewset, calls = page_selector_calls
    own = make_config(tenant.project)
    make_config(other_tenant.project)

    for query, offset, limit in (("", 0, 100), ("limit=1&offset=0", 0, 1)):
        response = call(viewset, tenant.raw_key, tenant.project.id, query=query)
        assert response.status_code == 200, response.data
        assert [item["id"] for item in response.data["results"]] == [str(own.id)]
        assert calls == [{"project_id": tenant.project.id, "offset": offset, "limit": limit}]
        calls.clear()


def test_past_the_last_page_the_count_comes_from_the_queryset(tenant, page_selector_calls):
    viewset, _ = page_selector_calls
    make_config(tenant.project)

    response = call(viewset, tenant.raw_key, tenant.project.id, query="offset=5")

    assert response.status_code == 200, response.data
    assert response.data["count"] == 1
    assert response.data["results"] == []


def test_another_query_parameter_or_a_narrowing_subclass_lists_through_the_queryset(tenant, page_selector_calls):
    viewset, calls = page_selector_calls
    enabled = make_config(tenant.project, enabled=True)
    disabled = make_config(tenant.project, source_product="linear", enabled=False)

    response = call(viewset, tenant.raw_key, tenant.project.id, query="source_product=github")
    assert response.status_code == 200, response.data
    assert {item["id"] for item in response.data["results"]} == {str(enabled.id), str(disabled.id)}

    class DisabledOnly(viewset):
        def get_project_queryset(self, queryset):
            return queryset.filter(enabled=False)

    response = call(DisabledOnly, tenant.raw_key, tenant.project.id)
    assert response.status_code == 200, response.data
    assert [item["id"] for item in response.data["results"]] == [str(disabled.id)]
    assert calls == []


class QuerysetListViewSet(ProjectListModelMixin, LooseViewSet):
    """The list mixin without a page selector."""


def test_a_list_without_a_page_selector_lists_through_the_queryset(tenant, other_tenant):
    own = make_config(tenant.project)
    make_config(other_tenant.project)

    response = call(QuerysetListViewSet, tenant.raw_key, tenant.project.id)

    assert response.status_code == 200, response.data
    assert [item["id"] for item in response.data["results"]] == [str(own.id)]


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
