"""ETag, If-Match and If-None-Match (RFC 9110) on every config route (issue 15).

The ETag is the config's version: it moves on every write (status included) and a conditional
write compares it in the same UPDATE/DELETE statement that writes. The two-clients race against a
live server is in test_races_live.py.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from activity_log.models import ActivityLog
from api.conditional import VersionMismatch
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import PUBLISHED_ROUTE, SIGNALS_ROUTE, assert_error, database_state, make_config

# Every route that serves configs: the published one and today's PostHog route.
ROUTES = [PUBLISHED_ROUTE, SIGNALS_ROUTE]
# The routes that take PUT (the published route answers it 405).
PUT_ROUTES = [SIGNALS_ROUTE]

pytestmark = pytest.mark.django_db

GITHUB = {"source_product": "github", "source_type": "issue"}


def written_state():
    """The configs, the keys and the activity log: equal before and after a request that wrote nothing
    (a 412 or a replay leaves no activity record either)."""
    return database_state(), list(ActivityLog.objects.order_by("id").values_list("id", flat=True))


def list_url(tenant, route):
    return f"/api/projects/{tenant.project.id}/{route}/"


def item_url(tenant, route, config_id):
    return f"{list_url(tenant, route)}{config_id}/"


@pytest.fixture(params=ROUTES)
def route(request):
    return request.param


@pytest.fixture
def row(tenant):
    return make_config(tenant.project, config={"steering": "first"})


def etag_of(tenant, route, row):
    response = tenant.client.get(item_url(tenant, route, row.id))
    assert response.status_code == 200
    return response["ETag"]


# --- ETag --------------------------------------------------------------------------------------------


def test_every_single_config_response_carries_a_strong_etag_that_moves_on_every_change(tenant, route):
    created = tenant.client.post(list_url(tenant, route), GITHUB, format="json")
    assert created.status_code == 201
    etag = created["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: no W/ prefix
    url = item_url(tenant, route, created.json()["id"])
    assert tenant.client.get(url)["ETag"] == etag
    assert tenant.client.head(url)["ETag"] == etag  # HEAD: the ETag of a listed item without its body

    patched = tenant.client.patch(url, {"enabled": False}, format="json")
    assert patched.status_code == 200
    assert patched["ETag"] != etag
    assert tenant.client.get(url)["ETag"] == patched["ETag"]
    # An edit that leaves every value as it was writes nothing: a colleague's If-Match still holds.
    again = tenant.client.patch(url, {"enabled": False}, format="json")
    assert (again.status_code, again["ETag"]) == (200, patched["ETag"])


def test_a_status_change_moves_the_etag_but_not_updated_at(tenant, route, row):
    before = tenant.client.get(item_url(tenant, route, row.id))
    services.set_status(SignalSourceConfig.objects.get(pk=row.pk), "running")
    after = tenant.client.get(item_url(tenant, route, row.id))
    assert after.json()["status"] == "running"
    assert after.json()["updated_at"] == before.json()["updated_at"]
    assert after["ETag"] != before["ETag"]


def test_a_list_has_no_etag_and_its_items_keep_posthogs_fields(tenant, route, row):
    response = tenant.client.get(list_url(tenant, route))
    assert not response.has_header("ETag")
    assert set(response.json()["results"][0]) == {
        "id",
        "source_product",
        "source_type",
        "enabled",
        "config",
        "created_at",
        "updated_at",
        "status",
    }


# --- If-None-Match on retrieve -------------------------------------------------------------------------


def test_if_none_match_with_the_current_etag_is_a_304_with_the_etag_and_no_body(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        response = tenant.client.get(url, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response["ETag"] == etag
        assert response.content == b""


def test_if_none_match_with_another_etag_is_a_full_200(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    tenant.client.patch(url, {"enabled": False}, format="json")
    response = tenant.client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response["ETag"] != etag


def test_if_none_match_answers_nothing_before_access_is_checked(tenant, other_tenant, route, row):
    etag = etag_of(tenant, route, row)
    assert_error(other_tenant.client.get(item_url(tenant, route, row.id), HTTP_IF_NONE_MATCH=etag), 403)
    assert_error(other_tenant.client.get(item_url(other_tenant, route, row.id), HTTP_IF_NONE_MATCH=etag), 404)


# --- If-Match on PATCH, PUT and DELETE ----------------------------------------------------------------


def test_patch_with_the_current_etag_writes_and_answers_the_new_etag(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    response = tenant.client.patch(url, {"config": {"steering": "second"}}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {"steering": "second"}
    assert response["ETag"] not in ("", etag)


def test_a_lost_update_is_prevented_with_a_412_and_nothing_changes(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    # Another editor writes first.
    assert tenant.client.patch(url, {"config": {"steering": "theirs"}}, format="json").status_code == 200
    before = written_state()

    response = tenant.client.patch(url, {"config": {"steering": "mine"}}, format="json", HTTP_IF_MATCH=etag)

    assert_error(response, 412, "invalid_request", "precondition_failed")
    assert written_state() == before
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"steering": "theirs"}


@pytest.mark.parametrize("header", ['W/"1"', "garbage", '"999"', ""])
def test_a_weak_malformed_or_unknown_if_match_never_matches(tenant, route, row, header):
    before = written_state()
    response = tenant.client.patch(
        item_url(tenant, route, row.id), {"enabled": False}, format="json", HTTP_IF_MATCH=header
    )
    assert_error(response, 412, "invalid_request", "precondition_failed")
    assert written_state() == before


def test_if_match_takes_a_list_of_etags(tenant, route, row):
    etag = etag_of(tenant, route, row)
    header = f'"999", {etag}'
    response = tenant.client.patch(
        item_url(tenant, route, row.id), {"enabled": False}, format="json", HTTP_IF_MATCH=header
    )
    assert response.status_code == 200


def test_if_match_star_matches_any_existing_config(tenant, route, row):
    tenant.client.patch(item_url(tenant, route, row.id), {"enabled": False}, format="json")
    response = tenant.client.patch(item_url(tenant, route, row.id), {"enabled": True}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 200
    assert response.json()["enabled"] is True


def test_a_412_comes_before_the_body_is_validated(tenant, route, row):
    response = tenant.client.patch(
        item_url(tenant, route, row.id), {"config": "not an object"}, format="json", HTTP_IF_MATCH='"999"'
    )
    assert_error(response, 412, code="precondition_failed")


def test_with_a_matching_if_match_the_body_is_still_validated(tenant, route, row):
    before = written_state()
    etag = etag_of(tenant, route, row)
    response = tenant.client.patch(
        item_url(tenant, route, row.id), {"config": "not an object"}, format="json", HTTP_IF_MATCH=etag
    )
    assert_error(response, 400, "validation_error", attr="config")
    assert written_state() == before


@pytest.mark.parametrize("header", ["*", 'W/"1"', '"999", "1"'])
def test_a_write_is_refused_when_if_none_match_names_the_current_version(tenant, route, row, header):
    before = written_state()
    url = item_url(tenant, route, row.id)
    detail = "The object exists at a version If-None-Match names; nothing was changed."
    for response in (
        tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_NONE_MATCH=header),
        tenant.client.delete(url, HTTP_IF_NONE_MATCH=header),
    ):
        assert_error(response, 412, "invalid_request", "precondition_failed")
        assert response.json()["detail"] == detail
    assert written_state() == before


def test_a_write_goes_through_when_if_none_match_names_other_versions(tenant, route, row):
    url = item_url(tenant, route, row.id)
    response = tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_NONE_MATCH='"999", W/"2"')
    assert (response.status_code, response["ETag"]) == (200, '"2"')


def test_a_412_comes_after_access_is_checked(tenant, other_tenant, route, row):
    before = written_state()
    url = item_url(tenant, route, row.id)
    assert_error(other_tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_MATCH='"999"'), 403)
    assert_error(other_tenant.client.delete(url, HTTP_IF_MATCH='"999"'), 403)
    assert written_state() == before


def test_delete_with_a_stale_etag_is_a_412_and_the_config_stays(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    tenant.client.patch(url, {"enabled": False}, format="json")

    before = written_state()
    assert_error(tenant.client.delete(url, HTTP_IF_MATCH=etag), 412, "invalid_request", "precondition_failed")
    assert written_state() == before

    response = tenant.client.delete(url, HTTP_IF_MATCH=tenant.client.get(url)["ETag"])
    assert response.status_code == 204
    assert not SignalSourceConfig.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_gone_config_is_a_412_for_an_etag_and_a_404_for_star(tenant, route, row, method):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    tenant.client.delete(url)

    def send(header):
        if method == "patch":
            return tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_MATCH=header)
        return tenant.client.delete(url, HTTP_IF_MATCH=header)

    assert_error(send(etag), 412, "invalid_request", "precondition_failed")
    # `*` asks only that the config exist: it does not, and a config that is not there is a 404.
    assert_error(send("*"), 404)


def test_another_projects_config_is_a_412_exactly_like_a_gone_one(tenant, other_tenant, route):
    theirs = make_config(other_tenant.project)
    before = written_state()
    response = tenant.client.patch(
        item_url(tenant, route, theirs.id), {"enabled": False}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert_error(response, 412, code="precondition_failed")
    assert written_state() == before


@pytest.mark.parametrize("put_route", PUT_ROUTES)
def test_put_takes_if_match_like_patch(tenant, row, put_route):
    url = item_url(tenant, put_route, row.id)
    etag = etag_of(tenant, put_route, row)
    body = {**GITHUB, "enabled": False, "config": {"steering": "put"}}

    response = tenant.client.put(url, body, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    assert response.json()["config"] == {"steering": "put"}
    assert response["ETag"] != etag

    before = written_state()
    assert_error(tenant.client.put(url, body, format="json", HTTP_IF_MATCH=etag), 412, code="precondition_failed")
    assert written_state() == before
    (record,) = activity_of(row)
    assert (record.activity, record.actor) == ("updated", tenant.api_key.mask)


@pytest.mark.parametrize("put_route", PUT_ROUTES)
def test_put_replaces_the_whole_config_so_a_field_it_needs_is_required(tenant, row, put_route):
    before = written_state()
    response = tenant.client.put(
        item_url(tenant, put_route, row.id), {"enabled": False}, format="json", HTTP_IF_MATCH="*"
    )
    assert_error(response, 400, "validation_error", attr="source_product")
    assert written_state() == before


def test_the_published_route_still_answers_put_405(tenant, row):
    response = tenant.client.put(item_url(tenant, PUBLISHED_ROUTE, row.id), GITHUB, format="json", HTTP_IF_MATCH="*")
    assert_error(response, 405)


# --- The activity log -----------------------------------------------------------------------------------


def activity_of(row):
    return list(ActivityLog.objects.filter(item_id=str(row.id)).order_by("created_at", "id"))


def test_conditional_writes_are_recorded_and_a_412_records_nothing(tenant, route, row):
    url = item_url(tenant, route, row.id)
    etag = etag_of(tenant, route, row)
    patched = tenant.client.patch(url, {"enabled": False}, format="json", HTTP_IF_MATCH=etag)
    assert patched.status_code == 200
    before = written_state()

    assert_error(tenant.client.patch(url, {"enabled": True}, format="json", HTTP_IF_MATCH=etag), 412)
    assert_error(tenant.client.delete(url, HTTP_IF_MATCH=etag), 412)
    assert written_state() == before

    assert tenant.client.delete(url, HTTP_IF_MATCH=patched["ETag"]).status_code == 204
    mask = tenant.api_key.mask
    assert [(r.activity, r.actor) for r in activity_of(row)] == [("updated", mask), ("deleted", mask)]
    assert activity_of(row)[0].detail["changes"][0]["field"] == "enabled"


# --- The services: compare and write in one statement ------------------------------------------------


def test_an_update_that_expected_a_version_fails_if_the_row_moved_after_it_was_read():
    # The interleaving a race can hit (read at version n, another write commits, write "if still n"),
    # made certain: the services' conditional UPDATE matches no row and nothing is written.
    from tests.helpers import make_project

    row = make_config(make_project(), config={"steering": "first"})
    mine = SignalSourceConfig.objects.get(pk=row.pk)
    services.update_config(SignalSourceConfig.objects.get(pk=row.pk), config={"steering": "theirs"})

    with pytest.raises(VersionMismatch):
        services.update_config(mine, expected_version=mine.version, config={"steering": "mine"})
    with pytest.raises(VersionMismatch):
        services.delete_config(mine, expected_version=mine.version)
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"steering": "theirs"}
    assert [r.activity for r in activity_of(row)] == ["updated"]  # theirs only


def test_an_unconditional_update_that_lost_a_race_still_writes_and_knows_its_version():
    from tests.helpers import make_project

    row = make_config(make_project())
    mine = SignalSourceConfig.objects.get(pk=row.pk)
    services.set_status(SignalSourceConfig.objects.get(pk=row.pk), "running")

    services.update_config(mine, enabled=False)

    stored = SignalSourceConfig.objects.get(pk=row.pk)
    assert (stored.enabled, stored.status) == (False, "running")  # the status written meanwhile survives
    assert mine.version == stored.version == 3
    # Each write recorded once; the retried one compared with the row it re-read, not the stale copy.
    status_changed, updated = activity_of(row)
    assert (status_changed.activity, updated.activity) == ("status_changed", "updated")
    assert [c["field"] for c in updated.detail["changes"]] == ["enabled"]


# --- Cost -------------------------------------------------------------------------------------------------


@override_settings(RATE_LIMITS_ENABLED=False)
def test_the_headers_cost_no_extra_query(tenant, route, row):
    url = item_url(tenant, route, row.id)
    tenant.client.get(url)  # records the key's first use, which writes once

    def count(call):
        with CaptureQueriesContext(connection) as captured:
            response = call()
        return response, len(captured.captured_queries)

    _, plain_get = count(lambda: tenant.client.get(url))
    etag = tenant.client.get(url)["ETag"]
    response, conditional_get = count(lambda: tenant.client.get(url, HTTP_IF_NONE_MATCH=etag))
    assert response.status_code == 304
    assert conditional_get == plain_get

    _, plain_patch = count(lambda: tenant.client.patch(url, {"enabled": False}, format="json"))
    etag = tenant.client.get(url)["ETag"]
    response, conditional_patch = count(
        lambda: tenant.client.patch(url, {"enabled": True}, format="json", HTTP_IF_MATCH=etag)
    )
    assert response.status_code == 200
    assert conditional_patch == plain_patch

    etag = response["ETag"]
    body = json.dumps({"config": {"steering": "merged"}})
    response, merge_patch = count(
        lambda: tenant.client.generic(
            "PATCH", url, body, content_type="application/merge-patch+json", HTTP_IF_MATCH=etag
        )
    )
    assert response.status_code == 200
    assert merge_patch == plain_patch

    if route in PUT_ROUTES:
        # Each PUT changes `enabled`, so each writes an activity record.
        _, plain_put = count(lambda: tenant.client.put(url, {**GITHUB, "enabled": False}, format="json"))
        etag = tenant.client.get(url)["ETag"]
        response, conditional_put = count(
            lambda: tenant.client.put(url, {**GITHUB, "enabled": True}, format="json", HTTP_IF_MATCH=etag)
        )
        assert response.status_code == 200
        assert conditional_put == plain_put

    # A 412 reads what a write reads and writes nothing.
    response, refused = count(lambda: tenant.client.patch(url, {"enabled": True}, format="json", HTTP_IF_MATCH='"0"'))
    assert response.status_code == 412
    assert refused < plain_patch

    other = make_config(tenant.project, "linear", "issue")
    _, plain_delete = count(lambda: tenant.client.delete(item_url(tenant, route, other.id)))
    etag = tenant.client.get(url)["ETag"]
    response, conditional_delete = count(lambda: tenant.client.delete(url, HTTP_IF_MATCH=etag))
    assert response.status_code == 204
    assert conditional_delete == plain_delete


def test_a_write_that_lands_between_the_check_and_the_update_is_a_412(tenant, route, row, monkeypatch):
    # The request's If-Match matches the row it read; another write commits before its UPDATE runs
    # (made certain here by doing it just before). The conditional UPDATE matches nothing: 412.
    real_update = services.update_config

    def update_after_another_write(instance, **kwargs):
        real_update(SignalSourceConfig.objects.get(pk=instance.pk), config={"steering": "theirs"})
        return real_update(instance, **kwargs)

    monkeypatch.setattr(services, "update_config", update_after_another_write)
    url = item_url(tenant, route, row.id)
    response = tenant.client.patch(
        url, {"config": {"steering": "mine"}}, format="json", HTTP_IF_MATCH=etag_of(tenant, route, row)
    )

    assert_error(response, 412, "invalid_request", "precondition_failed")
    assert SignalSourceConfig.objects.get(pk=row.pk).config == {"steering": "theirs"}


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_an_id_that_is_not_a_uuid_is_a_404_whatever_the_if_match(tenant, route, method):
    url = item_url(tenant, route, "not-a-uuid")
    response = getattr(tenant.client, method)(url, {"enabled": False}, format="json", HTTP_IF_MATCH='"1"')
    assert_error(response, 404)
