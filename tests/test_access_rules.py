"""The contract's section 5, "Who may do what, in this order", row by row, with exact statuses and messages.

The full matrix (every status x every action x own/other project) lives with the hardening tests; here
each rule is proved once, plus the order in which the rules apply and the base view's own guarantees.
"""

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from auth_keys.models import PersonalAPIKey
from auth_keys.permissions import APIScopePermission
from projects.viewsets import ProjectScopedViewSet
from signalsource.models import SignalSourceConfig
from tests.conftest import Tenant, configs_url, key_client, make_key, make_project, make_user

pytestmark = pytest.mark.django_db

INVALID_KEY = "Personal API key found in request Authorization header is invalid."
NEW_CONFIG = {"source_product": "github", "source_type": "issue"}


def make_config(project, **fields):
    return SignalSourceConfig.objects.create(project=project, **{**NEW_CONFIG, **fields})


def assert_error(response, status, type_, code, detail, attr=None):
    assert response.status_code == status, response.content
    assert response.json() == {"type": type_, "code": code, "detail": detail, "attr": attr}


def call(client, method, url, body=None):
    if method in ("post", "patch"):
        return getattr(client, method)(url, body or {}, format="json")
    return getattr(client, method)(url)


# (method, needs a config id, scope needed). PUT is not an action of the API.
ACTIONS = [
    ("get", False, "task:read"),
    ("post", False, "task:write"),
    ("get", True, "task:read"),
    ("patch", True, "task:write"),
    ("delete", True, "task:write"),
]
ACTION_IDS = ["list", "create", "retrieve", "partial_update", "destroy"]


def action_url(tenant, needs_id):
    if not needs_id:
        return tenant.url
    return configs_url(tenant.project.id, make_config(tenant.project).id)


# --- 1. No key: 401 not_authenticated, with a Bearer challenge -------------------------------------


@pytest.mark.parametrize(("method", "needs_id", "scope"), ACTIONS, ids=ACTION_IDS)
def test_no_key_is_401_not_authenticated_with_bearer_challenge(tenant, method, needs_id, scope):
    response = call(key_client(), method, action_url(tenant, needs_id), NEW_CONFIG)

    assert_error(
        response, 401, "authentication_error", "not_authenticated", "Authentication credentials were not provided."
    )
    assert response["WWW-Authenticate"] == "Bearer"
    assert SignalSourceConfig.objects.count() == (1 if needs_id else 0)


def test_another_authorization_scheme_counts_as_no_key(tenant):
    client = key_client()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {tenant.raw_key}")

    response = client.get(tenant.url)

    assert_error(
        response, 401, "authentication_error", "not_authenticated", "Authentication credentials were not provided."
    )


# --- 2. Unknown, revoked, expired key, or inactive user: 401 authentication_failed -------------------


def test_unknown_key_is_401_authentication_failed(tenant):
    response = key_client("phx_" + "x" * 43).get(tenant.url)

    assert_error(response, 401, "authentication_error", "authentication_failed", INVALID_KEY)
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401_authentication_failed(tenant):
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(revoked_at=timezone.now())

    response = tenant.client.get(tenant.url)

    assert_error(response, 401, "authentication_error", "authentication_failed", INVALID_KEY)


def test_expired_key_is_401_authentication_failed_saying_it_expired(tenant):
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = tenant.client.get(tenant.url)

    assert_error(
        response,
        401,
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header has expired.",
    )
    assert response["WWW-Authenticate"] == "Bearer"


def test_key_of_an_inactive_user_is_401_authentication_failed(tenant):
    tenant.user.is_active = False
    tenant.user.save(update_fields=["is_active"])

    response = tenant.client.get(tenant.url)

    assert_error(response, 401, "authentication_error", "authentication_failed", INVALID_KEY)


@pytest.mark.parametrize(("method", "needs_id", "scope"), ACTIONS, ids=ACTION_IDS)
def test_bad_key_changes_nothing(tenant, method, needs_id, scope):
    url = action_url(tenant, needs_id)
    before = list(SignalSourceConfig.objects.values())

    response = call(key_client("phx_not-a-real-key"), method, url, {**NEW_CONFIG, "enabled": False})

    assert response.status_code == 401, response.json()
    assert list(SignalSourceConfig.objects.values()) == before


# --- 3. Unknown project: 404 "Project not found." ------------------------------------------------


@pytest.mark.parametrize(
    "project_id",
    [
        "999999",  # names no project
        "0",
        "-1",
        "abc",
        "1.5",
        "1e3",
        "0x1",
        "%20",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not an id
        str(2**63),  # one past the largest bigint
        "9" * 30,
        "9" * 5000,  # longer than Python converts to int by default
    ],
)
@pytest.mark.parametrize(
    ("method", "needs_id", "scope"), [ACTIONS[0], ACTIONS[1], ACTIONS[3]], ids=["list", "create", "partial_update"]
)
def test_unknown_or_malformed_project_id_is_404_project_not_found(tenant, project_id, method, needs_id, scope):
    url = configs_url(project_id, "0190b0b4-0000-7000-8000-000000000000" if needs_id else None)

    response = call(tenant.client, method, url, NEW_CONFIG)

    assert_error(response, 404, "invalid_request", "not_found", "Project not found.")
    assert SignalSourceConfig.objects.count() == 0


def test_no_key_on_an_unknown_project_is_401_not_404(db):
    response = key_client().get(configs_url(999999))

    assert response.status_code == 401, response.json()
    assert response.json()["code"] == "not_authenticated"


def test_bad_key_on_an_unknown_project_is_401_not_404(db):
    response = key_client("phx_not-a-real-key").get(configs_url(999999))

    assert_error(response, 401, "authentication_error", "authentication_failed", INVALID_KEY)


def test_unknown_project_comes_before_missing_scope(db):
    reader = Tenant(scopes=["task:read"])

    response = reader.client.post(configs_url(999999), NEW_CONFIG, format="json")

    assert_error(response, 404, "invalid_request", "not_found", "Project not found.")


def test_unknown_project_comes_before_scoped_project_check(tenant):
    _, raw_key = make_key(tenant.user, scoped_projects=[tenant.project.id])

    response = key_client(raw_key).get(configs_url(999999))

    assert_error(response, 404, "invalid_request", "not_found", "Project not found.")


# --- 4. Key lacks the scope: 403 "API key missing required scope '...'" -----------------------------


@pytest.mark.parametrize(("method", "needs_id"), [("post", False), ("patch", True), ("delete", True)])
def test_read_only_key_cannot_write(db, method, needs_id):
    reader = Tenant(scopes=["task:read"])
    url = action_url(reader, needs_id)
    before = list(SignalSourceConfig.objects.values())

    response = call(reader.client, method, url, {**NEW_CONFIG, "enabled": False})

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:write'"
    )
    assert list(SignalSourceConfig.objects.values()) == before


@pytest.mark.parametrize(("method", "needs_id"), [("get", False), ("get", True)], ids=["list", "retrieve"])
def test_key_without_task_scopes_cannot_read(tenant, method, needs_id):
    # Keys are made with valid scopes only, but an operator may edit them later in the admin.
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(scopes=["feature_flag:read"])

    response = call(tenant.client, method, action_url(tenant, needs_id))

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:read'"
    )


def test_key_with_no_scopes_at_all_is_refused(tenant):
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(scopes=[])

    response = tenant.client.get(tenant.url)

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:read'"
    )


@pytest.mark.parametrize(("method", "needs_id", "scope"), ACTIONS, ids=ACTION_IDS)
@pytest.mark.parametrize("scopes", [["task:read", "task:write"], ["task:write"], ["*"]], ids=["both", "write", "all"])
def test_write_scope_implies_read_and_star_grants_everything(db, scopes, method, needs_id, scope):
    tenant = Tenant(scopes=scopes)
    url = action_url(tenant, needs_id)

    response = call(tenant.client, method, url, {"enabled": False} if needs_id else NEW_CONFIG)

    expected = {"get": 200, "post": 201, "patch": 200, "delete": 204}[method]
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("method", "needs_id"), [("get", False), ("get", True)], ids=["list", "retrieve"])
def test_read_scope_reads(db, method, needs_id):
    reader = Tenant(scopes=["task:read"])

    response = call(reader.client, method, action_url(reader, needs_id))

    assert response.status_code == 200, response.json()


def test_missing_scope_comes_before_scoped_project_check(tenant):
    other_project = make_project(tenant.organization)
    _, raw_key = make_key(tenant.user, ["task:read"], scoped_projects=[other_project.id])

    response = key_client(raw_key).post(tenant.url, NEW_CONFIG, format="json")

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:write'"
    )


def test_missing_scope_comes_before_membership_check(db):
    outsider = make_user()
    project = make_project()
    _, raw_key = make_key(outsider, ["task:read"])

    response = key_client(raw_key).post(configs_url(project.id), NEW_CONFIG, format="json")

    assert_error(
        response, 403, "authentication_error", "permission_denied", "API key missing required scope 'task:write'"
    )


# --- 5. Scoped projects and scoped organizations -----------------------------------------------------


def test_key_scoped_to_other_projects_is_403_naming_the_project(tenant):
    other_project = make_project(tenant.organization)
    _, raw_key = make_key(tenant.user, scoped_projects=[other_project.id])

    response = key_client(raw_key).get(tenant.url)

    assert_error(
        response,
        403,
        "authentication_error",
        "permission_denied",
        f"API key does not have access to the requested project: ID {tenant.project.id}.",
    )


def test_key_scoped_to_the_project_is_allowed(tenant):
    other_project = make_project(tenant.organization)
    _, raw_key = make_key(tenant.user, scoped_projects=[other_project.id, tenant.project.id])

    response = key_client(raw_key).post(tenant.url, NEW_CONFIG, format="json")

    assert response.status_code == 201, response.json()


def test_key_scoped_to_other_organizations_is_403_naming_the_organization(tenant, other_tenant):
    _, raw_key = make_key(tenant.user, scoped_organizations=[other_tenant.organization.id])

    response = key_client(raw_key).get(tenant.url)

    assert_error(
        response,
        403,
        "authentication_error",
        "permission_denied",
        f"API key does not have access to the requested organization: ID {tenant.organization.id}.",
    )


def test_key_scoped_to_the_organization_reaches_every_project_of_it(tenant):
    second_project = make_project(tenant.organization)
    _, raw_key = make_key(tenant.user, scoped_organizations=[tenant.organization.id])
    client = key_client(raw_key)

    for project in (tenant.project, second_project):
        response = client.get(configs_url(project.id))
        assert response.status_code == 200, response.json()


def test_scoped_project_check_comes_before_scoped_organization_check(tenant, other_tenant):
    other_project = make_project(tenant.organization)
    _, raw_key = make_key(
        tenant.user, scoped_projects=[other_project.id], scoped_organizations=[other_tenant.organization.id]
    )

    response = key_client(raw_key).get(tenant.url)

    assert response.status_code == 403, response.json()
    assert (
        response.json()["detail"] == f"API key does not have access to the requested project: ID {tenant.project.id}."
    )


def test_scoped_project_check_comes_before_membership_check(tenant, other_tenant):
    _, raw_key = make_key(tenant.user, scoped_projects=[tenant.project.id])

    response = key_client(raw_key).get(other_tenant.url)

    assert response.status_code == 403, response.json()
    assert (
        response.json()["detail"]
        == f"API key does not have access to the requested project: ID {other_tenant.project.id}."
    )


def test_scoped_organization_check_comes_before_membership_check(tenant, other_tenant):
    _, raw_key = make_key(tenant.user, scoped_organizations=[tenant.organization.id])

    response = key_client(raw_key).get(other_tenant.url)

    assert response.status_code == 403, response.json()
    assert (
        response.json()["detail"]
        == f"API key does not have access to the requested organization: ID {other_tenant.organization.id}."
    )


def test_key_scoped_to_a_project_still_needs_membership(tenant, other_tenant):
    # A scope only narrows what the user may do; it never reaches beyond the user's organizations.
    _, raw_key = make_key(tenant.user, scoped_projects=[other_tenant.project.id])

    response = key_client(raw_key).get(other_tenant.url)

    assert_error(response, 403, "authentication_error", "permission_denied", "You don't have access to the project.")


# --- 6. Not a member of the project's organization --------------------------------------------------


@pytest.mark.parametrize(("method", "needs_id", "scope"), ACTIONS, ids=ACTION_IDS)
def test_non_member_is_403_and_changes_nothing(tenant, other_tenant, method, needs_id, scope):
    url = action_url(other_tenant, needs_id)
    before = list(SignalSourceConfig.objects.values())

    response = call(tenant.client, method, url, {**NEW_CONFIG, "enabled": False})

    assert_error(response, 403, "authentication_error", "permission_denied", "You don't have access to the project.")
    assert list(SignalSourceConfig.objects.values()) == before


def test_star_key_does_not_reach_other_organizations(tenant, other_tenant):
    _, raw_key = make_key(tenant.user, ["*"])

    response = key_client(raw_key).get(other_tenant.url)

    assert_error(response, 403, "authentication_error", "permission_denied", "You don't have access to the project.")


def test_membership_is_per_organization_and_covers_every_project_in_it(tenant):
    second_project = make_project(tenant.organization)

    response = tenant.client.get(configs_url(second_project.id))

    assert response.status_code == 200, response.json()


def test_leaving_the_organization_takes_access_away(tenant):
    tenant.organization.memberships.filter(user=tenant.user).delete()

    response = tenant.client.get(tenant.url)

    assert_error(response, 403, "authentication_error", "permission_denied", "You don't have access to the project.")


# --- 7. A config of another project: 404 "Not found.", and nothing changes ---------------------------


@pytest.mark.parametrize(("method", "needs_id", "scope"), [a for a in ACTIONS if a[1]], ids=ACTION_IDS[2:])
def test_config_of_another_project_is_404_under_your_own_project(tenant, other_tenant, method, needs_id, scope):
    foreign = make_config(other_tenant.project)
    before = list(SignalSourceConfig.objects.values())

    response = call(tenant.client, method, configs_url(tenant.project.id, foreign.id), {"enabled": False})

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")
    assert list(SignalSourceConfig.objects.values()) == before


def test_config_of_a_sibling_project_in_the_same_organization_is_404(tenant):
    sibling = make_project(tenant.organization)
    foreign = make_config(sibling)

    response = tenant.client.delete(configs_url(tenant.project.id, foreign.id))

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")
    assert SignalSourceConfig.objects.filter(pk=foreign.pk).exists()


def test_list_shows_only_the_projects_own_configs(tenant, other_tenant):
    own = make_config(tenant.project)
    make_config(other_tenant.project)
    make_config(make_project(tenant.organization))

    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == [str(own.id)]


# --- The base view's own guarantees -------------------------------------------------------------------

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

    with caplog.at_level(logging.ERROR, logger="signalsource.errors"):
        response = view(request, project_id=str(tenant.project.id))

    assert response.status_code == 500
    assert response.data["type"] == "server_error"
    assert "opened" not in response.data
    crashes = [r for r in caplog.records if r.name == "signalsource.errors" and r.exc_info]
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
    with pytest.raises(TypeError, match="must override get_project_queryset, not get_queryset"):

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
