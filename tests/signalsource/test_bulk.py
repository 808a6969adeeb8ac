"""`POST .../signals/source_configs/bulk/` (issue 28): upserts of several sources, atomic or not, with
a result per operation; the admin's enable/disable through the same service."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from activity_log.models import ActivityLog
from api.models import IdempotencyRecord
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.api.test_rate_limits import NO_REDIS, _redis_is_up, redis_cache_settings
from tests.helpers import Tenant, admin_url, assert_error, database_state, make_config

pytestmark = pytest.mark.django_db


class _AnyText(str):
    def __eq__(self, other):
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()

GITHUB = {"source_product": "github", "source_type": "issue"}
LINEAR = {"source_product": "linear", "source_type": "issue"}
ZENDESK = {"source_product": "zendesk", "source_type": "ticket"}
REPLAY = {"source_product": "session_replay", "source_type": "session_analysis_cluster"}


def bulk_url(project_id):
    return f"/api/projects/{project_id}/signals/source_configs/bulk/"


def post(tenant, body, project_id=None, **headers):
    return tenant.client.post(bulk_url(project_id or tenant.project.id), body, format="json", **headers)


def activity_of(config_id) -> list[str]:
    return list(ActivityLog.objects.filter(item_id=str(config_id)).values_list("activity", flat=True))


def test_a_bulk_creates_changes_and_leaves_alone_with_a_result_per_operation(tenant):
    changed = make_config(tenant.project, enabled=True, config={"keep": 1, "drop": 2})
    unchanged = make_config(tenant.project, "linear", "issue", enabled=False)
    operations = [
        {**REPLAY},
        {**GITHUB, "enabled": False, "config": {"drop": None, "new": 3}},
        {**LINEAR, "enabled": False},
    ]

    response = post(tenant, {"operations": operations})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["atomic"] is True
    created, updated, untouched = body["results"]
    assert (created["status"], created["etag"], created["error"]) == (201, '"1"', None)
    assert created["config"]["config"] == {"sample_rate": 0.1}  # the create's defaults
    assert (updated["status"], updated["etag"]) == (200, '"2"')
    assert updated["config"]["config"] == {"keep": 1, "new": 3}  # merged
    assert (untouched["status"], untouched["etag"], untouched["config"]["id"]) == (304, '"1"', str(unchanged.id))
    assert [(r["source_product"], r["source_type"]) for r in body["results"]] == [
        tuple(op[k] for k in ("source_product", "source_type")) for op in operations
    ]
    assert activity_of(changed.id) == ["updated"]
    assert activity_of(created["config"]["id"]) == ["created"]
    assert activity_of(unchanged.id) == []
    assert SignalSourceConfig.objects.get(pk=unchanged.pk).version == 1


def test_an_atomic_bulk_with_one_bad_operation_writes_nothing_and_answers_every_operation(tenant):
    make_config(tenant.project, enabled=True)
    state, records = database_state(), ActivityLog.objects.count()

    response = post(
        tenant,
        {"operations": [{**LINEAR}, {**GITHUB, "enabled": False}, {**REPLAY, "config": {"sample_rate": 7}}]},
    )

    assert response.status_code == 400, response.json()
    body = response.json()
    assert (body["type"], body["code"], body["attr"]) == ("validation_error", "bulk_refused", "operations")
    assert "1 of 3" in body["detail"]
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [424, 424, 400]
    assert body["results"][0]["error"]["code"] == "not_applied"
    assert body["results"][2]["error"]["attr"] == "config"
    assert all(r["config"] is None and r["etag"] is None for r in body["results"])
    assert database_state() == state
    assert ActivityLog.objects.count() == records


def test_a_bulk_that_is_not_atomic_applies_the_good_operations(tenant):
    response = post(
        tenant,
        {"atomic": False, "operations": [{**LINEAR}, {"source_product": "github", "source_type": "nope"}, {**ZENDESK}]},
    )

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    assert (results[1]["error"]["code"], results[1]["error"]["attr"]) == ("invalid_pair", "source_type")
    assert set(SignalSourceConfig.objects.values_list("source_product", flat=True)) == {"linear", "zendesk"}


def test_if_match_per_operation(tenant):
    github = make_config(tenant.project)
    linear = make_config(tenant.project, "linear", "issue")
    state = database_state()

    refused = post(
        tenant,
        {
            "operations": [
                {**GITHUB, "enabled": False, "if_match": '"1"'},
                {**LINEAR, "enabled": False, "if_match": '"9"'},
            ]
        },
    )
    assert [r["status"] for r in refused.json()["results"]] == [424, 412]
    assert refused.json()["results"][1]["error"]["code"] == "precondition_failed"
    assert database_state() == state

    applied = post(
        tenant,
        {
            "atomic": False,
            "operations": [
                {**GITHUB, "enabled": False, "if_match": '"1"'},
                {**LINEAR, "enabled": False, "if_match": '"9"'},
                {**ZENDESK, "if_match": "*"},  # no such config: If-Match never creates
            ],
        },
    )
    assert [r["status"] for r in applied.json()["results"]] == [200, 412, 412]
    assert SignalSourceConfig.objects.get(pk=github.pk).enabled is False
    assert SignalSourceConfig.objects.get(pk=linear.pk).enabled is True
    assert not SignalSourceConfig.objects.filter(source_product="zendesk").exists()


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({"operations": [GITHUB, LINEAR, GITHUB]}, "duplicate_source", "operations"),
        ({"atomic": False, "operations": [GITHUB, GITHUB]}, "duplicate_source", "operations"),
        ({"operations": []}, "min_length", "operations__non_field_errors"),
        (
            {"operations": [{**LINEAR, "source_type": f"t{i}"} for i in range(101)]},
            "max_length",
            "operations__non_field_errors",
        ),
        ({"operations": [{**GITHUB, "enabled": "perhaps"}]}, "invalid_input", "operations__0__enabled"),
        ({"operations": [{"source_product": "github"}]}, "required", "operations__0__source_type"),
        ({}, "required", "operations"),
        ({"operations": "all of them"}, "not_a_list", "operations__non_field_errors"),
    ],
)
def test_a_malformed_bulk_is_a_400_for_the_request_and_writes_nothing(tenant, body, code, attr):
    state = database_state()
    response = post(tenant, body)
    assert response.status_code == 400, response.json()
    # The flat error, and `results` null: the request itself is refused, not an operation.
    assert response.json() == {
        "type": "validation_error",
        "code": code,
        "detail": ANY_TEXT,
        "attr": attr,
        "results": None,
    }
    assert database_state() == state


def test_the_same_pair_twice_is_refused_by_the_service_too(tenant):
    with pytest.raises(services.ValidationError) as refused:
        services.apply_bulk(project=tenant.project, operations=[{**GITHUB}, {**GITHUB, "enabled": False}])
    assert refused.value.message_dict == {
        "operations": ["Operations 0 and 1 both name github/issue; name each source once."]
    }
    assert not SignalSourceConfig.objects.exists()


def test_the_bulk_service_is_atomic_unless_told_and_takes_1_to_100_operations(tenant):
    with pytest.raises(services.BulkRefused) as refused:
        services.apply_bulk(project=tenant.project, operations=[{**GITHUB}, {**LINEAR, "enabled": "perhaps"}])
    assert str(refused.value) == "1 of 2 operations refused"
    assert refused.value.results[1].message_dict == {"enabled": ["Must be a valid boolean."]}
    assert not SignalSourceConfig.objects.exists()

    for count in (0, 101):
        with pytest.raises(ValidationError) as wrong_length:
            services.apply_bulk(
                project=tenant.project, operations=[{**LINEAR, "source_type": f"t{i}"} for i in range(count)]
            )
        [(field, [detail])] = wrong_length.value.error_dict.items()
        assert (field, detail.code, detail.message) == ("operations", "invalid_length", "Send 1 to 100 operations.")
    hundred = [{**LINEAR, "source_type": f"t{i}"} for i in range(100)]
    results = services.apply_bulk(project=tenant.project, operations=hundred, atomic=False)
    assert [type(result) for result in results] == [ValidationError] * 100  # no such types, each refused alone


def test_a_bulk_reads_its_configs_in_one_query(tenant):
    for source in (GITHUB, LINEAR, ZENDESK):
        make_config(tenant.project, **source)
    table = SignalSourceConfig._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        results = services.apply_bulk(project=tenant.project, operations=[{**GITHUB}, {**LINEAR}, {**ZENDESK}])

    assert [outcome for _, outcome in results] == [services.UNCHANGED] * 3
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT") and table in q["sql"]]
    assert len(reads) == 1, reads


def test_an_idempotency_key_replays_the_bulk_and_writes_nothing_more(tenant):
    body = {"operations": [{**GITHUB, "enabled": False}, {**LINEAR}]}
    first = post(tenant, body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert first.status_code == 200, first.json()
    make_config(tenant.project, "zendesk", "ticket")
    state, records = database_state(), ActivityLog.objects.count()

    again = post(tenant, body, HTTP_IDEMPOTENCY_KEY="bulk-1")

    assert (again.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == first.json()
    assert database_state() == state
    assert ActivityLog.objects.count() == records
    other = post(tenant, {"operations": [GITHUB]}, HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert_error(other, 422, code="idempotency_key_reused")
    assert IdempotencyRecord.objects.count() == 1


def test_tenancy_and_scopes(tenant, other_tenant):
    theirs = make_config(other_tenant.project, enabled=True)
    reader = Tenant(scopes=("task:read",))
    state = database_state()
    assert_error(post(tenant, {"operations": [{**GITHUB, "enabled": False}]}, other_tenant.project.id), 403)
    refused = post(reader, {"operations": [GITHUB]})
    assert_error(refused, 403, code="permission_denied", detail="API key missing required scope 'task:write'")
    assert database_state() == state

    mine = post(tenant, {"operations": [{**GITHUB, "enabled": False}]})
    assert mine.json()["results"][0]["status"] == 201
    assert SignalSourceConfig.objects.get(pk=theirs.pk).enabled is True


def rate_limited_cases():
    yield pytest.param(NO_REDIS, id="database")
    if _redis_is_up():
        yield pytest.param(redis_cache_settings()[0], id="redis")


@pytest.mark.parametrize("caches", list(rate_limited_cases()))
def test_rate_limits_count_each_operation(tenant, caches):
    five = [{**LINEAR}, {**GITHUB}, {**ZENDESK}, {**REPLAY}, {"source_product": "jira", "source_type": "issue"}]
    with override_settings(CACHES=caches, RATE_LIMIT_BURST="8/minute", RATE_LIMIT_SUSTAINED="off"):
        assert post(tenant, {"operations": five}).status_code == 200  # 5 of 8
        # 10 > 8: refused, its operations not counted; the request itself was, when it arrived (6 of 8).
        refused = post(tenant, {"operations": five})
        assert_error(refused, 429, "throttled_error", "throttled")
        assert 1 <= int(refused["Retry-After"]) <= 60  # until the oldest counted request leaves the minute
        assert post(tenant, {"operations": five[:2]}).status_code == 200  # 8 of 8
        assert_error(tenant.client.get(tenant.url), 429, "throttled_error", "throttled")
    assert SignalSourceConfig.objects.count() == 5


def test_admin_enable_and_disable_go_through_the_bulk_service(
    admin_client, tenant, other_tenant, fast_password_hashing
):
    on = make_config(tenant.project, enabled=True)
    off = make_config(other_tenant.project, "zendesk", "ticket", enabled=False)
    changelist = admin_url("signalsource_signalsourceconfig_changelist")

    response = admin_client.post(changelist, {"action": "enable", "_selected_action": [on.pk, off.pk]}, follow=True)

    assert "Enabled 1 signal source config(s)." in response.text
    assert (SignalSourceConfig.objects.get(pk=on.pk).version, SignalSourceConfig.objects.get(pk=off.pk).version) == (
        1,
        2,
    )
    record = ActivityLog.objects.get(item_id=str(off.id))
    assert (record.activity, record.user is not None) == ("updated", True)
    assert activity_of(on.id) == []


def test_a_bulk_body_is_json_only(tenant):
    response = tenant.client.post(
        bulk_url(tenant.project.id), json.dumps({"operations": [GITHUB]}), content_type="text/plain"
    )
    assert_error(response, 415, code="unsupported_media_type")
