"""The operators' commands, with exactly the interface of issue 3 (scripts rely on it):

    create_project NAME --member EMAIL [--organization NAME]        -> prints the project's id alone
    create_api_key EMAIL --scopes S,S [--project ID ...] [--organization NAME ...] [--label TEXT]
                   [--expires-in-days N]                             -> prints the raw key alone
    revoke_api_key MASK_OR_ID

and `seed_demo`, which `make run` calls: demo data only on a database without users.
"""

import io
import os
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, load_command_class
from django.db import connection
from django.utils import timezone

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from projects.models import Organization, OrganizationMembership, Project
from tests.conftest import configs_url, key_client, make_key, make_organization, make_project, make_user

PROJECT_DIR = Path(__file__).resolve().parent.parent
KEY_LINE = re.compile(r"^phx_[A-Za-z0-9_-]{43}\n$")


def run(command, *args):
    """Runs a command in-process; returns (stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def run_cli(app, command, *args):
    """Runs a command as `manage.py` does (argument parsing, error printing, exit status)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    instance = load_command_class(app, command)
    instance.stdout._out, instance.stderr._out = stdout, stderr  # where OutputWrapper writes
    try:
        instance.run_from_argv(["manage.py", command, *args])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    return status, stdout.getvalue(), stderr.getvalue()


def key_for(raw_key):
    return PersonalAPIKey.objects.get(digest=keys.digest(raw_key))


# --- create_project ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_project_prints_only_the_new_id_and_makes_everything_it_needs():
    stdout, stderr = run("create_project", "Web app", "--member", "ana@example.com")

    project = Project.objects.get()
    assert stdout == f"{project.id}\n"
    assert stderr == ""
    assert project.name == "Web app"
    assert project.organization.name == "Default"
    user = get_user_model().objects.get(email="ana@example.com")
    assert not user.has_usable_password()
    assert OrganizationMembership.objects.filter(organization=project.organization, user=user).exists()


@pytest.mark.django_db
def test_create_project_reuses_the_organization_and_the_user():
    first, _ = run("create_project", "One", "--member", "ana@example.com", "--organization", "Acme")
    second, _ = run("create_project", "Two", "--member", "ANA@example.com", "--organization", "Acme")

    assert int(first) != int(second)
    assert Organization.objects.filter(name="Acme").count() == 1
    assert get_user_model().objects.count() == 1
    assert OrganizationMembership.objects.count() == 1
    assert set(Project.objects.filter(organization__name="Acme").values_list("name", flat=True)) == {"One", "Two"}


@pytest.mark.django_db
def test_create_project_makes_an_existing_user_a_member_of_a_new_organization():
    user = make_user("bo@example.com")
    make_project(members=[user])

    stdout, _ = run("create_project", "New", "--member", "bo@example.com", "--organization", "Fresh")

    project = Project.objects.get(pk=int(stdout))
    assert project.organization.name == "Fresh"
    assert OrganizationMembership.objects.filter(organization=project.organization, user=user).exists()
    assert user.memberships.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["P", "--member", "not-an-email"], "Not an email address: 'not-an-email'"),
        (["   ", "--member", "ana@example.com"], "The project and organization names must not be blank."),
        (["P", "--member", "ana@example.com", "--organization", " "], "must not be blank"),
        (["x" * 201, "--member", "ana@example.com"], "The project name must be at most 200 characters."),
        (
            ["P", "--member", "ana@example.com", "--organization", "o" * 201],
            "The organization name must be at most 200 characters.",
        ),
        (["P", "--member", "a" * 140 + "@example.com"], "The email address must be at most 150 characters."),
        (["P"], "--member"),
    ],
)
def test_create_project_refuses_bad_input_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_project", *args)

    assert Project.objects.count() == 0
    assert Organization.objects.count() == 0
    assert get_user_model().objects.count() == 0


# --- create_api_key ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_key_prints_only_the_raw_key_which_works():
    user = make_user("ana@example.com")
    project = make_project(members=[user])

    stdout, stderr = run("create_api_key", "ana@example.com", "--scopes", "task:read,task:write")

    assert KEY_LINE.match(stdout)
    assert stderr == ""
    raw_key = stdout.strip()
    api_key = key_for(raw_key)
    assert api_key.user == user
    assert api_key.scopes == ["task:read", "task:write"]
    assert api_key.mask == keys.mask(raw_key)
    response = key_client(raw_key).post(
        configs_url(project.id), {"source_product": "github", "source_type": "issue"}, format="json"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_create_api_key_with_every_option():
    user = make_user("ana@example.com")
    acme, beta = make_organization("Acme"), make_organization("Beta")
    first, second = make_project(acme, members=[user]), make_project(beta, members=[user])

    stdout, _ = run(
        "create_api_key",
        "Ana@Example.com",
        "--scopes",
        " task:read , * ",
        "--project",
        str(first.id),
        "--project",
        str(second.id),
        "--organization",
        "Acme",
        "--organization",
        "Beta",
        "--label",
        "deploy bot",
        "--expires-in-days",
        "7",
    )

    api_key = key_for(stdout.strip())
    assert api_key.user == user
    assert api_key.scopes == ["*", "task:read"]
    assert api_key.scoped_projects == sorted([first.id, second.id])
    assert api_key.scoped_organizations == sorted([acme.id, beta.id])
    assert api_key.label == "deploy bot"
    assert timedelta(days=6, hours=23) < api_key.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--scopes", "task:read"], "No user with email 'nobody@example.com'."),
        (["ana@example.com", "--scopes", "task:admin"], "Unknown scope(s): task:admin."),
        (["ana@example.com", "--scopes", "task:read,tasks:write"], "Unknown scope(s): tasks:write."),
        (["ana@example.com", "--scopes", " , "], "At least one scope is required."),
        (["ana@example.com", "--scopes", "task:read", "--project", "999999"], "Unknown project id(s): 999999."),
        (["ana@example.com", "--scopes", "task:read", "--project", "abc"], "invalid int value: 'abc'"),
        (["ana@example.com", "--scopes", "task:read", "--organization", "Nope"], "No organization named 'Nope'."),
        (["ana@example.com", "--scopes", "task:read", "--expires-in-days", "0"], "positive number of days"),
        (["ana@example.com", "--scopes", "task:read", "--expires-in-days", "99999999"], "too far in the future"),
        (["ana@example.com"], "--scopes"),
    ],
)
def test_create_api_key_refuses_bad_input_and_creates_nothing(args, message):
    make_user("ana@example.com")

    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_api_key", *args)

    assert PersonalAPIKey.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--scopes", "task:read"], "CommandError: No user with email 'nobody@example.com'.\n"),
        (
            ["ana@example.com", "--scopes", "task:nope"],
            "CommandError: Unknown scope(s): task:nope. Valid scopes: *, task:read, task:write.\n",
        ),
    ],
    ids=["unknown-user", "unknown-scope"],
)
def test_create_api_key_errors_exit_non_zero_with_nothing_on_stdout(args, message):
    make_user("ana@example.com")

    status, stdout, stderr = run_cli("auth_keys", "create_api_key", *args)

    assert status != 0
    assert stdout == ""
    assert stderr == message
    assert PersonalAPIKey.objects.count() == 0


# --- revoke_api_key ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["mask", "id"])
def test_revoke_api_key_by_mask_or_id(tenant, by):
    name = tenant.api_key.mask if by == "mask" else str(tenant.api_key.pk)
    assert tenant.client.get(tenant.url).status_code == 200

    stdout, _ = run("revoke_api_key", name)

    assert stdout == f"Revoked {tenant.api_key.mask} (id {tenant.api_key.pk}).\n"
    assert PersonalAPIKey.objects.get(pk=tenant.api_key.pk).revoked_at is not None
    assert tenant.client.get(tenant.url).status_code == 401


@pytest.mark.django_db
def test_revoke_api_key_leaves_other_keys_alone(tenant):
    _, other_raw_key = make_key(tenant.user)

    run("revoke_api_key", tenant.api_key.mask)

    assert key_client(other_raw_key).get(tenant.url).status_code == 200


@pytest.mark.django_db
def test_revoke_api_key_refuses_an_unknown_key(tenant):
    with pytest.raises(CommandError, match=re.escape("No API key matches 'phx_...zzzz'.")):
        run("revoke_api_key", "phx_...zzzz")
    with pytest.raises(CommandError, match=re.escape("No API key matches '999999'.")):
        run("revoke_api_key", "999999")

    assert PersonalAPIKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_revoke_api_key_refuses_a_mask_two_keys_share(tenant):
    second, _ = make_key(tenant.user)
    PersonalAPIKey.objects.filter(pk=second.pk).update(mask=tenant.api_key.mask)

    with pytest.raises(CommandError, match="2 keys share the mask"):
        run("revoke_api_key", tenant.api_key.mask)

    assert PersonalAPIKey.objects.filter(revoked_at__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_revoke_api_key_error_exits_non_zero():
    status, stdout, stderr = run_cli("auth_keys", "revoke_api_key", "phx_...none")

    assert status != 0
    assert stdout == ""
    assert stderr == "CommandError: No API key matches 'phx_...none'.\n"


# --- seed_demo -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_on_an_empty_database_prints_a_key_and_a_curl_command_that_work():
    stdout, _ = run("seed_demo", "--base-url", "http://127.0.0.1:8123")

    project = Project.objects.get()
    assert project.organization.name == "Demo organization"
    user = get_user_model().objects.get()
    assert user.email == "demo@example.com"
    api_key = PersonalAPIKey.objects.get()
    assert api_key.scopes == ["task:read", "task:write"]
    [raw_key] = re.findall(r"phx_[A-Za-z0-9_-]{43}", stdout.split("Try it")[0])
    assert api_key.digest == keys.digest(raw_key)
    curl = re.search(r"curl -H 'Authorization: Bearer (phx_[A-Za-z0-9_-]+)' (\S+)", stdout)
    assert curl, stdout
    assert curl.group(1) == raw_key
    url = curl.group(2)
    assert url == f"http://127.0.0.1:8123/api/projects/{project.id}/signal_source_configs/"
    response = key_client(raw_key).get(url.removeprefix("http://127.0.0.1:8123"))
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_seed_demo_never_touches_a_database_that_has_users():
    make_user("someone@example.com")

    stdout, _ = run("seed_demo")

    assert "phx_" not in stdout
    assert get_user_model().objects.count() == 1
    assert Project.objects.count() == 0
    assert Organization.objects.count() == 0
    assert PersonalAPIKey.objects.count() == 0


@pytest.mark.django_db
def test_seed_demo_runs_once():
    run("seed_demo")
    again, _ = run("seed_demo")

    assert "phx_" not in again
    assert PersonalAPIKey.objects.count() == 1
    assert Project.objects.count() == 1


# --- Through manage.py, as scripts call them ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_manage_py_prints_exactly_the_id_and_the_key_on_stdout(tmp_path):
    """The README's `PROJECT_ID=$(...)` and `KEY=$(...)` lines rely on stdout holding nothing else,
    not even a log line. (Exit statuses and error output are proved in-process above, by run_cli.)"""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(tmp_path),
        "SECRET_KEY": "commands-test-secret-key",
        "DEBUG": "0",
        "LOG_LEVEL": "DEBUG",  # anything logged would show up on stdout
    }
    env.pop("TEST_DATABASE_NAME", None)

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
        )

    project = manage("create_project", "CLI project", "--member", "cli@example.com")
    assert project.returncode == 0, project.stderr
    assert re.fullmatch(r"[1-9][0-9]*\n", project.stdout), project.stdout
    created = manage(
        "create_api_key", "cli@example.com", "--scopes", "task:read,task:write", "--project", project.stdout
    )
    assert created.returncode == 0, created.stderr
    assert KEY_LINE.match(created.stdout), created.stdout


def database_url_for_subprocess(tmp_path) -> str:
    """A migrated database another process can open, without running the migrations again: on
    PostgreSQL the test database itself (this test commits), on SQLite a file copy of the in-memory one."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    path = tmp_path / "cli.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)
    finally:
        target.close()
    return f"sqlite:///{path}"
