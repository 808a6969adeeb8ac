"""Racing requests on PostgreSQL: each thread has its own database connection, as each server
worker does, and all of them start at the same moment."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from auth_keys.models import PersonalAPIKey
from auth_keys.services import revoke_api_key
from signalsource.models import SignalSourceConfig
from tests.helpers import Tenant, configs_url, key_client, make_key

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="racing threads need real concurrency; SQLite serialises writers"
    ),
    pytest.mark.django_db(transaction=True),
]

GITHUB = {"source_product": "github", "source_type": "issue"}


def race(*calls):
    """Runs every call in its own thread, all released at once; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            # Connected before the start, as a server worker holds its connection (CONN_MAX_AGE): the
            # race is between requests, not between connects (eight at once on a loaded machine have
            # outlasted the 3 s connect timeout, DB_CONNECT_TIMEOUT).
            connection.ensure_connection()
            barrier.wait()
            results[index] = call()
        except Exception as error:  # reported by the test, not swallowed
            barrier.abort()  # the others stop waiting for this one
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return results


def test_racing_creates_of_one_source_give_exactly_one_201():
    tenant = Tenant()

    def create():
        return key_client(tenant.raw_key).post(tenant.url, GITHUB, format="json")

    responses = race(*[create] * 8)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [400] * 7, [r.json() for r in responses]
    for response in responses:
        if response.status_code == 400:
            assert response.json()["attr"] == "source_product"
            assert "already exists" in response.json()["detail"]
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() == 1


@pytest.mark.parametrize("rounds", [range(10)])
def test_racing_patch_and_delete_of_one_config_end_in_one_of_their_results(rounds):
    tenant = Tenant()
    for _ in rounds:
        created = tenant.client.post(tenant.url, GITHUB, format="json")
        assert created.status_code == 201, created.json()
        url = configs_url(tenant.project.id, created.json()["id"])

        def patch(url=url):
            return key_client(tenant.raw_key).patch(url, {"enabled": False, "config": {"steering": "x"}}, format="json")

        def delete(url=url):
            return key_client(tenant.raw_key).delete(url)

        responses = race(patch, delete, patch, delete)

        for response in responses:
            assert not isinstance(response, Exception), response
            assert response.status_code in (200, 204, 404), response.content
        assert any(r.status_code == 204 for r in responses)
        # A DELETE succeeded, so the row is gone whatever order the others ran in.
        assert not SignalSourceConfig.objects.filter(pk=created.json()["id"]).exists()
        for response in responses:
            if response.status_code == 200:
                assert response.json()["enabled"] is False
                assert response.json()["config"] == {"steering": "x"}


def test_racing_patches_leave_exactly_one_of_the_sent_states():
    tenant = Tenant()
    created = tenant.client.post(tenant.url, GITHUB, format="json").json()
    url = configs_url(tenant.project.id, created["id"])
    sent = [{"enabled": i % 2 == 0, "config": {"steering": f"writer {i}"}} for i in range(6)]

    responses = race(*[lambda body=body: key_client(tenant.raw_key).patch(url, body, format="json") for body in sent])

    assert [r.status_code for r in responses] == [200] * len(sent)
    row = SignalSourceConfig.objects.get(pk=created["id"])
    assert {"enabled": row.enabled, "config": row.config} in sent


def test_many_keys_used_at_once_all_record_last_used_and_lose_nothing_else():
    tenant = Tenant()
    keys = [make_key(tenant.user, label=f"key {i}", scopes=["task:read"]) for i in range(12)]
    # One key is revoked by an operator while the others are in use: the revocation must stick.
    revoked_key, revoked_raw = keys.pop()
    # And one key is used by several requests at once.
    _, shared_raw = keys[0]

    calls = [lambda raw=raw: key_client(raw).get(tenant.url) for _, raw in keys]
    calls += [lambda: key_client(shared_raw).get(tenant.url)] * 4
    calls += [lambda: revoke_api_key(PersonalAPIKey.objects.get(pk=revoked_key.pk))]
    results = race(*calls)

    for response in results[:-1]:
        assert not isinstance(response, Exception), response
        assert response.status_code == 200, response.json()
    assert not isinstance(results[-1], Exception), results[-1]

    now = timezone.now()
    for api_key, _ in keys:
        api_key.refresh_from_db()
        assert api_key.last_used_at is not None
        assert now - api_key.last_used_at < timedelta(minutes=5)
        assert api_key.scopes == ["task:read"]
        assert api_key.label.startswith("key ")
        assert api_key.revoked_at is None
    revoked_key.refresh_from_db()
    assert revoked_key.revoked_at is not None
    assert key_client(revoked_raw).get(tenant.url).status_code == 401


@pytest.mark.django_db(transaction=False)
def test_a_patch_whose_row_was_deleted_after_it_was_read_is_a_404_not_a_500():
    # The interleaving the race above can hit (PATCH reads the row, DELETE commits, PATCH writes),
    # made certain: the service reports the row gone as the domain's DoesNotExist, which the API's
    # exception handler answers as a 404 (tests/api/test_exceptions.py).
    from signalsource import services

    tenant = Tenant()
    created = tenant.client.post(tenant.url, GITHUB, format="json").json()
    instance = SignalSourceConfig.objects.get(pk=created["id"])
    SignalSourceConfig.objects.filter(pk=instance.pk).delete()

    with pytest.raises(SignalSourceConfig.DoesNotExist):
        services.update_config(instance, enabled=False)
    assert not SignalSourceConfig.objects.exists()


def test_creates_racing_deletes_of_one_source_never_answer_500(settings):
    """Issue 12, row 4: 20 threads creating and deleting one (product, type). A create whose insert
    hit the unique constraint, with the conflicting row deleted before it looked, re-raised the
    IntegrityError (a 500); it now inserts again, or answers the duplicate's 400."""
    tenant = Tenant()
    settings.RATE_LIMITS_ENABLED = False  # 20 threads, 900 requests: the race, not the limit
    client_statuses = {"create": {201, 400}, "delete": {204, 404}}

    def create_then_delete():
        client = key_client(tenant.raw_key)
        seen = []
        for _ in range(15):
            response = client.post(tenant.url, GITHUB, format="json")
            seen.append(("create", response.status_code))
            listed = client.get(tenant.url).json()["results"]
            for row in listed:
                seen.append(("delete", client.delete(f"{tenant.url}{row['id']}/").status_code))
        return seen

    results = race(*[create_then_delete] * 20)

    unexpected = [
        (kind, status)
        for result in results
        for kind, status in (result if isinstance(result, list) else [("error", repr(result))])
        if status not in client_statuses.get(kind, ())
    ]
    assert not unexpected, unexpected
    # Not every create may answer "already exists": each thread deletes what it sees before its next
    # create, so some creates find the source free (a run of 400s alone is the race bug's signature).
    creates = [status for result in results for kind, status in result if kind == "create"]
    assert creates.count(201) >= 1, creates
    assert SignalSourceConfig.objects.filter(project=tenant.project).count() <= 1


def test_racing_upserts_of_one_source_make_one_config_one_201_and_the_rest_200():
    tenant = Tenant()
    url = f"/api/projects/{tenant.project.id}/signals/source_configs/by_source/github/issue/"

    def upsert(enabled):
        return lambda: key_client(tenant.raw_key).put(url, {"enabled": enabled}, format="json")

    for round_ in range(10):
        SignalSourceConfig.objects.filter(project=tenant.project).delete()
        responses = race(*[upsert(True), upsert(False)] * 4)

        assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.json() for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1, round_
        assert SignalSourceConfig.objects.filter(project=tenant.project).count() == 1


def test_processors_reporting_on_one_config_at_once_lose_no_run_and_end_in_the_precedences_status():
    # Issue 27: each report locks the config, so the status written last is the one all runs give.
    tenant = Tenant()
    config_id = key_client(tenant.raw_key).post(tenant.url, GITHUB, format="json").json()["id"]
    runs_url = f"/api/projects/{tenant.project.id}/signals/source_configs/{config_id}/runs/"

    base = timezone.now() - timedelta(seconds=30)
    started_at = (base - timedelta(minutes=1)).isoformat()

    def start():
        return key_client(tenant.raw_key).post(runs_url, {"state": "running", "started_at": started_at}, format="json")

    started = race(*[start] * 6)
    assert [response.status_code for response in started] == [201] * 6, [r.json() for r in started]
    run_ids = [response.json()["id"] for response in started]
    assert len(set(run_ids)) == 6
    assert SignalSourceConfig.objects.get(pk=config_id).status == "running"

    # Each finishes at its own time; the one that finishes last (by finished_at) fails.

    def finisher(index, run_id):
        body = {"state": "completed", "finished_at": (base + timedelta(seconds=index)).isoformat()}
        if index == 5:
            body |= {"state": "failed", "error": {"code": "upstream_down", "message": "GitHub answered 502"}}
        return lambda: key_client(tenant.raw_key).patch(f"{runs_url}{run_id}/", body, format="json")

    finished = race(*[finisher(index, run_id) for index, run_id in enumerate(run_ids)])

    assert [response.status_code for response in finished] == [200] * 6, [r.json() for r in finished]
    listed = key_client(tenant.raw_key).get(runs_url).json()
    assert listed["count"] == 6 and {row["state"] for row in listed["results"]} == {"completed", "failed"}
    config = SignalSourceConfig.objects.get(pk=config_id)
    assert (config.status, config.run_heartbeat_at) == ("failed", None)
