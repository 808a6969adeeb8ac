"""docs/api.md's ETag, Idempotency-Key and merge-patch behaviour (a lost update prevented, a retried
create, a one-key config edit), run with the real `curl` against a live server."""

import json
import shutil
import subprocess
import uuid

import pytest

from .test_curl_examples import auth, cleanup, create_json, curl, detail_url  # noqa: F401 -- cleanup is a fixture

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary"),
]


def headers_of(service, *args) -> dict:
    result = subprocess.run(
        ["curl", "-sI", "--max-time", "20", *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    lines = result.stdout.replace("\r", "").splitlines()[1:]
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}


def test_a_lost_update_is_prevented(live_service, cleanup):  # noqa: F811
    created = create_json(live_service, "github", "issue")
    url = detail_url(live_service, created["id"])
    etag = headers_of(live_service, *auth(live_service), url)["etag"]
    # A colleague edits the config.
    status, _, _ = curl(live_service, "-X", "PATCH", *auth(live_service), "-d", "enabled=false", url)
    assert status == 200

    json_body = ["-H", "Content-Type: application/json", "-d", '{"enabled": false}']
    status, body, _ = curl(live_service, "-X", "PATCH", *auth(live_service), "-H", f"If-Match: {etag}", *json_body, url)

    assert status == 412
    assert body["code"] == "precondition_failed"
    fresh = headers_of(live_service, *auth(live_service), url)["etag"]
    status, _, _ = curl(live_service, "-X", "PATCH", *auth(live_service), "-H", f"If-Match: {fresh}", *json_body, url)
    assert status == 200


def test_a_retried_create(live_service, cleanup):  # noqa: F811
    key = str(uuid.uuid4())
    args = [*auth(live_service), "-H", f"Idempotency-Key: {key}", "-H", "Content-Type: application/json"]
    body = json.dumps({"source_product": "zendesk", "source_type": "ticket"})
    answers = []
    for _ in range(2):
        result = subprocess.run(
            ["curl", "-si", "--max-time", "20", *args, live_service.configs_url, "-d", body],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        )
        head, _, content = result.stdout.replace("\r", "").partition("\n\n")
        answers.append((head.splitlines()[0], "idempotent-replayed: true" in head.lower(), json.loads(content)))
    (first_line, first_replayed, first), (second_line, second_replayed, second) = answers
    assert " 201" in first_line and " 201" in second_line
    assert (first_replayed, second_replayed) == (False, True)
    assert first == second


def test_a_one_key_config_edit(live_service, cleanup):  # noqa: F811
    created = create_json(live_service, "github", "issue")
    url = detail_url(live_service, created["id"])
    curl(
        live_service,
        "-X",
        "PATCH",
        *auth(live_service),
        "-H",
        "Content-Type: application/json",
        url,
        "-d",
        '{"config": {"default_not_actionable": true}}',
    )

    status, body, _ = curl(
        live_service,
        "-X",
        "PATCH",
        *auth(live_service),
        "-H",
        "Content-Type: application/merge-patch+json",
        url,
        "-d",
        '{"config": {"steering": "Only bugs reported by customers"}}',
    )

    assert status == 200, body
    assert body["config"] == {"default_not_actionable": True, "steering": "Only bugs reported by customers"}
