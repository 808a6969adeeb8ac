"""Revocation, expiry and lost access take effect on the very next request, on every instance.

The key, its user and the URL's project are read in one query on every request (issue 17), and
nothing about them is cached between requests: two servers on one database prove it, each warmed up
with the key first, then asked again right after a management command or the database changed it.
"""

import sqlite3
import uuid
from dataclasses import dataclass

import psycopg
import pytest

from auth_keys import keys
from tests.live_server import LiveService, call, live_database, served

pytestmark = pytest.mark.live_server_process


@dataclass
class Member:
    """A user of this test's own, member of an organization of its own, with a project and a key: what
    a test revokes, expires or removes reaches no other test's."""

    email: str
    project_id: int
    raw_key: str
    database: LiveService
    base_urls: tuple[str, str]


def _execute(member, sql: str, *params) -> None:
    """Runs `sql` on the servers' database, as a change made outside them."""
    database_url = member.database.env["DATABASE_URL"]
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.execute(sql.replace("%s", "?"), params)
    else:
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(sql, params)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two servers sharing one database (`tests/live_server.py`), started once for the module (each
    start imports Django in a new process: seconds on a loaded machine): (database, base_urls)."""
    with live_database(tmp_path_factory.mktemp("revocation")) as database:
        url = database.env["DATABASE_URL"]
        with served(url, CONN_MAX_AGE="60") as (a, _), served(url, CONN_MAX_AGE="60") as (b, _):
            yield database, (a, b)


@pytest.fixture
def service(servers):
    """A Member of this test's own on the module's two servers, made with the operator's commands."""
    database, base_urls = servers
    email = f"revocation-{uuid.uuid4().hex[:12]}@example.com"
    project_id = int(database.manage("create_project", "Revocation", "--member", email, "--organization", email))
    raw_key = database.manage("create_api_key", email, "--scopes", "task:read,task:write")
    return Member(email, project_id, raw_key, database, base_urls)


def _both_answer(service, status: int, detail: str | None = None) -> None:
    """Both servers answer the project's list with `status` (and, if given, that `detail`)."""
    path = f"/api/projects/{service.project_id}/signal_source_configs/"
    answers = [call(url, "GET", path, service.raw_key) for url in service.base_urls]
    assert [answer[0] for answer in answers] == [status, status], answers
    if detail is not None:
        assert [answer[2]["detail"] for answer in answers] == [detail, detail]


def test_a_revoked_key_is_refused_on_the_next_request_on_every_server(service):
    _both_answer(service, 200)

    service.database.manage("revoke_api_key", keys.mask(service.raw_key))

    _both_answer(service, 401, "Personal API key found in request Authorization header is invalid.")


def test_an_expired_key_is_refused_on_the_next_request_on_every_server(service):
    _both_answer(service, 200)

    _execute(
        service,
        "UPDATE auth_keys_personalapikey SET expires_at = '2000-01-01 00:00:00+00:00'"
        " WHERE user_id = (SELECT id FROM auth_user WHERE username = %s)",
        service.email,
    )

    _both_answer(service, 401, "Personal API key found in request Authorization header has expired.")


def test_a_user_removed_from_the_organization_loses_the_project_on_the_next_request(service):
    _both_answer(service, 200)

    _execute(
        service,
        "DELETE FROM projects_organizationmembership WHERE user_id = (SELECT id FROM auth_user WHERE username = %s)",
        service.email,
    )

    _both_answer(service, 403, "You don't have access to the project.")


def test_a_deactivated_user_is_refused_on_the_next_request(service):
    _both_answer(service, 200)

    _execute(service, "UPDATE auth_user SET is_active = false WHERE username = %s", service.email)

    _both_answer(service, 401)


def test_last_used_at_is_kept(service):
    _execute(
        service,
        "UPDATE auth_keys_personalapikey SET last_used_at = NULL"
        " WHERE user_id = (SELECT id FROM auth_user WHERE username = %s)",
        service.email,
    )

    _both_answer(service, 200)

    shown = service.database.manage(
        "shell",
        "-c",
        "from auth_keys.models import PersonalAPIKey as K;"
        f" print(K.objects.get(user__username={service.email!r}).last_used_at)",
    )
    assert shown != "None"
