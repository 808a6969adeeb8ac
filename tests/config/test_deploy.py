"""Production settings pass Django's deployment checks, and responses carry the security headers."""

import os
import secrets
import subprocess
import sys

import pytest
from django.test import override_settings

from tests.helpers import PROJECT_DIR


def manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL", "SECRET_KEY"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {"SECURE_SSL": "1", "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60)}


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_catches_an_unsafe_setting():
    # The check above is only worth something if it can fail: a short secret key is flagged.
    result = manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["/healthz", "/api/projects/1/signal_source_configs/", "/no/such/route"])
def test_security_headers_are_set_on_every_response(client, db, path):
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Content-Type"].startswith("application/json")


@override_settings(MAX_REQUEST_BODY_BYTES=10)
def test_security_headers_are_set_on_refusals_made_before_the_view(client, db):
    response = client.post("/api/projects/1/signal_source_configs/", "x" * 100, content_type="application/json")
    assert response.status_code == 413
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_HSTS_SECONDS=31536000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
)
def test_behind_https_plain_http_is_redirected_and_https_gets_hsts(client, db):
    # The values SECURE_SSL=1 turns on (settings.py), applied here to a running test server.
    response = client.get("/healthz")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")

    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
