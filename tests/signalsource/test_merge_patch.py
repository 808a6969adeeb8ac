"""PATCH with `application/merge-patch+json` (RFC 7396) merges `config` key by key (issue 15)."""

import json

import pytest

from activity_log.models import ActivityLog
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import assert_error, make_config, make_project

from .test_conditional_requests import PUT_ROUTES, ROUTES, item_url, list_url, written_state

pytestmark = pytest.mark.django_db

MERGE_PATCH = "application/merge-patch+json"
STORED = {"steering": "keep me", "custom": {"a": 1, "b": {"deep": True, "gone": 0}}, "list": [1, 2]}


@pytest.fixture(params=ROUTES)
def route(request):
    return request.param


@pytest.fixture
def row(tenant):
    return make_config(tenant.project, config=STORED)


def merge_patch(tenant, url, body, **headers):
    return tenant.client.generic("PATCH", url, json.dumps(body), content_type=MERGE_PATCH, **headers)


def test_a_one_key_edit_keeps_every_other_key(tenant, route, row):
    response = merge_patch(tenant, item_url(tenant, route, row.id), {"config": {"default_not_actionable": True}})
    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {**STORED, "default_not_actionable": True}
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {**STORED, "default_not_actionable": True}


def test_a_merge_patch_records_only_the_keys_it_changed(tenant, route, row):
    patch = {"config": {"steering": "new", "list": None, "custom": {"a": 1}}}
    assert merge_patch(tenant, item_url(tenant, route, row.id), patch).status_code == 200
    record = ActivityLog.objects.get(item_id=str(row.id))
    assert (record.activity, record.actor) == ("updated", tenant.api_key.mask)
    assert {(c["field"], c["action"]) for c in record.detail["changes"]} == {
        ("config.steering", "changed"),
        ("config.list", "deleted"),
    }


def test_null_removes_a_key_objects_merge_recursively_and_other_values_replace(tenant, route, row):
    patch = {"config": {"steering": None, "custom": {"a": None, "b": {"gone": None, "new": "x"}}, "list": [3]}}
    response = merge_patch(tenant, item_url(tenant, route, row.id), patch)
    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {"custom": {"b": {"deep": True, "new": "x"}}, "list": [3]}


@pytest.mark.parametrize(
    "content_type", [f"{MERGE_PATCH}; charset=utf-8", f"{MERGE_PATCH};charset=UTF-8", "Application/Merge-Patch+JSON"]
)
def test_the_merge_patch_media_type_with_parameters_or_in_capitals_still_merges(tenant, route, row, content_type):
    url = item_url(tenant, route, row.id)
    response = tenant.client.generic("PATCH", url, json.dumps({"config": {"list": None}}), content_type=content_type)
    assert response.status_code == 200, response.content
    expected = {key: value for key, value in STORED.items() if key != "list"}
    assert response.json()["config"] == expected
    assert SignalSourceConfig.objects.get(pk=row.pk).config == expected


def test_null_removes_a_key_whose_value_is_an_object_or_a_list(tenant, route):
    row = make_config(tenant.project, config={"a": {"b": 1}, "c": 2, "d": [1]})
    response = merge_patch(tenant, item_url(tenant, route, row.id), {"config": {"a": None, "d": None}})
    assert response.status_code == 200, response.content
    assert response.json()["config"] == {"c": 2}
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"c": 2}


def test_the_other_fields_are_as_in_a_normal_patch(tenant, route, row):
    response = merge_patch(tenant, item_url(tenant, route, row.id), {"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["config"] == STORED

    before = written_state()
    assert_error(merge_patch(tenant, item_url(tenant, route, row.id), {"enabled": None}), 400, attr="enabled")
    assert_error(
        merge_patch(tenant, item_url(tenant, route, row.id), {"source_type": "ticket"}), 400, attr="source_type"
    )
    assert written_state() == before


def test_the_merged_config_is_validated_as_a_whole(tenant, route):
    row = make_config(tenant.project, "session_replay", "session_analysis_cluster", config={"sample_rate": 0.5})
    before = written_state()
    response = merge_patch(tenant, item_url(tenant, route, row.id), {"config": {"sample_rate": 2}})
    assert_error(
        response, 400, "validation_error", attr="config", detail="sample_rate must be a number between 0 and 1"
    )
    assert written_state() == before
    # A key removed by the patch is no longer checked; what remains is.
    response = merge_patch(tenant, item_url(tenant, route, row.id), {"config": {"sample_rate": None, "steering": 5}})
    assert_error(response, 400, attr="config", detail="steering must be a string")


@pytest.mark.parametrize("body", [{"config": None}, {"config": "text"}, {"config": [1]}, [1, 2], "text"])
def test_a_config_or_a_body_that_is_not_an_object_is_a_400(tenant, route, row, body):
    before = written_state()
    response = merge_patch(tenant, item_url(tenant, route, row.id), body)
    assert response.status_code == 400, response.content
    assert written_state() == before


def test_application_json_still_replaces_config_whole(tenant, route, row):
    response = tenant.client.patch(item_url(tenant, route, row.id), {"config": {"steering": "only"}}, format="json")
    assert response.json()["config"] == {"steering": "only"}


def test_a_malformed_merge_patch_body_is_a_400(tenant, route, row):
    response = tenant.client.generic("PATCH", item_url(tenant, route, row.id), "{nope", content_type=MERGE_PATCH)
    assert_error(response, 400, code="parse_error")


def test_merge_patch_is_for_patch_only(tenant, route, row):
    body = json.dumps({"source_product": "github", "source_type": "issue", "config": {}})
    before = written_state()
    create = tenant.client.generic("POST", list_url(tenant, route), body, content_type=MERGE_PATCH)
    assert_error(create, 415, code="unsupported_media_type")
    if route in PUT_ROUTES:
        put = tenant.client.generic("PUT", item_url(tenant, route, row.id), body, content_type=MERGE_PATCH)
        assert_error(put, 415, code="unsupported_media_type")
    assert written_state() == before


def test_merge_patch_takes_if_match(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = tenant.client.get(url)["ETag"]
    assert merge_patch(tenant, url, {"config": {"x": 1}}, HTTP_IF_MATCH=etag).status_code == 200
    assert_error(merge_patch(tenant, url, {"config": {"y": 1}}, HTTP_IF_MATCH=etag), 412, code="precondition_failed")
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {**STORED, "x": 1}


def test_a_merge_that_lost_a_race_merges_into_the_winners_config():
    # Two editors patch different keys; the second read the row before the first wrote. Its
    # conditional UPDATE misses, it re-reads and merges again: neither key is lost.
    row = make_config(make_project(), config={"a": 1})
    stale = SignalSourceConfig.objects.get(pk=row.pk)
    services.update_config(SignalSourceConfig.objects.get(pk=row.pk), config_patch={"b": 2})

    services.update_config(stale, config_patch={"c": 3})

    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"a": 1, "b": 2, "c": 3}


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7396, appendix A (the cases that apply to an object target)
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        # Not in the RFC's table, but its algorithm: null removes a key whatever its value.
        ({"a": {"b": 1}, "c": 2}, {"a": None}, {"c": 2}),
    ],
)
def test_merge_patch_follows_the_rfcs_examples(target, patch, result):
    assert services.merge_patch(target, patch) == result
