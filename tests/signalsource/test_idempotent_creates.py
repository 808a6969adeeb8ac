"""`Idempotency-Key` on create (issue 15): a retried create is answered, not repeated. The
concurrent duplicate against a live server is in test_races_live.py."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.exceptions import Throttled

from activity_log.models import ActivityLog
from api.idempotency import ABANDONED_AFTER, TTL
from api.models import IdempotencyRecord
from signalsource import services
from signalsource.models import SignalSourceConfig
from tests.helpers import RecordingRouter, assert_error, key_client, make_config, make_key, make_project, run

from .test_conditional_requests import ROUTES, list_url, written_state

pytestmark = pytest.mark.django_db

GITHUB = {"source_product": "github", "source_type": "issue", "config": {"steering": "s"}}
KEY = "3f0e4c2a-8d1b-4a57-9c6e-1b2d3e4f5a6b"


@pytest.fixture(params=ROUTES)
def route(request):
    return request.param


def create(tenant, route, body=GITHUB, key=KEY, client=None, **extra):
    return (client or tenant.client).post(
        list_url(tenant, route), body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra
    )


def create_from_form(tenant, form, key=KEY):
    return tenant.client.post(
        list_url(tenant, ROUTES[0]), form, content_type="application/x-www-form-urlencoded", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_retried_create_gets_the_first_answer_again_and_writes_nothing(tenant, route):
    first = create(tenant, route)
    assert first.status_code == 201, first.json()
    assert not first.has_header("Idempotent-Replayed")
    state = written_state()

    again = create(tenant, route)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert written_state() == state
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() == 1
    (record,) = ActivityLog.objects.all()  # the first create's; the replay recorded nothing
    assert (record.activity, record.item_id) == ("created", first.json()["id"])


def test_the_same_body_in_another_spelling_is_the_same_request(tenant, route):
    assert create(tenant, route).status_code == 201
    respelled = '{ "config": {"steering": "s"},\n  "source_type": "issue", "source_product": "github" }'
    again = tenant.client.generic(
        "POST", list_url(tenant, route), respelled, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_a_422_and_writes_nothing(tenant, route):
    assert create(tenant, route).status_code == 201
    state = written_state()
    other = {"source_product": "linear", "source_type": "issue"}
    assert_error(create(tenant, route, other), 422, "invalid_request", "idempotency_key_reused")
    assert written_state() == state


def test_the_same_key_in_another_project_is_another_request(tenant):
    assert create(tenant, ROUTES[0]).status_code == 201
    # Same API key, same body, another project of the user: not a replay of the first.
    project = make_project(tenant.organization)
    response = tenant.client.post(
        f"/api/projects/{project.id}/{ROUTES[0]}/", GITHUB, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert_error(response, 422, code="idempotency_key_reused")


def test_keys_are_scoped_to_the_api_key(tenant, route):
    assert create(tenant, route).status_code == 201
    _, other_raw = make_key(tenant.user)
    # Another key of the same user: its own key space, so this is a new create (a duplicate source).
    response = create(tenant, route, client=key_client(other_raw))
    assert_error(response, 400, attr="source_product")
    assert not response.has_header("Idempotent-Replayed")


def test_two_api_keys_using_the_same_idempotency_key_each_get_their_own_response(tenant, other_tenant):
    mine, theirs = create(tenant, ROUTES[0]), create(other_tenant, ROUTES[0])
    assert (mine.status_code, theirs.status_code) == (201, 201)

    for owner, first in ((tenant, mine), (other_tenant, theirs)):
        again = create(owner, ROUTES[0])
        assert again.status_code == 201, again.json()
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()


def test_each_idempotency_key_of_an_api_key_replays_its_own_response(tenant):
    linear = {"source_product": "linear", "source_type": "issue"}
    assert create(tenant, ROUTES[0], key="first").status_code == 201
    second = create(tenant, ROUTES[0], linear, key="second")
    assert second.status_code == 201

    again = create(tenant, ROUTES[0], linear, key="second")

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == second.json()


REFUSED = {"source_product": "nope", "source_type": "issue"}


def test_a_refused_body_sent_again_as_a_form_or_with_its_keys_reordered_is_the_same_request(tenant):
    first = create(tenant, ROUTES[0], REFUSED)
    assert_error(first, 400, attr="source_product")

    as_form = create_from_form(tenant, "source_type=issue&source_product=nope")
    reordered = tenant.client.generic(
        "POST",
        list_url(tenant, ROUTES[0]),
        '{"source_type": "issue", "source_product": "nope"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )

    for again in (as_form, reordered):
        assert again.status_code == 400, again.json()
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()


def test_refused_bodies_that_differ_are_different_requests(tenant):
    assert_error(create(tenant, ROUTES[0], REFUSED, key="json"), 400, attr="source_product")
    other = create(tenant, ROUTES[0], {**REFUSED, "source_product": "nada"}, key="json")
    assert_error(other, 422, "invalid_request", "idempotency_key_reused")

    # A form field sent twice is not the same as that field sent once.
    assert_error(
        create_from_form(tenant, "source_product=nope&source_type=issue", key="form"), 400, attr="source_product"
    )
    twice = create_from_form(tenant, "source_product=nope&source_product=nada&source_type=issue", key="form")
    assert_error(twice, 422, "invalid_request", "idempotency_key_reused")


def test_a_refused_multipart_body_with_a_file_part_is_replayed_like_any_refusal(tenant):
    """The file has no JSON form: the fingerprint takes its name (`default=str`)."""
    fields = {**REFUSED, "attachment": SimpleUploadedFile("a.txt", b"hello")}
    url = list_url(tenant, ROUTES[0])
    first = tenant.client.post(url, fields, format="multipart", HTTP_IDEMPOTENCY_KEY=KEY)
    fields["attachment"].seek(0)
    again = tenant.client.post(url, fields, format="multipart", HTTP_IDEMPOTENCY_KEY=KEY)

    assert_error(first, 400, "validation_error", attr="source_product")
    assert again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_the_claims_hand_written_insert_asks_the_routers_like_the_orm(tenant, settings):
    settings.DATABASE_ROUTERS = ["tests.helpers.RecordingRouter"]
    RecordingRouter.asked = []
    assert create(tenant, ROUTES[0]).status_code == 201
    RecordingRouter.asked.clear()

    # A replay: the claim's INSERT (which inserts nothing) is its only write.
    assert create(tenant, ROUTES[0])["Idempotent-Replayed"] == "true"

    assert ("write", "IdempotencyRecord") in RecordingRouter.asked


def test_a_400_is_stored_and_replayed_even_after_its_cause_is_gone(tenant, route):
    existing = make_config(tenant.project)
    first = create(tenant, route)
    assert_error(first, 400, attr="source_product")
    existing.delete()

    again = create(tenant, route)

    assert again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert not SignalSourceConfig.objects.filter(project=tenant.project).exists()


def test_a_5xx_is_not_stored_so_the_retry_runs(tenant, route, monkeypatch):
    real_create = services.create_config

    def failing_create(**kwargs):
        raise RuntimeError("the processing failed")

    monkeypatch.setattr(services, "create_config", failing_create)
    assert_error(create(tenant, route), 500, "server_error")
    assert not IdempotencyRecord.objects.exists()

    monkeypatch.setattr(services, "create_config", real_create)
    retried = create(tenant, route)
    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")


def test_a_429_from_the_rate_limit_never_reaches_the_key(tenant, route):
    limits = {"RATE_LIMITS_ENABLED": True, "RATE_LIMIT_BURST": "1/minute", "RATE_LIMIT_SUSTAINED": "1000/hour"}
    with override_settings(**limits):
        tenant.client.get(list_url(tenant, route))
        assert_error(create(tenant, route), 429)
    assert not IdempotencyRecord.objects.exists()


def test_a_429_answered_by_the_create_is_not_stored_so_the_retry_runs(tenant, route, monkeypatch):
    # A 429 that reaches the key (one raised while the create runs, not by the rate limit, which
    # answers before the view): the client is told to come back later, so its retry must run, not replay.
    real_create = services.create_config

    def throttled_create(**kwargs):
        raise Throttled(wait=1)

    monkeypatch.setattr(services, "create_config", throttled_create)
    assert_error(create(tenant, route), 429)
    assert not IdempotencyRecord.objects.exists()

    monkeypatch.setattr(services, "create_config", real_create)
    retried = create(tenant, route)
    assert retried.status_code == 201, retried.json()
    assert not retried.has_header("Idempotent-Replayed")


def test_a_repeat_while_the_first_is_in_flight_is_a_409(tenant, route):
    # The first request's claim, as it stands while that request is being processed.
    assert create(tenant, route, key="probe").status_code == 201
    probe = IdempotencyRecord.objects.get(key="probe")
    IdempotencyRecord.objects.filter(pk=probe.pk).update(status_code=None, response_body=None)
    SignalSourceConfig.objects.all().delete()
    state = written_state()

    assert_error(create(tenant, route, key="probe"), 409, "invalid_request", "idempotency_key_in_progress")
    assert written_state() == state


def test_an_abandoned_claim_is_taken_over(tenant, route):
    assert create(tenant, route, key="probe").status_code == 201
    SignalSourceConfig.objects.all().delete()
    long_ago = timezone.now() - ABANDONED_AFTER - timedelta(seconds=1)
    IdempotencyRecord.objects.update(status_code=None, response_body=None, created_at=long_ago)

    response = create(tenant, route, key="probe")
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")


def test_a_finished_record_is_replayed_for_24_hours_not_only_for_the_abandoned_claims_time(tenant, route):
    first = create(tenant, route)
    assert first.status_code == 201
    # An hour old: past the time after which an unfinished claim counts as abandoned, well within 24 h.
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert timedelta(hours=1) > ABANDONED_AFTER
    state = written_state()

    again = create(tenant, route)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert written_state() == state
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() == 1
    # And just inside the 24 hours, still.
    IdempotencyRecord.objects.update(created_at=timezone.now() - TTL + timedelta(minutes=1))
    assert create(tenant, route)["Idempotent-Replayed"] == "true"


def test_at_exactly_24_hours_a_record_is_replayed_and_at_exactly_its_abandon_time_a_claim_is_in_flight(
    tenant, pinned_now
):
    first = create(tenant, ROUTES[0])
    assert first.status_code == 201
    pinned_now.now += TTL

    assert create(tenant, ROUTES[0])["Idempotent-Replayed"] == "true"

    assert (
        create(tenant, ROUTES[0], {"source_product": "linear", "source_type": "issue"}, key="probe").status_code == 201
    )
    IdempotencyRecord.objects.filter(key="probe").update(status_code=None, response_body=None)
    pinned_now.now += ABANDONED_AFTER
    response = create(tenant, ROUTES[0], {"source_product": "linear", "source_type": "issue"}, key="probe")
    assert_error(response, 409, "invalid_request", "idempotency_key_in_progress")


def test_taking_over_an_abandoned_claim_leaves_a_record_made_at_the_same_moment(tenant, pinned_now):
    linear = {"source_product": "linear", "source_type": "issue"}
    finished = create(tenant, ROUTES[0], key="finished")
    assert finished.status_code == 201
    assert create(tenant, ROUTES[0], linear, key="abandoned").status_code == 201
    SignalSourceConfig.objects.filter(source_product="linear").delete()
    IdempotencyRecord.objects.filter(key="abandoned").update(status_code=None, response_body=None)
    # The pinned clock: both records were made at the same moment.
    assert IdempotencyRecord.objects.values("created_at").distinct().count() == 1
    pinned_now.now += ABANDONED_AFTER + timedelta(seconds=1)

    taken_over = create(tenant, ROUTES[0], linear, key="abandoned")
    again = create(tenant, ROUTES[0], key="finished")

    assert taken_over.status_code == 201, taken_over.json()
    assert not taken_over.has_header("Idempotent-Replayed")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == finished.json()


def test_a_key_expires_after_24_hours(tenant, route):
    first = create(tenant, route)
    SignalSourceConfig.objects.all().delete()
    IdempotencyRecord.objects.update(created_at=timezone.now() - TTL - timedelta(seconds=1))

    again = create(tenant, route)
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")
    assert again.json()["id"] != first.json()["id"]
    assert IdempotencyRecord.objects.count() == 1


def test_prune_deletes_only_expired_records(tenant, route):
    create(tenant, route, key="fresh")
    create(tenant, route, key="old", body={"source_product": "linear", "source_type": "issue"})
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - TTL - timedelta(minutes=1))
    out, _ = run("prune_idempotency_keys")
    assert "Deleted 1 " in out
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_an_invalid_key_is_a_400_and_writes_nothing(tenant, route, key):
    state = written_state()
    assert_error(create(tenant, route, key=key), 400, "invalid_request", "invalid_idempotency_key")
    assert written_state() == state
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["k", "a b", "~"])
def test_printable_ascii_keys_from_one_character_are_accepted(tenant, key):
    """The edges of what a key may be: one character, a space (0x20) and a tilde (0x7e)."""
    assert create(tenant, ROUTES[0], key=key).status_code == 201
    assert create(tenant, ROUTES[0], key=key)["Idempotent-Replayed"] == "true"


def test_a_255_character_key_is_accepted(tenant, route):
    assert create(tenant, route, key="k" * 255).status_code == 201
    assert create(tenant, route, key="k" * 255)["Idempotent-Replayed"] == "true"


def test_no_raw_api_key_is_stored(tenant, route):
    create(tenant, route)
    record = IdempotencyRecord.objects.values().get()
    assert record["api_key_id"] == tenant.api_key.pk
    assert tenant.raw_key not in str(record)


def test_without_the_header_nothing_is_stored(tenant, route):
    assert tenant.client.post(list_url(tenant, route), GITHUB, format="json").status_code == 201
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)  # real transactions, as in production: no test savepoints
@override_settings(RATE_LIMITS_ENABLED=False)
def test_what_the_header_costs(tenant, route):
    """In real transactions a plain create is 5 statements (the key with the project, BEGIN, INSERT of
    the config and of its activity record, COMMIT), and 2 on PostgreSQL, where the two INSERTs are one
    statement and need no transaction of their own; a keyed one 9 (PostgreSQL: 8): the claim (one
    INSERT ... ON CONFLICT DO NOTHING), then the create and the UPDATE that stores its response in one
    transaction (the create's own transaction, or its one statement, in a savepoint). A replay is 3: the
    key, the claim that inserts nothing (no statement error: issue 25, row 11) and a SELECT of the
    stored response; it writes no config and no activity record. The change event (issue 26) is one
    INSERT more on SQLite (part of the one statement on PostgreSQL)."""
    tenant.client.get(list_url(tenant, route))  # records the key's first use

    def count(call):
        with CaptureQueriesContext(connection) as captured:
            response = call()
        return response, [q["sql"] for q in captured.captured_queries]

    plain, plain_sql = count(lambda: tenant.client.post(list_url(tenant, route), GITHUB, format="json"))
    assert plain.status_code == 201
    SignalSourceConfig.objects.all().delete()
    keyed, keyed_sql = count(lambda: create(tenant, route))
    assert keyed.status_code == 201
    replay, replay_sql = count(lambda: create(tenant, route))
    assert replay["Idempotent-Replayed"] == "true"
    expected = (2, 8, 3) if connection.vendor == "postgresql" else (6, 10, 3)
    assert (len(plain_sql), len(keyed_sql), len(replay_sql)) == expected, (plain_sql, keyed_sql, replay_sql)
