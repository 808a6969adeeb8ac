"""The authorization matrix: every kind of caller x every action x the caller's own project and
another organization's project. Each cell states its status code (and error detail); after every
refused write the database is exactly as it was.

The contract's order decides each cell: no or bad key (401), unknown project (404), missing scope,
key limited to other projects or organizations, not a member (403).
"""

import pytest
from rest_framework.test import APIClient

from auth_keys.models import PersonalAPIKey
from signalsource.models import SignalSourceConfig

from .conftest import configs_url, key_client, make_key, make_organization, make_project, make_user

ACTIONS = ("list", "create", "retrieve", "update", "delete")
WRITES = {"create", "update", "delete"}
OK = {"list": 200, "create": 201, "retrieve": 200, "update": 200, "delete": 204}

NOT_AUTHENTICATED = (401, "Authentication credentials were not provided.")
INVALID_KEY = (401, "Personal API key found in request Authorization header is invalid.")
NOT_A_MEMBER = (403, "You don't have access to the project.")


def missing_scope(action):
    return 403, f"API key missing required scope 'task:{'write' if action in WRITES else 'read'}'"


def other_project_denied(project_key):
    return lambda world, action: (
        403,
        f"API key does not have access to the requested project: ID {world[project_key].id}.",
    )


def other_org_denied(project_key):
    return lambda world, action: (
        403,
        f"API key does not have access to the requested organization: ID {world[project_key].organization_id}.",
    )


# caller -> (expected in own project, expected in the other project); each a function of (world, action).
MATRIX = {
    "no key": (lambda w, a: NOT_AUTHENTICATED, lambda w, a: NOT_AUTHENTICATED),
    "bad key": (lambda w, a: INVALID_KEY, lambda w, a: INVALID_KEY),
    "revoked key": (lambda w, a: INVALID_KEY, lambda w, a: INVALID_KEY),
    "key without any task scope": (lambda w, a: missing_scope(a), lambda w, a: missing_scope(a)),
    "read-only key": (
        lambda w, a: (OK[a], None) if a not in WRITES else missing_scope(a),
        lambda w, a: NOT_A_MEMBER if a not in WRITES else missing_scope(a),
    ),
    "key scoped to another project": (other_project_denied("own"), other_project_denied("other")),
    "key scoped to another organization": (other_org_denied("own"), other_org_denied("other")),
    "key of a non-member": (lambda w, a: NOT_A_MEMBER, lambda w, a: NOT_A_MEMBER),
    "valid key": (lambda w, a: (OK[a], None), lambda w, a: NOT_A_MEMBER),
}
CELLS = [
    (caller, action, where) for caller in MATRIX for action in ACTIONS for where in ("own project", "other project")
]


@pytest.fixture
def world(db):
    """Org A (the caller's) with project `own` and a second project; org B with project `other`, which
    the caller cannot use; org C, which the caller also belongs to. Both `own` and `other` hold a
    config, and every caller's key is made here."""
    user = make_user()
    org_a, org_b, org_c = make_organization(), make_organization(), make_organization()
    own = make_project(org_a, members=[user])
    sibling = make_project(org_a)
    other = make_project(org_b, members=[make_user()])
    make_project(org_c, members=[user])
    outsider = make_user()
    make_project(members=[outsider])

    def config_in(project):
        return SignalSourceConfig.objects.create(project=project, source_product="github", source_type="issue")

    revoked, revoked_raw = make_key(user)
    revoked.revoked_at = revoked.created_at
    revoked.save()
    no_scope, no_scope_raw = make_key(user)
    PersonalAPIKey.objects.filter(pk=no_scope.pk).update(scopes=["other:read"])  # e.g. a key for another product
    raw_keys = {
        "no key": None,
        "bad key": "phx_" + "0" * 43,
        "revoked key": revoked_raw,
        "key without any task scope": no_scope_raw,
        "read-only key": make_key(user, ["task:read"])[1],
        "key scoped to another project": make_key(user, scoped_projects=[sibling.id])[1],
        "key scoped to another organization": make_key(user, scoped_organizations=[org_c.id])[1],
        "key of a non-member": make_key(outsider)[1],
        "valid key": make_key(user)[1],
    }
    return {
        "own": own,
        "other": other,
        "configs": {"own": config_in(own), "other": config_in(other)},
        "raw_keys": raw_keys,
    }


def database_state():
    return list(SignalSourceConfig.objects.order_by("id").values())


def send(client: APIClient, action: str, project, config):
    if action == "list":
        return client.get(configs_url(project.id))
    if action == "create":
        return client.post(configs_url(project.id), {"source_product": "linear", "source_type": "issue"}, format="json")
    url = configs_url(project.id, config.id)
    if action == "retrieve":
        return client.get(url)
    if action == "update":
        return client.patch(url, {"enabled": False}, format="json")
    return client.delete(url)


@pytest.mark.parametrize(("caller", "action", "where"), CELLS, ids=[" / ".join(cell) for cell in CELLS])
def test_matrix_cell(world, caller, action, where):
    target = "own" if where == "own project" else "other"
    expected_status, expected_detail = MATRIX[caller][0 if target == "own" else 1](world, action)
    before = database_state()

    response = send(key_client(world["raw_keys"][caller]), action, world[target], world["configs"][target])

    assert response.status_code == expected_status, response.content
    if expected_detail is not None:
        body = response.json()
        assert body["detail"] == expected_detail, body
        assert body["type"] == "authentication_error", body
    if response.status_code >= 400:
        assert database_state() == before
    if response.status_code == 401:
        assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
def test_another_projects_config_under_your_own_project_is_a_404_and_untouched(world, action):
    # Your own project in the URL, another project's config id: not found, never 403, nothing changes.
    before = database_state()
    response = send(key_client(world["raw_keys"]["valid key"]), action, world["own"], world["configs"]["other"])
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "Not found."
    assert database_state() == before


@pytest.mark.parametrize("caller", list(MATRIX))
@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_project_is_a_404_for_every_authenticated_caller(world, caller, action):
    missing = type("Missing", (), {"id": 987654321})()
    config = world["configs"]["own"]
    response = send(key_client(world["raw_keys"][caller]), action, missing, config)
    if caller in ("no key", "bad key", "revoked key"):
        assert response.status_code == 401, response.content
    else:
        assert response.status_code == 404, response.content
        assert response.json()["detail"] == "Project not found."
