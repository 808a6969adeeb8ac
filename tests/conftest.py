"""Shared setup: small factories for organizations, projects, users and keys, and an API client."""

import itertools

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from auth_keys.services import create_api_key
from projects.models import Organization, OrganizationMembership, Project

_counter = itertools.count(1)


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


def configs_url(project_id, config_id=None):
    base = f"/api/projects/{project_id}/signal_source_configs/"
    return f"{base}{config_id}/" if config_id else base


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """Collects the static files into a directory of this run, as `make run` does, so that whitenoise
    serves them and admin pages find their hashed names. Plain manifest storage: the same hashed
    names as production's, without production's gzip pass, which would add seconds to every run."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    static_root = tmp_path_factory.mktemp("static")
    manifest_storage = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": manifest_storage}
    with override_settings(STATIC_ROOT=static_root, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield static_root


@pytest.fixture
def tenant(db):
    return Tenant()


@pytest.fixture
def other_tenant(db):
    return Tenant()


@pytest.fixture(scope="session")
def live_service(tmp_path_factory):
    """A real gunicorn server on its own database, with a project and a task:read/write key."""
    from .live_server import live_service

    with live_service(tmp_path_factory.mktemp("live")) as service:
        yield service
