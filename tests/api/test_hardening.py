"""Issue 12's attack table, the rows answered in-process (the server rows are in test_server.py,
throttling in test_rate_limits.py, the admin rows in the admin tests)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from api.parsers import MAX_JSON_DEPTH
from signalsource.catalog import MAX_CONFIG_DEPTH
from signalsource.models import SignalSourceConfig
from tests.helpers import assert_error, make_config

GITHUB = {"source_product": "github", "source_type": "issue"}


# --- Row 3: health checks are exempt from the HTTPS redirect ------------------------------------------


@pytest.mark.django_db
def test_health_probes_over_plain_http_are_answered_not_redirected(load_production_ssl_settings):
    client = Client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    redirected = client.get("/api/projects/1/signal_source_configs/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")


@pytest.fixture
def load_production_ssl_settings(settings):
    """The settings `SECURE_SSL=1` turns on, as config/settings.py computes them."""
    import os
    import runpy

    from tests.helpers import PROJECT_DIR

    previous = os.environ.get("SECURE_SSL")
    os.environ["SECURE_SSL"] = "1"
    try:
        computed = runpy.run_path(str(PROJECT_DIR / "config" / "settings.py"))
    finally:
        if previous is None:
            del os.environ["SECURE_SSL"]
        else:
            os.environ["SECURE_SSL"] = previous
    settings.SECURE_SSL_REDIRECT = computed["SECURE_SSL_REDIRECT"]
    settings.SECURE_REDIRECT_EXEMPT = computed["SECURE_REDIRECT_EXEMPT"]
    settings.SECURE_PROXY_SSL_HEADER = computed["SECURE_PROXY_SSL_HEADER"]
    return computed


# --- Row 5: deep nesting ------------------------------------------------------------------------------


def nested(depth):
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def nested_json(depth: int) -> str:
    """`nested(depth)` as JSON text, written by hand: Python's encoder gives up near 1,000 levels."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [MAX_CONFIG_DEPTH + 1, MAX_JSON_DEPTH - 1, 254, 255, 1000])
def test_config_nested_deeper_than_the_limit_is_a_400(tenant, depth):
    body = '{"source_product": "github", "source_type": "issue", "config": ' + nested_json(depth) + "}"
    response = tenant.client.post(tenant.url, body, content_type="application/json")

    # Deeper than any body needs, the parser refuses it (issue 25, row 5); else the config's rule.
    if depth + 1 > MAX_JSON_DEPTH:
        assert_error(response, 400, "invalid_request", code="parse_error")
    else:
        assert_error(response, 400, "validation_error", attr="config")
        assert f"at most {MAX_CONFIG_DEPTH} levels" in response.json()["detail"]
    config = make_config(tenant.project)
    patch = '{"config": ' + nested_json(depth) + "}"
    patched = tenant.client.patch(f"{tenant.url}{config.id}/", patch, content_type="application/json")
    assert patched.status_code == 400
    config.refresh_from_db()
    assert config.config == {}
    assert SignalSourceConfig.objects.count() == 1


@pytest.mark.django_db
def test_config_nested_to_the_limit_is_stored_and_reads_back(tenant):
    response = tenant.client.post(tenant.url, {**GITHUB, "config": nested(MAX_CONFIG_DEPTH)}, format="json")

    assert response.status_code == 201, response.json()
    fetched = tenant.client.get(f"{tenant.url}{response.json()['id']}/").json()
    assert fetched["config"] == nested(MAX_CONFIG_DEPTH)


# --- Row 6: a forged Host -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/api/projects/1/signal_source_configs/", "/admin/login/", "/api/schema/", "/nope"]
)
def test_a_host_outside_allowed_hosts_is_a_json_400_on_every_route(tenant, path):
    response = APIClient().get(path, HTTP_HOST="evil.example.com")

    assert_error(response, 400, "validation_error", code="invalid_host")
    assert "evil.example.com" not in response.content.decode()


@pytest.mark.django_db
def test_a_forged_host_on_a_paginated_list_is_a_400_not_a_500(tenant):
    make_config(tenant.project)  # with limit=1 the list has a `next` link to build from the Host
    client = tenant.client
    response = client.get(f"{tenant.url}?limit=1&offset=0", HTTP_HOST="evil.example.com")

    assert_error(response, 400, "validation_error", code="invalid_host")
    assert client.get(f"{tenant.url}?limit=1").status_code == 200


# --- Row 9: numbers that would not read back as sent ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("number", [1e308, -1e308, 1e16, 1e-300, 2**53, -(2**53), 2**64])
def test_numbers_that_would_not_read_back_as_sent_are_refused(tenant, number):
    response = tenant.client.post(tenant.url, {**GITHUB, "config": {"values": [1, number]}}, format="json")

    assert_error(response, 400, "validation_error", attr="config")
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("number", [0, 0.0, 1.5, -2.25, 1e15, 1e-6, 0.1, 2**53 - 1, -(2**53 - 1), 123456.789])
def test_numbers_in_range_read_back_as_sent_on_this_database(tenant, number):
    response = tenant.client.post(tenant.url, {**GITHUB, "config": {"value": number}}, format="json")

    assert response.status_code == 201, response.json()
    fetched = tenant.client.get(f"{tenant.url}{response.json()['id']}/").json()
    assert fetched["config"]["value"] == number
    assert len(str(fetched["config"]["value"])) <= len(repr(number)) + 2
