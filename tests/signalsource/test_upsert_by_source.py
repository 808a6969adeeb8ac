"""Upsert by source (issue 28): `PUT/GET/DELETE .../signals/source_configs/by_source/{product}/{type}/`,
and the rule that a write that changes nothing writes nothing, on every route that writes."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from activity_log.models import ActivityLog
from activity_log.services import Actor
from api.conditional import Precondition, VersionMismatch
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import (
    PUBLISHED_ROUTE,
    SIGNALS_ROUTE,
    Tenant,
    assert_error,
    configs_url,
    database_state,
    make_config,
)

pytestmark = pytest.mark.django_db

MERGE_PATCH = "application/merge-patch+json"
REPLAY = ("session_replay", "session_analysis_cluster")  # a source with new-config defaults


def by_source_url(project_id, source_product="github", source_type="issue", route=SIGNALS_ROUTE):
    return f"/api/projects/{project_id}/{route}/by_source/{source_product}/{source_type}/"


def put(tenant, body, url=None, content_type="application/json", **headers):
    url = url or by_source_url(tenant.project.id)
    return tenant.client.generic("PUT", url, json.dumps(body), content_type=content_type, **headers)


def records(config_id) -> list[str]:
    return list(
        ActivityLog.objects.filter(item_id=str(config_id)).order_by("created_at").values_list("activity", flat=True)
    )


def test_an_upsert_of_a_new_source_creates_it_with_the_creates_defaults(tenant):
    response = put(tenant, {}, url=by_source_url(tenant.project.id, *REPLAY))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source_product"], body["source_type"], body["enabled"]) == (*REPLAY, True)
    assert body["config"] == {"sample_rate": 0.1}  # the source's default, as a create on this route
    assert response["ETag"] == '"1"'
    config = SignalSourceConfig.objects.get(project=tenant.project)
    assert config.created_by == tenant.user
    assert records(config.id) == ["created"]


def test_an_upsert_of_an_existing_source_changes_what_it_sends_and_keeps_the_rest(tenant):
    row = make_config(tenant.project, enabled=True, config={"steering": "keep"})

    response = put(tenant, {"enabled": False})

    assert response.status_code == 200, response.json()
    assert (response.json()["id"], response.json()["enabled"]) == (str(row.id), False)
    assert response.json()["config"] == {"steering": "keep"}
    assert response["ETag"] == '"2"'
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() == 1
    assert records(row.id) == ["updated"]


def test_config_is_replaced_whole_as_json_and_merged_as_a_merge_patch(tenant):
    row = make_config(tenant.project, config={"steering": "keep", "custom": {"a": 1, "b": 2}})

    merged = put(tenant, {"config": {"custom": {"a": None, "c": 3}}}, content_type=MERGE_PATCH)
    assert merged.status_code == 200, merged.json()
    assert merged.json()["config"] == {"steering": "keep", "custom": {"b": 2, "c": 3}}

    replaced = put(tenant, {"config": {"only": True}})
    assert replaced.json()["config"] == {"only": True}
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"only": True}


def test_a_merge_patch_that_creates_merges_into_nothing_then_the_defaults(tenant):
    url = by_source_url(tenant.project.id, *REPLAY)
    response = put(tenant, {"config": {"gone": None, "steering": "x"}}, url=url, content_type=MERGE_PATCH)
    assert response.status_code == 201, response.json()
    assert response.json()["config"] == {"steering": "x", "sample_rate": 0.1}


def test_an_upsert_that_changes_nothing_writes_nothing(tenant):
    row = make_config(tenant.project, enabled=False, config={"steering": "x", "n": 1})
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SignalSourceConfig.objects.filter(pk=row.pk).update(updated_at=an_hour_ago)
    before = tenant.client.get(by_source_url(tenant.project.id))
    state = database_state()

    for body, content_type in [
        ({"enabled": False, "config": {"n": 1, "steering": "x"}}, "application/json"),
        ({}, "application/json"),
        ({"config": {"n": 1}}, MERGE_PATCH),
    ]:
        response = put(tenant, body, content_type=content_type)
        assert (response.status_code, response["ETag"]) == (200, before["ETag"]), response.json()
        assert response.json() == before.json()
    assert database_state() == state
    assert records(row.id) == []


def test_one_not_the_same_json_value_is_a_change(tenant):
    # `1 == True` in Python; JSON tells them apart, and so does the no-op rule.
    make_config(tenant.project, config={"flag": 1})
    response = put(tenant, {"config": {"flag": True}})
    assert (response.status_code, response["ETag"], response.json()["config"]) == (200, '"2"', {"flag": True})


def test_if_none_match_star_creates_only(tenant):
    created = put(tenant, {"enabled": False}, HTTP_IF_NONE_MATCH="*")
    assert created.status_code == 201, created.json()
    state = database_state()

    again = put(tenant, {"enabled": True}, HTTP_IF_NONE_MATCH="*")

    assert_error(again, 412, "invalid_request", "precondition_failed")
    assert database_state() == state


def test_if_none_match_naming_the_current_etag_refuses_and_naming_others_writes(tenant):
    row = make_config(tenant.project)
    state = database_state()
    refused = put(tenant, {"enabled": False}, HTTP_IF_NONE_MATCH='"7", W/"1"')
    assert_error(refused, 412, "invalid_request", "precondition_failed")
    assert database_state() == state

    changed = put(tenant, {"enabled": False}, HTTP_IF_NONE_MATCH='"7", "8"')
    assert (changed.status_code, changed["ETag"]) == (200, '"2"')
    assert records(row.id) == ["updated"]


def test_if_match_writes_only_at_that_version_and_never_creates(tenant):
    assert_error(put(tenant, {}, HTTP_IF_MATCH='"1"'), 412, "invalid_request", "precondition_failed")
    assert_error(put(tenant, {}, HTTP_IF_MATCH="*"), 412, "invalid_request", "precondition_failed")
    assert not SignalSourceConfig.objects.exists()

    row = make_config(tenant.project)
    state = database_state()
    assert_error(put(tenant, {"enabled": False}, HTTP_IF_MATCH='"7"'), 412, code="precondition_failed")
    assert_error(put(tenant, {"enabled": False}, HTTP_IF_MATCH='W/"1"'), 412, code="precondition_failed")
    assert database_state() == state

    changed = put(tenant, {"enabled": False}, HTTP_IF_MATCH='"3", "1"')
    assert (changed.status_code, changed["ETag"]) == (200, '"2"')
    star = put(tenant, {"enabled": True}, HTTP_IF_MATCH="*")
    assert (star.status_code, star["ETag"]) == (200, '"3"')
    assert records(row.id) == ["updated", "updated"]


def test_the_catalogs_rules_apply_and_a_refusal_changes_nothing(tenant):
    make_config(tenant.project, *REPLAY)
    state = database_state()

    assert_error(
        put(tenant, {}, url=by_source_url(tenant.project.id, "github", "nonsense")),
        400,
        code="invalid_pair",
        attr="source_type",
    )
    assert_error(put(tenant, {}, url=by_source_url(tenant.project.id, "nonsense", "issue")), 400, attr="source_product")
    assert_error(
        put(tenant, {}, url=by_source_url(tenant.project.id, "llm_analytics", "evaluation")),
        400,
        code="invalid_choice",
        attr="source_type",
    )  # a retired type, refused on this route
    assert_error(
        put(tenant, {"config": {"sample_rate": 7}}, url=by_source_url(tenant.project.id, *REPLAY)), 400, attr="config"
    )
    assert_error(put(tenant, {"enabled": "perhaps"}), 400, attr="enabled")
    assert_error(put(tenant, {"config": []}), 400, attr="config")
    assert database_state() == state


def test_get_by_source_answers_the_config_with_its_etag_or_304_or_404(tenant):
    url = by_source_url(tenant.project.id)
    assert_error(tenant.client.get(url), 404, "invalid_request", "not_found")
    row = make_config(tenant.project)

    response = tenant.client.get(url)

    assert (response.status_code, response.json()["id"], response["ETag"]) == (200, str(row.id), '"1"')
    assert tenant.client.get(configs_url(tenant.project.id, row.id)).json() == response.json()
    cached = tenant.client.get(url, HTTP_IF_NONE_MATCH='"1"')
    assert (cached.status_code, cached.content, cached["ETag"]) == (304, b"", '"1"')


def test_delete_by_source_deletes_with_its_record_and_takes_if_match(tenant):
    url = by_source_url(tenant.project.id)
    assert_error(tenant.client.delete(url), 404, code="not_found")
    assert_error(tenant.client.delete(url, HTTP_IF_MATCH='"1"'), 412, code="precondition_failed")
    row = make_config(tenant.project)
    assert_error(tenant.client.delete(url, HTTP_IF_MATCH='"2"'), 412, code="precondition_failed")
    assert SignalSourceConfig.objects.filter(pk=row.pk).exists()

    assert tenant.client.delete(url, HTTP_IF_MATCH='"1"').status_code == 204

    assert not SignalSourceConfig.objects.filter(pk=row.pk).exists()
    assert records(row.id) == ["deleted"]


def test_another_projects_config_is_neither_read_nor_touched(tenant, other_tenant):
    theirs = make_config(other_tenant.project, enabled=True)
    state = database_state()

    for response in (
        tenant.client.get(by_source_url(other_tenant.project.id)),
        put(tenant, {"enabled": False}, url=by_source_url(other_tenant.project.id)),
        tenant.client.delete(by_source_url(other_tenant.project.id)),
    ):
        assert_error(response, 403, "authentication_error", "permission_denied")
    assert database_state() == state

    assert_error(tenant.client.get(by_source_url(tenant.project.id)), 404, code="not_found")
    mine = put(tenant, {"enabled": False})
    assert mine.status_code == 201
    assert mine.json()["id"] != str(theirs.id)
    assert SignalSourceConfig.objects.get(pk=theirs.pk).enabled is True


def test_a_read_key_reads_and_may_not_write(db):
    reader = Tenant(scopes=("task:read",))
    row = make_config(reader.project)
    assert reader.client.get(by_source_url(reader.project.id)).status_code == 200
    state = database_state()
    missing = "API key missing required scope 'task:write'"
    assert_error(put(reader, {"enabled": False}), 403, code="permission_denied", detail=missing)
    assert_error(reader.client.delete(by_source_url(reader.project.id)), 403, code="permission_denied", detail=missing)
    assert database_state() == state
    assert SignalSourceConfig.objects.get(pk=row.pk).version == 1


def test_the_published_route_has_no_by_source(tenant):
    make_config(tenant.project)
    for method in ("get", "put", "delete"):
        response = getattr(tenant.client, method)(by_source_url(tenant.project.id, route=PUBLISHED_ROUTE))
        assert response.status_code in (404, 405), (method, response.status_code)
    assert SignalSourceConfig.objects.get(project=tenant.project).version == 1


def test_a_merge_patch_put_on_the_id_route_is_still_a_415(tenant):
    row = make_config(tenant.project)
    url = configs_url(tenant.project.id, row.id, route=SIGNALS_ROUTE)
    body = json.dumps({"source_product": "github", "source_type": "issue", "enabled": False})
    assert tenant.client.generic("PUT", url, body, content_type=MERGE_PATCH).status_code == 415


# --- A write that changes nothing writes nothing, on every route and method --------------------------


@pytest.mark.parametrize("route", [PUBLISHED_ROUTE, SIGNALS_ROUTE])
def test_a_patch_with_the_stored_values_writes_nothing(tenant, route):
    row = make_config(tenant.project, enabled=False, config={"a": [1, {"b": None}]})
    url = configs_url(tenant.project.id, row.id, route=route)
    before = tenant.client.get(url)
    state = database_state()

    response = tenant.client.patch(url, {"enabled": False, "config": {"a": [1, {"b": None}]}}, format="json")
    merge = tenant.client.generic(
        "PATCH", url, json.dumps({"config": {"a": [1, {"b": None}]}}), content_type=MERGE_PATCH
    )

    for answer in (response, merge):
        assert (answer.status_code, answer["ETag"], answer.json()) == (200, before["ETag"], before.json())
    assert database_state() == state


def test_a_put_with_the_stored_values_writes_nothing(tenant):
    row = make_config(tenant.project, enabled=False, config={"steering": "x"})
    url = configs_url(tenant.project.id, row.id, route=SIGNALS_ROUTE)
    before = tenant.client.get(url)
    state = database_state()

    response = tenant.client.put(
        url,
        {"source_product": "github", "source_type": "issue", "enabled": False, "config": {"steering": "x"}},
        format="json",
    )

    assert (response.status_code, response["ETag"], response.json()) == (200, before["ETag"], before.json())
    assert database_state() == state


def test_a_status_set_to_the_stored_one_writes_nothing(tenant):
    row = make_config(tenant.project, status="running")
    services.set_status(row, "running")
    assert SignalSourceConfig.objects.get(pk=row.pk).version == 1
    assert records(row.id) == []


def test_an_upsert_that_loses_the_create_race_updates_the_winners_row(tenant):
    # As when a concurrent upsert inserts between this one's read and its insert (the read is
    # passed in: `existing=None`); tests/signalsource/test_concurrency.py races real requests.
    winner = make_config(tenant.project, enabled=True)

    config, outcome = services.upsert_config(
        project=tenant.project, source_product="github", source_type="issue", existing=None, enabled=False
    )

    assert (config.pk, outcome, config.version) == (winner.pk, services.UPDATED, 2)
    assert SignalSourceConfig.objects.get(project=tenant.project).enabled is False
    assert records(winner.id) == ["updated"]


def test_an_upsert_whose_row_is_deleted_under_it_creates_it_again(tenant):
    gone = make_config(tenant.project, enabled=True)
    stale = SignalSourceConfig.objects.get(pk=gone.pk)
    gone.delete()

    config, outcome = services.upsert_config(
        project=tenant.project, source_product="github", source_type="issue", existing=stale, enabled=False
    )

    assert (outcome, config.enabled) == (services.CREATED, False)
    assert config.pk != gone.pk
    assert SignalSourceConfig.objects.get(project=tenant.project).pk == config.pk


def test_the_upsert_service_by_default_fills_in_the_defaults_and_refuses_retired_types(tenant):
    # Today's route's rules, whichever caller forgets to ask for them; the create has its actor.
    with pytest.raises(services.ValidationError) as refused:
        services.upsert_config(project=tenant.project, source_product="llm_analytics", source_type="evaluation")
    assert refused.value.message_dict == {"source_type": ['"evaluation" is not a valid choice.']}

    config, outcome = services.upsert_config(
        project=tenant.project, source_product=REPLAY[0], source_type=REPLAY[1], actor=Actor.command("seed")
    )

    assert (outcome, SignalSourceConfig.objects.get(pk=config.pk).config) == (services.CREATED, {"sample_rate": 0.1})
    assert ActivityLog.objects.get(item_id=str(config.pk)).actor == "seed"


def test_an_if_match_checked_against_a_row_read_before_a_concurrent_write_writes_nothing(tenant):
    # As in a bulk, which reads its rows first: the version If-Match named is the one written at.
    row = make_config(tenant.project, enabled=True)
    read_before = SignalSourceConfig.objects.get(pk=row.pk)
    services.update_config(row, config={"steering": "theirs"})

    with pytest.raises(VersionMismatch):
        services.upsert_config(
            project=tenant.project,
            source_product="github",
            source_type="issue",
            existing=read_before,
            precondition=Precondition('"1"'),
            enabled=False,
        )

    stored = SignalSourceConfig.objects.get(pk=row.pk)
    assert (stored.enabled, stored.config, stored.version) == (True, {"steering": "theirs"}, 2)
    assert records(row.id) == ["updated"]
