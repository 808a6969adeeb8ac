"""The tenancy base's own guarantees (`api/viewsets.py`, `api/permissions.py`): a view that forgets
its `scope_object` fails loudly instead of opening, an action without a scope is refused even to a
`*` key, `get_queryset` cannot be overridden, and `get_project_queryset` narrows within the project;
a method the route does not take is 405 before anything else, a missing key 401 before an unknown
project's 404, and with a key the project is read by the key's own query.

Who may call the real routes, in which order, is the access matrix (test_access_matrix.py).
"""

import logging
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from api.permissions import APIScopePermission
from api.viewsets import ProjectScopedViewSet
from auth_keys.models import PersonalAPIKey
from projects.models import Project
from signalsource.models import SignalSourceConfig
from signalsource.serializers import SignalSourceConfigSerializer
from tests.helpers import make_config, make_key

pytestmark = pytest.mark.django_db

factory = APIRequestFactory()


class ForgetfulViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    """Declares no scope_object."""

    queryset = SignalSourceConfig.objects.all()

    def list(self, request, *args, **kwargs):
        return Response({"opened": True})


class UnmappedActionViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    scope_object = "task"
    queryset = SignalSourceConfig.objects.all()

    @action(detail=False)
    def export(self, request, *args, **kwargs):
        return Response({"opened": True})


def test_a_view_without_scope_object_fails_loudly_instead_of_opening(tenant, caplog):
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
    view = ForgetfulViewSet.as_view({"get": "list"})

    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = view(request, project_id=str(tenant.project.id))

    assert response.status_code == 500
    assert response.data["type"] == "server_error"
    assert "opened" not in response.data
    crashes = [r for r in caplog.records if r.name == "api.errors" and r.exc_info]
    assert [type(r.exc_info[1]) for r in crashes] == [ImproperlyConfigured]
    assert "must declare `scope_object`" in str(crashes[0].exc_info[1])


def test_scope_permission_raises_improperly_configured_for_a_view_without_scope_object(tenant):
    request = factory.get("/")
    view = ForgetfulViewSet(action="list")

    with pytest.raises(ImproperlyConfigured):
        APIScopePermission().has_permission(request, view)


def test_an_action_with_no_scope_mapping_is_refused_even_to_a_star_key(tenant):
    _, raw_key = make_key(tenant.user, ["*"])
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    view = UnmappedActionViewSet.as_view({"get": "export"})

    response = view(request, project_id=str(tenant.project.id))

    assert response.status_code == 403
    assert response.data == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "This action is not available to API keys (export).",
        "attr": None,
    }


def test_a_subclass_overriding_get_queryset_is_refused_at_class_creation():
    message = (
        "LeakyViewSet may not override get_queryset: the tenancy base owns it"
        " (narrow the queryset in get_project_queryset)."
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):

        class LeakyViewSet(ProjectScopedViewSet):
            scope_object = "task"
            queryset = SignalSourceConfig.objects.all()

            def get_queryset(self):
                return SignalSourceConfig.objects.all()


def test_get_project_queryset_narrows_within_the_project_only(tenant, other_tenant):
    class DisabledOnlyViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
        scope_object = "task"
        queryset = SignalSourceConfig.objects.order_by("id")

        def get_project_queryset(self, queryset):
            return queryset.filter(enabled=False)

        def list(self, request, *args, **kwargs):
            return Response([str(pk) for pk in self.get_queryset().values_list("id", flat=True)])

    make_config(tenant.project, enabled=True)
    own_disabled = make_config(tenant.project, source_product="linear", enabled=False)
    make_config(other_tenant.project, enabled=False)
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")

    response = DisabledOnlyViewSet.as_view({"get": "list"})(request, project_id=str(tenant.project.id))

    assert response.status_code == 200, response.data
    assert response.data == [str(own_disabled.id)]


class ListViewSet(mixins.ListModelMixin, mixins.UpdateModelMixin, ProjectScopedViewSet):
    scope_object = "task"
    queryset = SignalSourceConfig.objects.all()
    serializer_class = SignalSourceConfigSerializer
    # PUT is routed to `update` below but is not a method this route takes.
    http_method_names = ["get", "head"]


@pytest.mark.parametrize("method", ["put", "post"])
def test_a_method_the_route_does_not_take_is_405_even_without_a_key(tenant, method):
    """PUT is routed but left out of `http_method_names`; POST is not routed at all (no action)."""
    request = getattr(factory, method)("/", {}, format="json")

    response = ListViewSet.as_view({"get": "list", "put": "update"})(request, project_id=str(tenant.project.id))

    assert response.status_code == 405, response.data
    assert response.data["detail"] == f'Method "{method.upper()}" not allowed.'
    assert response["Allow"] == "GET, HEAD"


def test_without_a_key_an_unknown_project_is_401_not_404(db):
    response = ListViewSet.as_view({"get": "list"})(factory.get("/"), project_id="999999999")

    assert response.status_code == 401, response.data


def test_with_a_key_the_view_reads_the_project_in_the_keys_own_query(tenant):
    """`get_authenticators` gives the key's authenticator the URL's project: no statement of the view's
    own reads it (the password-authenticated view in test_tenancy_bypass.py reads it itself)."""
    project_table, key_table = Project._meta.db_table, PersonalAPIKey._meta.db_table
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")

    with CaptureQueriesContext(connection) as queries:
        response = ListViewSet.as_view({"get": "list"})(request, project_id=str(tenant.project.id))

    assert response.status_code == 200, response.data
    project_reads = [q["sql"] for q in queries.captured_queries if project_table in q["sql"]]
    assert len(project_reads) == 1, project_reads
    assert key_table in project_reads[0]
