"""Revocation, expiry and lost access take effect on the very next request, on every instance.

The key, its user and the URL's project are read in one query on every request (issue 17), and
nothing about them is cached between requests: two servers on one database prove it, each warmed up
with the key first, then asked again right after the change made through the other or the database.
"""

import os
import sqlite3
import subprocess
import sys

import psycopg
import pytest

from tests.live_server import ROOT, call, served, throwaway_database

pytestmark = pytest.mark.live_server_process


def _manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _execute(database_url: str, sql: str) -> None:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.execute(sql)
    else:
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(sql)


@pytest.fixture
def two_servers(tmp_path):
    """(server A's URL, server B's URL, environment, project id, raw key) on one fresh database."""
    with throwaway_database(tmp_path) as database_url:
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_NAME"}
        env.update(DATABASE_URL=database_url, SECRET_KEY="test-" + "s" * 60, DEBUG="0")
        _manage(env, "migrate", "--no-input")
        _manage(env, "createcachetable")
        project_id = int(_manage(env, "create_project", "Two servers", "--member", "two@example.com"))
        raw_key = _manage(env, "create_api_key", "two@example.com", "--scopes", "task:read,task:write")
        with served(database_url, CONN_MAX_AGE="60") as (a, _), served(database_url, CONN_MAX_AGE="60") as (b, _):
            yield a, b, env, project_id, raw_key


def _list(base_url: str, project_id: int, raw_key: str):
    return call(base_url, "GET", f"/api/projects/{project_id}/signal_source_configs/", raw_key)


def _both_answer(status: int, two_servers) -> list[dict]:
    a, b, _, project_id, raw_key = two_servers
    answers = [_list(url, project_id, raw_key) for url in (a, b)]
    assert [answer[0] for answer in answers] == [status, status], answers
    return [answer[2] for answer in answers]


def test_a_revoked_key_is_refused_on_the_next_request_on_every_server(two_servers):
    _, _, env, _, raw_key = two_servers
    _both_answer(200, two_servers)

    _manage(env, "revoke_api_key", raw_key[:4] + "..." + raw_key[-4:])

    bodies = _both_answer(401, two_servers)
    assert all(
        body["detail"] == "Personal API key found in request Authorization header is invalid." for body in bodies
    )


def test_an_expired_key_is_refused_on_the_next_request_on_every_server(two_servers):
    _, _, env, _, _ = two_servers
    _both_answer(200, two_servers)

    _execute(env["DATABASE_URL"], "UPDATE auth_keys_personalapikey SET expires_at = '2000-01-01 00:00:00+00:00'")

    bodies = _both_answer(401, two_servers)
    assert all(
        body["detail"] == "Personal API key found in request Authorization header has expired." for body in bodies
    )


def test_a_user_removed_from_the_organization_loses_the_project_on_the_next_request(two_servers):
    _, _, env, _, _ = two_servers
    _both_answer(200, two_servers)

    _execute(env["DATABASE_URL"], "DELETE FROM projects_organizationmembership")

    bodies = _both_answer(403, two_servers)
    assert all(body["detail"] == "You don't have access to the project." for body in bodies)


def test_a_deactivated_user_is_refused_on_the_next_request(two_servers):
    _, _, env, _, _ = two_servers
    _both_answer(200, two_servers)

    _execute(env["DATABASE_URL"], "UPDATE auth_user SET is_active = false")

    _both_answer(401, two_servers)


def test_last_used_at_is_kept(two_servers):
    _, _, env, _, _ = two_servers
    _execute(env["DATABASE_URL"], "UPDATE auth_keys_personalapikey SET last_used_at = NULL")

    _both_answer(200, two_servers)

    shown = _manage(
        env, "shell", "-c", "from auth_keys.models import PersonalAPIKey as K; print(K.objects.get().last_used_at)"
    )
    assert shown != "None"
