"""`seed_demo`, which `make run` calls: demo data only on a database without users."""

import re

import pytest
from django.contrib.auth import get_user_model

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from projects.models import Organization, Project
from tests.helpers import key_client, make_user, run

# --- seed_demo -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_on_an_empty_database_prints_a_key_and_a_curl_command_that_work():
    stdout, _ = run("seed_demo", "--base-url", "http://127.0.0.1:8123")

    project = Project.objects.get()
    assert project.organization.name == "Demo organization"
    user = get_user_model().objects.get()
    assert user.email == "demo@example.com"
    api_key = PersonalAPIKey.objects.get()
    assert api_key.scopes == ["activity_log:read", "task:read", "task:write"]
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
def test_seed_demo_on_a_database_with_users_says_how_to_get_a_key():
    make_user("someone@example.com")

    stdout, _ = run("seed_demo")

    command = "manage.py create_api_key <email> --scopes task:read,task:write,activity_log:read"
    assert command in stdout
    # The command it gives works as given.
    key_out, _ = run("create_api_key", "someone@example.com", "--scopes", "task:read,task:write,activity_log:read")
    assert key_out.strip().startswith("phx_")


@pytest.mark.django_db
def test_seed_demo_runs_once():
    run("seed_demo")
    again, _ = run("seed_demo")

    assert "phx_" not in again
    assert PersonalAPIKey.objects.count() == 1
    assert Project.objects.count() == 1
