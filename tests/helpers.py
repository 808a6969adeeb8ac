"""Helpers shared by the tests: factories, URLs, the error-body check, database snapshots, and ways to
run management commands and read admin pages. Fixtures built on them live in `tests/conftest.py`."""

import io
import itertools
import re
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command, load_command_class
from django.urls import reverse
from rest_framework.test import APIClient

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from auth_keys.services import create_api_key
from projects.models import Organization, OrganizationMembership, Project
from signalsource.models import SignalSourceConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent
OPENAPI_FILE = PROJECT_DIR / "openapi.yaml"

_counter = itertools.count(1)


# --- Factories ------------------------------------------------------------------------------------


def make_user(email=None, *, is_active=True):
    email = email or f"user{next(_counter)}@example.com"
    return get_user_model().objects.create_user(username=email, email=email, is_active=is_active)


def make_organization(name=None):
    return Organization.objects.create(name=name or f"Org {next(_counter)}")


def make_project(organization=None, *, members=(), name=None):
    organization = organization or make_organization()
    for user in members:
        OrganizationMembership.objects.get_or_create(organization=organization, user=user)
    return Project.objects.create(organization=organization, name=name or f"Project {next(_counter)}")


def make_key(user, scopes=("task:read", "task:write"), **kwargs):
    """Returns (PersonalAPIKey, raw key)."""
    return create_api_key(user, scopes=list(scopes), **kwargs)


def make_config(project, source_product="github", source_type="issue", **fields):
    """A config written straight to the database, as a row made outside the API would be."""
    return SignalSourceConfig.objects.create(
        project=project, source_product=source_product, source_type=source_type, **fields
    )


def key_client(raw_key=None):
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


class Tenant:
    """A member user with a project and a read/write key: the usual starting point of a test."""

    def __init__(self, scopes=("task:read", "task:write")):
        self.user = make_user()
        self.project = make_project(members=[self.user])
        self.organization = self.project.organization
        self.api_key, self.raw_key = make_key(self.user, scopes)
        self.client = key_client(self.raw_key)

    @property
    def url(self):
        return configs_url(self.project.id)


PUBLISHED_ROUTE = "signal_source_configs"  # the endpoint as first published (the contract)
SIGNALS_ROUTE = "signals/source_configs"  # the same resource as today's PostHog serves it


def configs_url(project_id, config_id=None, route=PUBLISHED_ROUTE):
    base = f"/api/projects/{project_id}/{route}/"
    return f"{base}{config_id}/" if config_id else base


# --- Database routing -----------------------------------------------------------------------------


class RecordingRouter:
    """Sends every model to the default database, and notes which models it was asked about
    (`settings.DATABASE_ROUTERS = ["tests.helpers.RecordingRouter"]`)."""

    asked: list

    def db_for_read(self, model, **hints):
        self.asked.append(("read", model.__name__))
        return "default"

    def db_for_write(self, model, **hints):
        self.asked.append(("write", model.__name__))
        return "default"


# --- Error bodies -----------------------------------------------------------------------------------

ERROR_KEYS = {"type", "code", "detail", "attr"}
ANY = object()  # for assert_error: a field that is not compared


def assert_error(response, status, type_=ANY, code=ANY, detail=ANY, attr=None):
    """The response is a JSON error in PostHog's flat format, {"type", "code", "detail", "attr"} (plus
    `request_id` on a server error), with the given status and fields; returns the body. A field left
    at ANY is not compared (`detail` must still be a non-empty string); `attr` is null unless given."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == ERROR_KEYS | ({"request_id"} if status >= 500 else set()), body
    assert isinstance(body["detail"], str) and body["detail"], body
    for name, expected in (("type", type_), ("code", code), ("detail", detail), ("attr", attr)):
        if expected is not ANY:
            assert body[name] == expected, body
    return body


# --- Database snapshots -----------------------------------------------------------------------------


def database_state():
    """Every config and every key's credentials, in a stable order: equal before and after a request
    when the request changed nothing."""
    configs = list(SignalSourceConfig.objects.order_by("id").values())
    api_keys = list(PersonalAPIKey.objects.order_by("id").values("id", "scopes", "revoked_at", "digest"))
    return configs, api_keys


# --- Management commands ----------------------------------------------------------------------------

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


# --- Admin pages ------------------------------------------------------------------------------------


def admin_url(name, *args):
    return reverse(f"admin:{name}", args=args)


def changelist_rows(response):
    return list(response.context["cl"].result_list)
