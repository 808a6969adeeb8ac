"""The activity log's routes (issue 16): the project log and one config's history, with the same
tenancy and error rules as every route."""

import pytest

from activity_log.models import ActivityLog
from tests.helpers import Tenant, assert_error, configs_url, key_client, make_config, make_key, make_user

pytestmark = pytest.mark.django_db

SCOPES = ("task:read", "task:write", "activity_log:read")
UNKNOWN_CONFIG_ID = "0190b0b4-0000-7000-8000-000000000000"


def log_url(project_id):
    return f"/api/projects/{project_id}/activity_log/"


def activity_url(project_id, config_id):
    return f"{configs_url(project_id, config_id)}activity/"


@pytest.fixture
def tenant(db):
    return Tenant(scopes=SCOPES)


@pytest.fixture
def other_tenant(db):
    return Tenant(scopes=SCOPES)


def create(tenant, product="github", source_type="issue", **fields):
    response = tenant.client.post(
        tenant.url, {"source_product": product, "source_type": source_type, **fields}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


# --- The project log ------------------------------------------------------------------------------------


def test_the_project_log_lists_records_newest_first_in_posthogs_shape(tenant):
    config_id = create(tenant, config={"steering": "a"})
    tenant.client.patch(configs_url(tenant.project.id, config_id), {"config": {"steering": "b"}}, format="json")

    response = tenant.client.get(log_url(tenant.project.id))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"next", "previous", "results"}  # cursor pagination: no count
    updated, created = body["results"]
    assert [updated["activity"], created["activity"]] == ["updated", "created"]
    assert set(updated) == {
        "id",
        "user",
        "unread",
        "organization_id",
        "was_impersonated",
        "is_system",
        "activity",
        "item_id",
        "scope",
        "detail",
        "created_at",
        "actor",
        "request_id",
    }
    assert updated["user"] == {
        "id": tenant.user.id,
        "uuid": None,
        "distinct_id": None,
        "first_name": "",
        "last_name": "",
        "email": tenant.user.email,
        "is_email_verified": None,
        "hedgehog_config": None,
        "role_at_organization": None,
    }
    assert (updated["item_id"], updated["scope"], updated["organization_id"]) == (
        config_id,
        "SignalSourceConfig",
        tenant.organization.id,
    )
    assert (updated["unread"], updated["is_system"], updated["was_impersonated"]) == (False, False, False)
    assert updated["actor"] == tenant.api_key.mask
    assert updated["detail"] == {
        "name": "github/issue",
        "short_id": None,
        "type": None,
        "changes": [
            {"type": "SignalSourceConfig", "action": "changed", "field": "config.steering", "before": "a", "after": "b"}
        ],
        "trigger": None,
        "context": {"source_product": "github", "source_type": "issue"},
    }
    assert updated["created_at"].endswith("Z")


def test_the_project_log_pages_by_cursor_or_by_page_number(tenant):
    for product, source_type in [("github", "issue"), ("linear", "issue"), ("zendesk", "ticket")]:
        create(tenant, product, source_type)
    url = log_url(tenant.project.id)

    first = tenant.client.get(url, {"page_size": 2}).json()  # page_size is for page numbers only
    assert len(first["results"]) == 3 and first["next"] is None

    by_page = tenant.client.get(url, {"page": 1, "page_size": 2}).json()
    assert by_page["count"] == 3
    assert [r["detail"]["name"] for r in by_page["results"]] == ["zendesk/ticket", "linear/issue"]
    second = tenant.client.get(by_page["next"]).json()
    assert [r["detail"]["name"] for r in second["results"]] == ["github/issue"]
    assert second["next"] is None and second["previous"].startswith("http://testserver/")

    assert_error(tenant.client.get(url, {"page": 9}), 404, "invalid_request", "not_found")
    assert_error(tenant.client.get(url, {"cursor": "garbage"}), 404, "invalid_request", "not_found")


def test_the_cursor_walks_every_record_once(tenant, settings):
    from activity_log import pagination

    pagination._CursorPagination.page_size = 2
    try:
        for product, source_type in [("github", "issue"), ("linear", "issue"), ("zendesk", "ticket")]:
            create(tenant, product, source_type)
        page = tenant.client.get(log_url(tenant.project.id)).json()
        seen = [r["id"] for r in page["results"]]
        page = tenant.client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
        assert page["next"] is None
    finally:
        pagination._CursorPagination.page_size = 100
    assert seen == [str(r.id) for r in ActivityLog.objects.order_by("-created_at", "-id")]


def test_the_project_log_filters_by_scope_item_id_and_user(tenant):
    github = create(tenant)
    linear = create(tenant, "linear", "issue")
    url = log_url(tenant.project.id)

    def ids(**params):
        response = tenant.client.get(url, params)
        assert response.status_code == 200, response.json()
        return [r["item_id"] for r in response.json()["results"]]

    assert ids(item_id=github) == [github]
    assert ids(scope="SignalSourceConfig") == [linear, github]
    assert ids(scopes="Other,SignalSourceConfig") == [linear, github]
    assert ids(scope="FeatureFlag") == []
    assert ids(user=tenant.user.id, activity="created") == [linear, github]
    assert ids(user=tenant.user.id + 1000) == []
    assert_error(tenant.client.get(url, {"user": "me"}), 400, "validation_error", attr="user")
    for beyond_any_id in ("99999999999999999999999999", "-99999999999999999999", "0"):
        assert_error(tenant.client.get(url, {"user": beyond_any_id}), 400, "validation_error", attr="user")


def test_the_project_log_shows_only_its_projects_records(tenant, other_tenant):
    mine = create(tenant)
    create(other_tenant)
    results = tenant.client.get(log_url(tenant.project.id)).json()["results"]
    assert [r["item_id"] for r in results] == [mine]
    # Another project's log: the key's user is not a member there.
    assert_error(
        tenant.client.get(log_url(other_tenant.project.id)),
        403,
        detail="You don't have access to the project.",
    )
    assert_error(tenant.client.get(log_url(987654321)), 404, detail="Project not found.")


def test_the_project_log_needs_activity_log_read(tenant):
    create(tenant)
    _, task_only = make_key(tenant.user, ["task:read", "task:write"])
    assert_error(
        key_client(task_only).get(log_url(tenant.project.id)),
        403,
        "authentication_error",
        "permission_denied",
        "API key missing required scope 'activity_log:read'",
    )
    for scopes in (["activity_log:read"], ["activity_log:write"], ["*"]):
        _, raw = make_key(tenant.user, scopes)
        assert key_client(raw).get(log_url(tenant.project.id)).status_code == 200, scopes
    assert_error(key_client().get(log_url(tenant.project.id)), 401, code="not_authenticated")


def test_records_cannot_be_written_through_the_api(tenant):
    create(tenant)
    url = log_url(tenant.project.id)
    record = ActivityLog.objects.get()
    for response in (
        tenant.client.post(url, {"activity": "created"}, format="json"),
        tenant.client.put(url, {}, format="json"),
        tenant.client.delete(url),
        tenant.client.delete(f"{url}{record.id}/"),
        tenant.client.patch(f"{url}{record.id}/", {"activity": "x"}, format="json"),
    ):
        assert response.status_code in (404, 405), response.content
    assert ActivityLog.objects.get() == record and record.activity == "created"


# --- One config's history ------------------------------------------------------------------------------


def test_a_configs_activity_in_posthogs_item_shape_also_after_deletion(tenant):
    config_id = create(tenant, config={"steering": "a"})
    detail = configs_url(tenant.project.id, config_id)
    tenant.client.patch(detail, {"enabled": False}, format="json")
    create(tenant, "linear", "issue")  # another config's records stay out
    url = activity_url(tenant.project.id, config_id)

    body = tenant.client.get(url).json()
    assert set(body) == {"results", "next", "previous", "total_count"}
    assert [r["activity"] for r in body["results"]] == ["updated", "created"]
    assert (body["total_count"], body["next"], body["previous"]) == (2, None, None)

    assert tenant.client.delete(detail).status_code == 204
    assert tenant.client.get(detail).status_code == 404
    response = tenant.client.get(url.rstrip("/"))  # trailing slash optional
    assert response.status_code == 200, response.json()
    deleted = response.json()["results"][0]
    assert (deleted["activity"], deleted["item_id"]) == ("deleted", config_id)
    assert {"field": "config.steering", "action": "deleted", "before": "a"}.items() <= deleted["detail"]["changes"][
        -1
    ].items()


def test_a_configs_activity_pages_by_limit_and_page(tenant):
    config_id = create(tenant)
    detail = configs_url(tenant.project.id, config_id)
    for steering in "abcd":
        tenant.client.patch(detail, {"config": {"steering": steering}}, format="json")
    url = activity_url(tenant.project.id, config_id)

    first = tenant.client.get(url, {"limit": 2}).json()
    assert first["total_count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"] == f"http://testserver{url}?limit=2&page=2"
    last = tenant.client.get(url, {"limit": 2, "page": 3}).json()
    assert [r["activity"] for r in last["results"]] == ["created"]
    assert last["next"] is None and "page=2" in last["previous"]
    # Bad values fall back to the defaults (limit 10, page 1); a page past the end is empty.
    assert len(tenant.client.get(url, {"limit": "x", "page": "-1"}).json()["results"]) == 5
    assert tenant.client.get(url, {"page": 50}).json()["results"] == []
    # A page number far past anything the database could offset to is empty too, not a 500.
    huge = tenant.client.get(url, {"page": 2574461622377627254784})
    assert huge.status_code == 200, huge.content
    assert huge.json()["results"] == []


def test_a_config_without_records_has_an_empty_history(tenant):
    config = make_config(tenant.project)  # written outside the services
    body = tenant.client.get(activity_url(tenant.project.id, config.id)).json()
    assert body == {"results": [], "next": None, "previous": None, "total_count": 0}


def test_a_configs_activity_is_404_for_unknown_malformed_and_other_projects_ids(tenant, other_tenant):
    theirs = create(other_tenant)
    other_tenant.client.delete(configs_url(other_tenant.project.id, theirs))
    for config_id in (UNKNOWN_CONFIG_ID, "not-a-uuid", theirs):
        assert_error(tenant.client.get(activity_url(tenant.project.id, config_id)), 404, "invalid_request", "not_found")
    assert_error(
        tenant.client.get(activity_url(other_tenant.project.id, theirs)),
        403,
        detail="You don't have access to the project.",
    )


def test_a_configs_activity_needs_task_read(tenant):
    config_id = create(tenant)
    _, log_only = make_key(tenant.user, ["activity_log:read"])
    assert_error(
        key_client(log_only).get(activity_url(tenant.project.id, config_id)),
        403,
        detail="API key missing required scope 'task:read'",
    )
    _, read_only = make_key(tenant.user, ["task:read"])
    assert key_client(read_only).get(activity_url(tenant.project.id, config_id)).status_code == 200
    stranger = key_client(make_key(make_user(), ["*"])[1])
    assert_error(stranger.get(activity_url(tenant.project.id, config_id)), 403)
