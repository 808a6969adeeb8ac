"""Issue 25's attack table (hardening round 3), the rows answered in-process. The rows that need a
live server are in test_hardening_round3_live.py (and row 1 in tests/config/test_database_backend.py)."""

import pytest
from django.test import Client, override_settings
from drf_spectacular.generators import SchemaGenerator

from api import schema_view
from tests.helpers import Tenant

# --- Row 3: the API description is built once per process and limited per address -----------------------


@pytest.fixture
def fresh_schema_cache(monkeypatch):
    monkeypatch.setattr(schema_view, "_rendered", {})
    builds = []
    original = SchemaGenerator.get_schema

    def counting_get_schema(self, *args, **kwargs):
        builds.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting_get_schema)
    return builds


@pytest.mark.django_db
@override_settings(RATE_LIMIT_SCHEMA="off")
def test_the_description_is_built_once_per_process_and_format(fresh_schema_cache):
    client = Client()
    first = client.get("/api/schema/")
    for _ in range(3):
        again = client.get("/api/schema/")
        assert again.content == first.content
        assert again["Content-Type"] == first["Content-Type"]
    as_json = client.get("/api/schema/", {"format": "json"})
    client.get("/api/schema/", {"format": "json"})

    assert first.status_code == as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert len(fresh_schema_cache) == 2  # YAML once, JSON once


@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=True, RATE_LIMIT_SCHEMA="3/minute", RATE_LIMIT_ANONYMOUS="100/minute")
def test_anonymous_requests_for_the_description_are_limited_per_address():
    tenant = Tenant()
    statuses = [Client(REMOTE_ADDR="203.0.113.7").get("/api/schema/").status_code for _ in range(4)]
    refused = Client(REMOTE_ADDR="203.0.113.7").get("/api/schema/", {"format": "json"})

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled"
    # Another address, and the API itself from the same address, are not affected.
    assert Client(REMOTE_ADDR="203.0.113.8").get("/api/schema/").status_code == 200
    assert tenant.client.get(tenant.url, REMOTE_ADDR="203.0.113.7").status_code == 200
