"""Request bodies for POST and PATCH: JSON, form-urlencoded and multipart (contract section 4)."""

import json
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

from signalsource.models import SignalSourceConfig

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "BoUnDaRy"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def send(client, method, url, fields, kind):
    """Sends `fields` as a `kind` body ("json", "form" or "multipart")."""
    if kind == "json":
        return client.generic(method, url, json.dumps(fields), content_type="application/json")
    if kind == "form":
        return client.generic(method, url, urlencode(fields), content_type=FORM)
    return client.generic(method, url, encode_multipart(BOUNDARY, fields), content_type=MULTIPART)


def as_form(fields):
    """What a form carries: strings, with `config` JSON-encoded."""
    return {key: json.dumps(value) if key == "config" else str(value).lower() for key, value in fields.items()}


BODY = {
    "source_product": "session_replay",
    "source_type": "session_analysis_cluster",
    "enabled": False,
    "config": {"recording_filters": {"duration_min": 5}, "sample_rate": 0.25},
}


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_create_with_each_body_kind(tenant, kind):
    fields = BODY if kind == "json" else as_form(BODY)

    response = send(tenant.client, "POST", tenant.url, fields, kind)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["enabled"] is False
    assert body["config"] == BODY["config"]
    row = SignalSourceConfig.objects.get(id=body["id"])
    assert row.enabled is False
    assert row.config == BODY["config"]


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_patch_with_each_body_kind(tenant, kind):
    created = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    url = f"{tenant.url}{created.json()['id']}/"
    changes = {"enabled": False, "config": {"steering": "Skip chores"}}
    fields = changes if kind == "json" else as_form(changes)

    response = send(tenant.client, "PATCH", url, fields, kind)

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    assert response.json()["config"] == {"steering": "Skip chores"}


@pytest.mark.parametrize("kind", ["form", "multipart"])
def test_form_post_without_enabled_stores_true(tenant, kind):
    response = send(tenant.client, "POST", tenant.url, {"source_product": "github", "source_type": "issue"}, kind)

    assert response.status_code == 201, response.json()
    assert response.json()["enabled"] is True
    assert response.json()["config"] == {}
    assert SignalSourceConfig.objects.get(id=response.json()["id"]).enabled is True


@pytest.mark.parametrize("kind", ["form", "multipart"])
def test_form_patch_without_enabled_keeps_it(tenant, kind):
    created = tenant.client.post(
        tenant.url, {"source_product": "github", "source_type": "issue", "enabled": False}, format="json"
    )
    url = f"{tenant.url}{created.json()['id']}/"

    response = send(tenant.client, "PATCH", url, {"config": '{"steering": "x"}'}, kind)

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("on", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("off", False),
        ("no", False),
    ],
)
def test_form_enabled_spellings(tenant, spelling, expected):
    fields = {"source_product": "github", "source_type": "issue", "enabled": spelling}

    response = send(tenant.client, "POST", tenant.url, fields, "form")

    assert response.status_code == 201, response.json()
    assert response.json()["enabled"] is expected


def test_form_enabled_nonsense_is_a_400(tenant):
    fields = {"source_product": "github", "source_type": "issue", "enabled": "maybe"}

    response = send(tenant.client, "POST", tenant.url, fields, "form")

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "enabled"
    assert response.json()["detail"] == "Must be a valid boolean."


@pytest.mark.parametrize("kind", ["form", "multipart"])
@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ("not json", "config must be a JSON object"),
        ("[1, 2]", "config must be a JSON object"),
        ('"a string"', "config must be a JSON object"),
        ("null", "config must be a JSON object"),
        ('{"sample_rate": 3}', "sample_rate must be a number between 0 and 1"),
        ('{"x": "\\u0000"}', "config must not contain NUL characters"),
    ],
)
def test_form_config_must_be_a_json_object(tenant, kind, config, detail):
    fields = {"source_product": "session_replay", "source_type": "session_analysis_cluster", "config": config}

    response = send(tenant.client, "POST", tenant.url, fields, kind)

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "config"
    assert response.json()["detail"] == detail
    assert not SignalSourceConfig.objects.exists()


def test_json_config_as_a_string_is_not_decoded(tenant):
    # Only form bodies carry config as a JSON string; in a JSON body a string is a string.
    fields = {"source_product": "github", "source_type": "issue", "config": '{"steering": "x"}'}

    response = send(tenant.client, "POST", tenant.url, fields, "json")

    assert response.status_code == 400, response.json()
    assert response.json()["detail"] == "config must be a JSON object"


def test_form_unknown_fields_and_read_only_fields_are_ignored(tenant):
    fields = {"source_product": "github", "source_type": "issue", "status": "running", "colour": "blue"}

    response = send(tenant.client, "POST", tenant.url, fields, "form")

    assert response.status_code == 201, response.json()
    assert response.json()["status"] is None


def test_multipart_file_upload_is_not_a_config(tenant):
    fields = {
        "source_product": "github",
        "source_type": "issue",
        "config": SimpleUploadedFile("config.json", b'{"steering": "x"}'),
    }
    response = tenant.client.post(tenant.url, fields, format="multipart")

    assert response.status_code == 400, response.json()
    assert response.json()["attr"] == "config"
    assert not SignalSourceConfig.objects.exists()
