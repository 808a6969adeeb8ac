"""Who may do what, in this order (contract section 5), as one matrix: every kind of caller x every
action x where the URL points. Each cell states the exact answer, and after every refusal the
database is exactly as it was.

The contract's order decides each cell: no or bad key (401), unknown project (404 "Project not
found."), missing scope, key limited to other projects, key limited to other organizations, not a
member (403). A config of another project is 404 "Not found." under your own project, and untouched.

The tenancy base's own guarantees (class-level guards) are in test_tenancy_base.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from auth_keys.models import PersonalAPIKey
from projects.models import OrganizationMembership
from signalsource.models import SignalSourceConfig
from tests.helpers import (
    SIGNALS_ROUTE,
    assert_error,
    configs_url,
    database_state,
    make_config,
    make_key,
    make_organization,
    make_project,
    make_user,
)

# "replace" is PUT, which today's route (signals/source_configs) offers; the others are on the published route;
# "changes" is today's route's change feed (tests/change_events/test_feed.py).
ACTIONS = ("list", "create", "retrieve", "update", "replace", "delete", "changes")
WRITES = {"create", "update", "replace", "delete"}
OK = {"list": 200, "create": 201, "retrieve": 200, "update": 200, "replace": 200, "delete": 204, "changes": 200}
NEW_CONFIG = {"source_product": "linear", "source_type": "issue"}  # free in every project of the world
CHANGES = {"enabled": False, "config": {}}
REPLACEMENT = {"source_product": "github", "source_type": "issue", "enabled": False, "config": {"steering": "put"}}
UNKNOWN_PROJECT_ID = 987654321
UNKNOWN_CONFIG_ID = "0190b0b4-0000-7000-8000-000000000000"


def send(client, action, project_id, config_id=None):
    if action == "list":
        return client.get(configs_url(project_id))
    if action == "changes":  # the change feed (tests/change_events/test_feed.py)
        return client.get(configs_url(project_id, route=SIGNALS_ROUTE) + "changes/")
    if action == "create":
        return client.post(configs_url(project_id), NEW_CONFIG, format="json")
    url = configs_url(project_id, config_id)
    if action == "retrieve":
        return client.get(url)
    if action == "update":
        return client.patch(url, CHANGES, format="json")
    if action == "replace":
        return client.put(configs_url(project_id, config_id, route=SIGNALS_ROUTE), REPLACEMENT, format="json")
    return client.delete(url)


def assert_done(action, response, project, config):
    """An allowed cell did what it was asked, to the config the URL names, and answered with it."""
    body = response.json() if action != "delete" else None
    if action == "list":
        assert (body["count"], [row["id"] for row in body["results"]]) == (1, [str(config.id)]), body
        return
    if action == "changes":  # only this project's events, if any
        assert set(body) == {"results", "cursor", "next"}, body
        assert {event["projectid"] for event in body["results"]} <= {str(project.id)}, body
        return
    if action == "delete":
        assert not SignalSourceConfig.objects.filter(pk=config.pk).exists()
        assert SignalSourceConfig.objects.count() == 2  # the other projects' configs are untouched
        return
    if action == "create":
        row = SignalSourceConfig.objects.get(pk=body["id"])
        assert (row.project_id, row.source_product, row.source_type) == (project.id, "linear", "issue")
        assert (body["source_product"], body["source_type"]) == ("linear", "issue")
        return
    assert body["id"] == str(config.id), body
    row = SignalSourceConfig.objects.get(pk=config.pk)
    expected = {
        "retrieve": (True, {"steering": "keep"}),
        "update": (CHANGES["enabled"], CHANGES["config"]),
        "replace": (REPLACEMENT["enabled"], REPLACEMENT["config"]),
    }[action]
    assert (body["enabled"], body["config"]) == expected, body
    assert (row.enabled, row.config) == expected


# --- The answers -----------------------------------------------------------------------------------
# Each cell of the matrix is a function of (action, project) giving ALLOWED or (status, type, code, detail).

ALLOWED = "allowed"
NOT_AUTHENTICATED = (401, "authentication_error", "not_authenticated", "Authentication credentials were not provided.")
INVALID_KEY = (
    401,
    "authentication_error",
    "authentication_failed",
    "Personal API key found in request Authorization header is invalid.",
)
EXPIRED_KEY = (
    401,
    "authentication_error",
    "authentication_failed",
    "Personal API key found in request Authorization header has expired.",
)
PROJECT_NOT_FOUND = (404, "invalid_request", "not_found", "Project not found.")
NOT_A_MEMBER = (403, "authentication_error", "permission_denied", "You don't have access to the project.")


def always(outcome):
    return lambda action, project: outcome


def allowed(action, project):
    return ALLOWED


def not_found(action, project):
    return PROJECT_NOT_FOUND


def not_a_member(action, project):
    return NOT_A_MEMBER


def missing_scope(action, project):
    scope = "task:write" if action in WRITES else "task:read"
    return 403, "authentication_error", "permission_denied", f"API key missing required scope '{scope}'"


def project_denied(action, project):
    detail = f"API key does not have access to the requested project: ID {project.id}."
    return 403, "authentication_error", "permission_denied", detail


def organization_denied(action, project):
    detail = f"API key does not have access to the requested organization: ID {project.organization_id}."
    return 403, "authentication_error", "permission_denied", detail


def reads_only(then):
    """A read-only key: writes lack the scope (checked before any project limit or membership)."""
    return lambda action, project: missing_scope(action, project) if action in WRITES else then(action, project)


WHERE = ("own project", "sibling project", "other organization's project", "unknown project")
# caller -> its answer in (own project, sibling project, other organization's project, unknown project).
# The caller belongs to organizations A (own and sibling project) and C; the other project is in B.
CALLERS = {
    "no key": (always(NOT_AUTHENTICATED),) * 4,
    "key under another scheme": (always(NOT_AUTHENTICATED),) * 4,
    "unknown key": (always(INVALID_KEY),) * 4,
    "malformed key": (always(INVALID_KEY),) * 4,
    "revoked key": (always(INVALID_KEY),) * 4,
    "expired key": (always(EXPIRED_KEY),) * 4,
    "key of an inactive user": (always(INVALID_KEY),) * 4,
    "key without any task scope": (missing_scope, missing_scope, missing_scope, not_found),
    "key with no scopes at all": (missing_scope, missing_scope, missing_scope, not_found),
    "read-only key": (reads_only(allowed), reads_only(allowed), reads_only(not_a_member), not_found),
    "write-only key": (allowed, allowed, not_a_member, not_found),
    "star key": (allowed, allowed, not_a_member, not_found),
    "valid key": (allowed, allowed, not_a_member, not_found),
    "key scoped to the sibling project": (project_denied, allowed, project_denied, not_found),
    "key scoped to the sibling and own projects": (allowed, allowed, project_denied, not_found),
    "read-only key scoped to the sibling project": (
        reads_only(project_denied),
        reads_only(allowed),
        reads_only(project_denied),
        not_found,
    ),
    "key scoped to the own organization": (allowed, allowed, organization_denied, not_found),
    "key scoped to organization C": (organization_denied, organization_denied, organization_denied, not_found),
    "key scoped to the sibling project and organization C": (
        project_denied,
        organization_denied,
        project_denied,
        not_found,
    ),
    # A limit only narrows what the user may do; it never reaches beyond the user's organizations.
    "key scoped to the other organization's project": (project_denied, project_denied, not_a_member, not_found),
    "key of a non-member": (not_a_member, not_a_member, not_a_member, not_found),
    "key of a former member": (not_a_member, not_a_member, not_a_member, not_found),
}
CELLS = [(caller, action, where) for caller in CALLERS for action in ACTIONS for where in WHERE]


class World:
    """Organization A with the caller's `own` project and a `sibling` project; organization B with the
    `other` project, whose members do not include the caller; organization C, which the caller also
    belongs to. Each of the three projects holds a config. A caller's key is made when a test asks
    for its client."""

    def __init__(self, api_client):
        self.api_client = api_client
        self.user = make_user()
        self.organizations = {"A": make_organization(), "B": make_organization(), "C": make_organization()}
        self.projects = {
            "own project": make_project(self.organizations["A"], members=[self.user]),
            "sibling project": make_project(self.organizations["A"]),
            "other organization's project": make_project(self.organizations["B"], members=[make_user()]),
        }
        self.configs = {
            where: make_config(project, config={"steering": "keep"}) for where, project in self.projects.items()
        }
        make_project(self.organizations["C"], members=[self.user])

    def authorization(self, caller):
        """The Authorization header of `caller`, its key made now."""
        own, sibling, other = (project.id for project in self.projects.values())
        org_a, org_c = self.organizations["A"].id, self.organizations["C"].id

        def bearer(owner=self.user, scopes=("task:read", "task:write"), **limits):
            return f"Bearer {make_key(owner, scopes, **limits)[1]}"

        def changed(**changes):
            api_key, raw_key = make_key(self.user)
            PersonalAPIKey.objects.filter(pk=api_key.pk).update(**changes)
            return f"Bearer {raw_key}"

        def member(**user_changes):
            user = make_user()
            OrganizationMembership.objects.create(organization=self.organizations["A"], user=user)
            header = bearer(user)
            if user_changes.pop("left", False):
                OrganizationMembership.objects.filter(user=user).delete()
            for name, value in user_changes.items():
                setattr(user, name, value)
            user.save()
            return header

        def outsider():
            user = make_user()
            make_project(members=[user])
            return bearer(user)

        headers = {
            "no key": lambda: None,
            "key under another scheme": lambda: bearer().replace("Bearer ", "Basic "),
            "unknown key": lambda: "Bearer phx_" + "x" * 43,
            "malformed key": lambda: "Bearer phx_not-a-real-key",
            "revoked key": lambda: changed(revoked_at=timezone.now()),
            "expired key": lambda: changed(expires_at=timezone.now() - timedelta(seconds=1)),
            "key of an inactive user": lambda: member(is_active=False),
            # Keys are made with valid scopes only, but an operator may edit them later in the admin.
            "key without any task scope": lambda: changed(scopes=["feature_flag:read"]),
            "key with no scopes at all": lambda: changed(scopes=[]),
            "read-only key": lambda: bearer(scopes=["task:read"]),
            "write-only key": lambda: bearer(scopes=["task:write"]),
            "star key": lambda: bearer(scopes=["*"]),
            "valid key": lambda: bearer(),
            "key scoped to the sibling project": lambda: bearer(scoped_projects=[sibling]),
            "key scoped to the sibling and own projects": lambda: bearer(scoped_projects=[sibling, own]),
            "read-only key scoped to the sibling project": lambda: bearer(
                scopes=["task:read"], scoped_projects=[sibling]
            ),
            "key scoped to the own organization": lambda: bearer(scoped_organizations=[org_a]),
            "key scoped to organization C": lambda: bearer(scoped_organizations=[org_c]),
            "key scoped to the sibling project and organization C": lambda: bearer(
                scoped_projects=[sibling], scoped_organizations=[org_c]
            ),
            "key scoped to the other organization's project": lambda: bearer(scoped_projects=[other]),
            "key of a non-member": outsider,
            "key of a former member": lambda: member(left=True),
        }
        return headers[caller]()

    def client(self, caller):
        header = self.authorization(caller)
        self.api_client.credentials(**({"HTTP_AUTHORIZATION": header} if header is not None else {}))
        return self.api_client

    def target(self, where):
        """(project id, config id) that the URL names."""
        if where == "unknown project":
            return UNKNOWN_PROJECT_ID, self.configs["own project"].id
        return self.projects[where].id, self.configs[where].id


@pytest.fixture(scope="module")
def api_client():
    # One client for the whole matrix: a new one would build the middleware stack again for every cell.
    return APIClient()


@pytest.fixture
def world(db, api_client):
    return World(api_client)


@pytest.mark.parametrize(("caller", "action", "where"), CELLS, ids=[" / ".join(cell) for cell in CELLS])
def test_matrix_cell(world, caller, action, where):
    project_id, config_id = world.target(where)
    project = world.projects.get(where)
    expected = CALLERS[caller][WHERE.index(where)](action, project)
    client = world.client(caller)
    before = database_state()

    response = send(client, action, project_id, config_id)

    if expected is ALLOWED:
        assert response.status_code == OK[action], response.content
        assert_done(action, response, project, world.configs[where])
        return
    status, type_, code, detail = expected
    assert_error(response, status, type_, code, detail)
    assert database_state() == before
    if status == 401:
        assert response["WWW-Authenticate"] == "Bearer"


# --- Unknown and malformed project ids --------------------------------------------------------------

PROJECT_IDS = [
    "999999",  # names no project
    "0",
    "-1",
    "+1",
    " 1",
    "abc",
    "1.5",
    "1e3",
    "0x1",
    "%20",
    "%00",
    "1%00",
    "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not an id
    "\uff11",  # FULLWIDTH DIGIT ONE
    str(2**63),  # one past the largest bigint
    "99999999999999999999999",
    "9" * 30,
    "9" * 5000,  # longer than Python converts to int by default
]


@pytest.mark.parametrize("project_id", PROJECT_IDS)
@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_or_malformed_project_id_is_404_project_not_found(api_client, tenant, action, project_id):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
    before = database_state()

    response = send(api_client, action, project_id, UNKNOWN_CONFIG_ID)

    assert_error(response, *PROJECT_NOT_FOUND)
    assert database_state() == before


# --- Another project's config, unknown and malformed config ids ----------------------------------------


@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
@pytest.mark.parametrize("owner", ["sibling project", "other organization's project"])
def test_another_projects_config_under_your_own_project_is_404_and_untouched(world, owner, action):
    # In the same organization the key's user may use both projects: the URL's project decides.
    own_project_id, _ = world.target("own project")
    client = world.client("valid key")
    before = database_state()

    response = send(client, action, own_project_id, world.configs[owner].id)

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")
    assert database_state() == before


CONFIG_IDS = [
    UNKNOWN_CONFIG_ID,  # well formed, names no config
    UNKNOWN_CONFIG_ID.upper() + "0",
    UNKNOWN_CONFIG_ID.replace("-", "")[:-1],
    "{" + UNKNOWN_CONFIG_ID + "}",
    "0" * 33,
    "not-a-uuid",
    "0",
    "1",
    "-1",
    "123",
    "%20",
    "%00",
    "x" * 4000,
]


@pytest.mark.parametrize("config_id", CONFIG_IDS)
@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
def test_an_unknown_or_malformed_config_id_is_404_not_found(api_client, tenant, action, config_id):
    make_config(tenant.project, "session_replay", "session_analysis_cluster", config={"sample_rate": 0.5})
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
    before = database_state()

    response = send(api_client, action, tenant.project.id, config_id)

    assert_error(response, 404, "invalid_request", "not_found", "Not found.")
    assert database_state() == before


def test_a_list_shows_only_the_projects_own_configs(tenant, other_tenant):
    sibling = make_project(tenant.organization, members=[tenant.user])
    own = make_config(tenant.project)
    make_config(sibling)
    make_config(other_tenant.project)
    make_config(other_tenant.project, "zendesk", "ticket")

    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 1
    assert [row["id"] for row in response.json()["results"]] == [str(own.id)]
