"""The `create_project` command, with exactly the interface of issue 3 (scripts rely on it):

    create_project NAME --member EMAIL [--organization NAME]        -> prints the project's id alone

and, through manage.py as scripts call them, `create_project` and `create_api_key` together.
"""

import os
import re
import sqlite3
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.db import connection

from projects.models import Organization, OrganizationMembership, Project
from tests.helpers import KEY_LINE, PROJECT_DIR, make_project, make_user, run

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


# --- Through manage.py, as scripts call them ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_manage_py_prints_exactly_the_id_and_the_key_on_stdout(tmp_path):
    """The README's `PROJECT_ID=$(...)` and `KEY=$(...)` lines rely on stdout holding nothing else,
    not even a log line. (Exit statuses and error output are proved in-process, by run_cli, in
    tests/auth_keys/test_commands.py.)"""
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
