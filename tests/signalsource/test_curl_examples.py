"""The seed page's curl examples (`seed-signal-source-api-docs.txt`), run with the real `curl`
against a live server, with real values in place of `undefined` and `:id`.

The page's create example is broken as printed: its first line lacks a trailing backslash, and it
sends `-d` form fields under a JSON Content-Type header. We send what a user means: form fields
(the page's `-d`), and the same as JSON. The literal mix answers a clear JSON 400, never a 500.
"""

import json
import shutil
import subprocess

import pytest

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary"),
]


def curl(service, *args):
    """Runs curl like the page does; returns (status, parsed body or None, raw body)."""
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "20", "--write-out", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "POSTHOG_PERSONAL_API_KEY": service.raw_key},
    )
    raw, _, status = result.stdout.rpartition("\n")
    return int(status), (json.loads(raw) if raw else None), raw


def auth(service):
    return ["-H", f"Authorization: Bearer {service.raw_key}"]


def detail_url(service, config_id):
    return f"{service.configs_url}{config_id}/"


@pytest.fixture
def cleanup(live_service):
    """Deletes what a test created, so that each test starts from an empty project."""
    yield
    _, body, _ = curl(live_service, *auth(live_service), live_service.configs_url + "?limit=1000")
    for row in body["results"]:
        curl(live_service, "-X", "DELETE", *auth(live_service), detail_url(live_service, row["id"]))


def create_json(service, product, source_type):
    status, body, _ = curl(
        service,
        "-H",
        "Content-Type: application/json",
        *auth(service),
        service.configs_url,
        "-d",
        json.dumps({"source_product": product, "source_type": source_type}),
    )
    assert status == 201, body
    return body


def test_list(live_service, cleanup):
    created = create_json(live_service, "github", "issue")

    # curl -H "Authorization: Bearer $POSTHOG_PERSONAL_API_KEY" <host>/api/projects/:project_id/signal_source_configs/
    status, body, _ = curl(live_service, *auth(live_service), live_service.configs_url)

    assert status == 200, body
    assert body == {"count": 1, "next": None, "previous": None, "results": [created]}


def test_list_without_the_trailing_slash_as_in_the_pages_heading(live_service, cleanup):
    status, body, _ = curl(live_service, *auth(live_service), live_service.configs_url.rstrip("/"))

    assert status == 200, body
    assert body["count"] == 0


def test_create_with_form_fields_as_the_page_means(live_service, cleanup):
    # curl -H "Authorization: Bearer ..." <host>/.../signal_source_configs/ -d source_product=... -d source_type=...
    status, body, _ = curl(
        live_service,
        *auth(live_service),
        live_service.configs_url,
        "-d",
        "source_product=zendesk",
        "-d",
        "source_type=ticket",
    )

    assert status == 201, body
    assert body["source_product"] == "zendesk"
    assert body["source_type"] == "ticket"
    assert body["enabled"] is True
    assert body["config"] == {}
    assert body["status"] is None


def test_create_with_form_fields_and_config(live_service, cleanup):
    status, body, _ = curl(
        live_service,
        *auth(live_service),
        live_service.configs_url,
        "-d",
        "source_product=session_replay",
        "-d",
        "source_type=session_analysis_cluster",
        "-d",
        "enabled=false",
        "--data-urlencode",
        'config={"sample_rate": 0.5, "recording_filters": {"duration_min": 5}}',
    )

    assert status == 201, body
    assert body["enabled"] is False
    assert body["config"] == {"sample_rate": 0.5, "recording_filters": {"duration_min": 5}}


def test_create_with_json(live_service, cleanup):
    status, body, _ = curl(
        live_service,
        "-H",
        "Content-Type: application/json",
        *auth(live_service),
        live_service.configs_url,
        "-d",
        '{"source_product": "llm_analytics", "source_type": "evaluation", "config": {"steering": "Be brief"}}',
    )

    assert status == 201, body
    assert body["source_product"] == "llm_analytics"
    assert body["config"] == {"steering": "Be brief"}


def test_create_as_literally_printed_is_a_clear_400(live_service, cleanup):
    # Form fields under a JSON Content-Type, with the page's stray comma.
    status, body, _ = curl(
        live_service,
        "-H",
        "Content-Type: application/json",
        *auth(live_service),
        live_service.configs_url,
        "-d",
        "source_product=linear,",
        "-d",
        "source_type=issue",
    )

    assert status == 400, body
    assert body["type"] == "invalid_request"
    assert body["code"] == "parse_error"


def test_create_with_the_pages_undefined_placeholders_is_a_clear_400(live_service, cleanup):
    status, body, _ = curl(
        live_service,
        *auth(live_service),
        live_service.configs_url,
        "-d",
        "source_product=undefined",
        "-d",
        "source_type=undefined",
    )

    assert status == 400, body
    assert body == {
        "type": "validation_error",
        "code": "invalid_choice",
        "detail": '"undefined" is not a valid choice.',
        "attr": "source_product",
    }


def test_retrieve(live_service, cleanup):
    created = create_json(live_service, "github", "issue")

    # curl -H "Authorization: Bearer ..." <host>/api/projects/:project_id/signal_source_configs/:id/
    status, body, _ = curl(live_service, *auth(live_service), detail_url(live_service, created["id"]))

    assert status == 200, body
    assert body == created


def test_update_as_printed_with_the_same_source_product(live_service, cleanup):
    created = create_json(live_service, "linear", "issue")

    # curl -X PATCH -H "Authorization: Bearer ..." <host>/.../:id/ -d source_product=...
    status, body, _ = curl(
        live_service,
        "-X",
        "PATCH",
        *auth(live_service),
        detail_url(live_service, created["id"]),
        "-d",
        "source_product=linear",
    )

    assert status == 200, body
    assert body["source_product"] == "linear"
    assert body["updated_at"] >= created["updated_at"]


def test_update_to_another_source_product_is_refused(live_service, cleanup):
    created = create_json(live_service, "linear", "issue")

    status, body, _ = curl(
        live_service,
        "-X",
        "PATCH",
        *auth(live_service),
        detail_url(live_service, created["id"]),
        "-d",
        "source_product=github",
    )

    assert status == 400, body
    assert body["attr"] == "source_product"
    assert body["detail"] == "source_product cannot be changed after creation."


def test_update_enabled_and_config(live_service, cleanup):
    created = create_json(live_service, "zendesk", "ticket")

    form_status, form_body, _ = curl(
        live_service,
        "-X",
        "PATCH",
        *auth(live_service),
        detail_url(live_service, created["id"]),
        "-d",
        "enabled=false",
    )
    json_status, json_body, _ = curl(
        live_service,
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/json",
        *auth(live_service),
        detail_url(live_service, created["id"]),
        "-d",
        '{"config": {"default_not_actionable": true}}',
    )

    assert form_status == 200, form_body
    assert form_body["enabled"] is False
    assert json_status == 200, json_body
    assert json_body["enabled"] is False
    assert json_body["config"] == {"default_not_actionable": True}


def test_delete(live_service, cleanup):
    created = create_json(live_service, "github", "issue")

    # curl -X DELETE -H "Authorization: Bearer ..." <host>/.../:id/
    status, body, raw = curl(live_service, "-X", "DELETE", *auth(live_service), detail_url(live_service, created["id"]))

    assert status == 204
    assert raw == ""
    status, body, _ = curl(live_service, *auth(live_service), detail_url(live_service, created["id"]))
    assert status == 404, body
    assert body["detail"] == "Not found."


def test_without_the_key_is_401(live_service):
    status, body, _ = curl(live_service, live_service.configs_url)

    assert status == 401, body
    assert body["code"] == "not_authenticated"


# --- The API guide's walk-through of today's PostHog route (`signals/source_configs`) ----------------


def test_readme_walk_through_of_todays_route(live_service, cleanup):
    signals_url = live_service.configs_url.replace("/signal_source_configs/", "/signals/source_configs/")
    as_json = ["-H", "Content-Type: application/json", *auth(live_service)]
    replay_body = '{"source_product": "session_replay", "source_type": "session_analysis_cluster"}'

    made_earlier = create_json(live_service, "session_replay", "session_analysis_cluster")  # the published route
    status, listed, _ = curl(live_service, *auth(live_service), signals_url + "?source_product=session_replay")
    assert [row["id"] for row in listed["results"]] == [made_earlier["id"]]  # the same row
    status, _, raw = curl(live_service, "-X", "DELETE", *auth(live_service), f"{signals_url}{made_earlier['id']}/")
    assert (status, raw) == (204, "")

    status, replay, _ = curl(live_service, *as_json, signals_url, "-d", replay_body)
    assert status == 201, replay
    assert (replay["enabled"], replay["config"]) == (True, {"sample_rate": 0.1})

    status, body, _ = curl(
        live_service,
        "-X",
        "PUT",
        *as_json,
        f"{signals_url}{replay['id']}/",
        "-d",
        replay_body[:-1] + ', "enabled": false, "config": {}}',
    )
    assert status == 200, body
    assert (body["id"], body["enabled"], body["config"]) == (replay["id"], False, {})
    status, published, _ = curl(live_service, *auth(live_service), detail_url(live_service, replay["id"]))
    assert published == body

    status, body, _ = curl(
        live_service, *as_json, signals_url, "-d", '{"source_product": "llm_analytics", "source_type": "evaluation"}'
    )
    assert status == 400
    assert body == {
        "type": "validation_error",
        "code": "invalid_choice",
        "detail": '"evaluation" is not a valid choice.',
        "attr": "source_type",
    }

    status, body, _ = curl(
        live_service, "-X", "PUT", *as_json, detail_url(live_service, replay["id"]), "-d", '{"enabled": true}'
    )
    assert status == 405, body


# --- The API guide's processor example ----------------------------------------------------


def test_readme_processor_example_start_heartbeat_finish(live_service, cleanup):
    config = create_json(live_service, "github", "issue")
    signals_url = live_service.configs_url.replace("/signal_source_configs/", "/signals/source_configs/")
    runs_url = f"{signals_url}{config['id']}/runs/"
    as_json = ["-H", "Content-Type: application/json", *auth(live_service)]

    status, run, _ = curl(
        live_service, *as_json, "-H", "Idempotency-Key: readme-run-1", runs_url, "-d", '{"state": "running"}'
    )
    assert status == 201, run
    _, shown, _ = curl(live_service, *auth(live_service), detail_url(live_service, config["id"]))
    assert shown["status"] == "running"
    status, beat, _ = curl(
        live_service, "-X", "PATCH", *as_json, f"{runs_url}{run['id']}/", "-d",
        '{"items_processed": 120, "signals_emitted": 3}',
    )  # fmt: skip
    assert status == 200 and beat["items_processed"] == 120, beat
    status, done, _ = curl(
        live_service, "-X", "PATCH", *as_json, f"{runs_url}{run['id']}/", "-d",
        '{"state": "completed", "items_processed": 250, "signals_emitted": 5}',
    )  # fmt: skip
    assert status == 200 and done["state"] == "completed", done
    _, shown, _ = curl(live_service, *auth(live_service), detail_url(live_service, config["id"]))
    assert shown["status"] == "completed"
    _, listed, _ = curl(live_service, *auth(live_service), runs_url)
    assert [row["id"] for row in listed["results"]] == [run["id"]]
    _, rows, _ = curl(live_service, *auth(live_service), f"{signals_url}health/?state=healthy")
    assert [row["id"] for row in rows] == [config["id"]]
