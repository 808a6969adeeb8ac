"""Issue 25's attack table (hardening round 3), the rows answered in-process. The rows that need a
live server are in test_hardening_round3_live.py (and row 1 in tests/config/test_database_backend.py)."""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from drf_spectacular.generators import SchemaGenerator

from activity_log.models import ActivityLog
from api import parsers, schema_view
from api.idempotency import STORED_DETAIL_CHARACTERS
from api.models import IdempotencyRecord
from api.parsers import MAX_JSON_DEPTH, MAX_JSON_NODES
from change_events.models import ChangeEvent
from signalsource.models import SignalSourceConfig
from tests.helpers import Tenant, assert_error, make_config

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


# --- Row 5: bodies with more values, or deeper, than any request needs are refused after parsing -----------

GITHUB = {"source_product": "github", "source_type": "issue"}


def nested_json(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[" + "[]," * 340_000 + "[]]",  # about 1 MB of empty arrays
        '{"source_product": "github", "source_type": "issue", "config": {"a": [' + "0," * (MAX_JSON_NODES + 1) + "0]}}",
        '{"source_product": "github", "source_type": "issue", "x": ' + nested_json(MAX_JSON_DEPTH + 1) + "}",
    ],
    ids=["many-empty-arrays", "many-numbers", "deep"],
)
def test_a_json_body_larger_or_deeper_than_any_request_needs_is_a_400(tenant, body):
    response = tenant.client.post(tenant.url, body, content_type="application/json")

    assert_error(response, 400, "invalid_request", code="parse_error")
    assert not SignalSourceConfig.objects.exists()


def test_an_ordinary_body_is_not_walked():
    # Two byte counts decide; a walk would be needed only beyond them.
    raw = orjson.dumps({**GITHUB, "config": {"steering": "[{,}]" * 10}})
    assert parsers._check_json_shape(raw, orjson.loads(raw)) is None


# --- Row 7: bodies that were 500s with an Idempotency-Key are 400s, and the key is released ---------------


@pytest.mark.django_db
def test_a_body_too_deep_to_fingerprint_is_a_400_and_the_key_stays_free(tenant):
    deep = '{"source_product": "github", "source_type": "issue", "x": ' + nested_json(300) + "}"
    refused = tenant.client.post(tenant.url, deep, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep")
    created = tenant.client.post(tenant.url, GITHUB, format="json", HTTP_IDEMPOTENCY_KEY="deep")

    assert_error(refused, 400, "invalid_request", code="parse_error")
    assert created.status_code == 201, created.json()


@pytest.mark.django_db
def test_a_multipart_body_with_a_file_part_and_a_key_is_answered_not_a_500(tenant):
    fields = {**GITHUB, "attachment": SimpleUploadedFile("a.txt", b"hello")}
    first = tenant.client.post(tenant.url, fields, format="multipart", HTTP_IDEMPOTENCY_KEY="file")
    again = tenant.client.post(tenant.url, fields, format="multipart", HTTP_IDEMPOTENCY_KEY="file")

    assert first.status_code == 201, first.json()
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert SignalSourceConfig.objects.count() == 1


@pytest.mark.django_db
def test_a_nul_character_quoted_in_a_refusal_is_stored_and_replayed_not_a_500(tenant):
    body = {"source_product": "github\x00", "source_type": "issue"}
    first = tenant.client.post(tenant.url, body, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    again = tenant.client.post(tenant.url, body, format="json", HTTP_IDEMPOTENCY_KEY="nul")

    assert_error(first, 400, "validation_error", attr="source_product")
    assert again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["code"] == first.json()["code"]
    # Stored with the NUL replaced (PostgreSQL's jsonb holds none), on every database.
    assert again.json()["detail"] == first.json()["detail"].replace("\x00", "\ufffd")
    assert "\ufffd" in again.json()["detail"]


@pytest.mark.django_db
def test_a_merge_patch_nested_near_orjsons_limit_is_a_400(tenant):
    config = make_config(tenant.project)
    for depth in (980, 1023):
        response = tenant.client.patch(
            f"{tenant.url}{config.id}/",
            '{"config": ' + nested_json(depth) + "}",
            content_type="application/merge-patch+json",
        )
        assert_error(response, 400, "invalid_request", code="parse_error")
    config.refresh_from_db()
    assert config.config == {}


# --- Row 8: what is stored per key does not grow with the request ------------------------------------------


@pytest.mark.django_db
def test_a_refused_request_stores_a_summary_of_its_error_whatever_its_size(tenant):
    body = {"source_product": "x" * 500_000, "source_type": "issue"}
    first = tenant.client.post(tenant.url, body, format="json", HTTP_IDEMPOTENCY_KEY="big")
    again = tenant.client.post(tenant.url, body, format="json", HTTP_IDEMPOTENCY_KEY="big")

    assert len(first.content) > 500_000  # the error quotes the input
    stored = IdempotencyRecord.objects.get(key="big")
    assert len(orjson.dumps(stored.response_body)) < STORED_DETAIL_CHARACTERS + 200
    assert again.status_code == 400
    assert {name: again.json()[name] for name in ("type", "code", "attr")} == {
        name: first.json()[name] for name in ("type", "code", "attr")
    }


# --- Row 11: a replay causes no statement error -------------------------------------------------------------


@pytest.mark.django_db
def test_replaying_a_key_runs_no_statement_that_fails(tenant):
    failed = []

    def watch(execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except Exception as error:
            failed.append((sql, error))
            raise

    assert tenant.client.post(tenant.url, GITHUB, format="json", HTTP_IDEMPOTENCY_KEY="again").status_code == 201
    with connection.execute_wrapper(watch):
        for _ in range(3):
            replay = tenant.client.post(tenant.url, GITHUB, format="json", HTTP_IDEMPOTENCY_KEY="again")
            assert replay["Idempotent-Replayed"] == "true"

    assert failed == []


# --- Row 12: If-None-Match on a write; fingerprints compare what a request means ---------------------------


@pytest.mark.django_db
def test_if_none_match_on_a_write_is_412_when_it_matches(tenant):
    config = make_config(tenant.project)
    url = f"{tenant.url}{config.id}/"
    etag = tenant.client.get(url)["ETag"]

    for if_none_match in ("*", etag, f'W/{etag}, "other"'):
        response = tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_NONE_MATCH=if_none_match)
        assert_error(response, 412, "invalid_request", code="precondition_failed")
    assert_error(tenant.client.delete(url, HTTP_IF_NONE_MATCH="*"), 412, code="precondition_failed")
    config.refresh_from_db()
    assert config.enabled is True

    other = tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_NONE_MATCH='"not-its-version"')
    assert other.status_code == 200


@pytest.mark.django_db
def test_the_same_create_as_json_or_form_with_or_without_the_slash_is_one_request(tenant):
    as_json = tenant.client.post(tenant.url, {**GITHUB, "enabled": False}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    as_form = tenant.client.post(
        tenant.url.rstrip("/"),
        "source_product=github&source_type=issue&enabled=false",
        content_type="application/x-www-form-urlencoded",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    different = tenant.client.post(tenant.url, GITHUB, format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert as_json.status_code == 201
    assert as_form.status_code == 201, as_form.json()
    assert as_form["Idempotent-Replayed"] == "true"
    assert as_form.json() == as_json.json()
    assert_error(different, 422, code="idempotency_key_reused")  # enabled left out: another request


# --- Row 6: every list page is bounded in bytes, and `next` gives every row once -----------------------

# Notes of these many characters: each PATCH's activity record holds the config before and after, and
# its change event the config after too. 60,000 is near the largest config (64 KiB of JSON); about 2.4
# MiB of records in all, in one page of `limit=1000` before the cut.
NOTE_SIZES = [60_000, 30_000, 10, 60_000, 45_000, 10, 10] * 6
ENVELOPE_BYTES = 1024  # a page's links and count around its rows


@pytest.fixture
def log_tenant(db):
    return Tenant(scopes=("task:read", "task:write", "activity_log:read"))


@pytest.fixture
def large_history(log_tenant):
    created = log_tenant.client.post(log_tenant.url, GITHUB, format="json")
    assert created.status_code == 201, created.content
    config_id = created.json()["id"]
    for number, size in enumerate(NOTE_SIZES):
        note = "abcdefghijklmnopqrstuvwxyz"[number % 26] * size
        response = log_tenant.client.patch(f"{log_tenant.url}{config_id}/", {"config": {"note": note}}, format="json")
        assert response.status_code == 200, response.content[:300]
    return config_id


def walk(client, url, params, link="next"):
    """Follows `link` from the first page; each page's size in bytes and row count, and the rows' ids."""
    pages, ids = [], []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        pages.append((len(response.content), len(body["results"])))
        ids += [row["id"] for row in body["results"]]
        if not body[link]:
            return pages, ids, body
        response = client.get(body[link])


def assert_bounded(pages):
    assert len(pages) > 2, pages  # the history does not fit one page
    for size, rows in pages:
        assert rows == 1 or size <= settings.PAGE_MAX_BYTES + ENVELOPE_BYTES, pages
        assert rows >= 1, pages


@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=False)
def test_a_configs_activity_page_is_cut_by_size_and_next_gives_every_record_once(log_tenant, large_history):
    url = f"{log_tenant.url}{large_history}/activity/"
    records = ActivityLog.objects.filter(item_id=large_history).order_by("-created_at", "-id")
    expected = [str(record.id) for record in records]

    pages, ids, last = walk(log_tenant.client, url, {"limit": 1000})

    assert_bounded(pages)
    assert ids == expected
    assert last["total_count"] == len(expected)


@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=False)
def test_the_project_log_is_cut_by_size_by_cursor_and_by_page_number_both_ways(log_tenant, large_history):
    url = f"/api/projects/{log_tenant.project.id}/activity_log/"
    expected = [str(record.id) for record in ActivityLog.objects.order_by("-created_at", "-id")]

    pages, ids, last = walk(log_tenant.client, url, {})
    assert_bounded(pages)
    assert ids == expected
    # Back from the last page by `previous`: every record once too.
    back = log_tenant.client.get(url, {"cursor": parse_qs(urlsplit(last["previous"]).query)["cursor"][0]})
    before = []
    while True:
        body = back.json()
        assert len(back.content) <= settings.PAGE_MAX_BYTES + ENVELOPE_BYTES or len(body["results"]) == 1
        before = [row["id"] for row in body["results"]] + before
        if not body["previous"]:
            break
        back = log_tenant.client.get(body["previous"])
    assert before + [row["id"] for row in last["results"]] == expected

    pages, ids, last = walk(log_tenant.client, url, {"page": 1, "page_size": 1000})
    assert_bounded(pages)
    assert ids == expected
    assert last["count"] == len(expected)


@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=False)
def test_the_change_feed_is_cut_by_size_and_its_cursor_gives_every_event_once(log_tenant, large_history):
    url = f"/api/projects/{log_tenant.project.id}/signals/source_configs/changes/"
    expected = [f"{event.subject}:{event.sequence}" for event in ChangeEvent.objects.order_by("id")]

    pages, ids, last = walk(log_tenant.client, url, {"limit": 1000})

    assert_bounded(pages)
    assert ids == expected
    assert log_tenant.client.get(url, {"after": last["cursor"]}).json()["results"] == []
