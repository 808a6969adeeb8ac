"""The races of issue 15 against a real gunicorn server (two worker processes, each with its own
database connection): two clients with the same If-Match, and duplicate Idempotency-Keys at once.

On SQLite the server's database is a file its workers share; SQLite serialises their writes, and the
compare-and-set must still let exactly one through, so these run on both databases.
"""

import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest

from tests.live_server import HANG_GUARD_SECONDS

pytestmark = pytest.mark.live_server_process

ROUNDS = 5


def send(service, method, url, body=None, **headers):
    """(status, headers, parsed body) for one request to the live server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http only)
    request.add_header("Authorization", f"Bearer {service.raw_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=HANG_GUARD_SECONDS) as response:  # noqa: S310
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


def at_once(*calls):
    """Runs every call in its own thread, all released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # reported by the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG_GUARD_SECONDS * 2)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    for result in results:
        assert not isinstance(result, Exception), result
    return results


@pytest.fixture
def github_config(live_service):
    status, headers, body = send(
        live_service, "POST", live_service.configs_url, {"source_product": "github", "source_type": "issue"}
    )
    assert status == 201, body
    url = f"{live_service.configs_url}{body['id']}/"
    yield url, headers["ETag"]
    send(live_service, "DELETE", url)


def test_two_clients_patching_with_the_same_if_match_get_one_200_and_one_412(live_service, github_config):
    url, etag = github_config
    for round_ in range(ROUNDS):
        bodies = [{"config": {"steering": f"round {round_} client {i}"}} for i in range(2)]
        results = at_once(
            *[lambda body=body, etag=etag: send(live_service, "PATCH", url, body, If_Match=etag) for body in bodies]
        )

        statuses = sorted(status for status, _, _ in results)
        assert statuses == [200, 412], results
        winner = next(result for result in results if result[0] == 200)
        loser = next(result for result in results if result[0] == 412)
        assert loser[2]["code"] == "precondition_failed"
        # The stored config is the winner's, and the winner's ETag is current.
        _, headers, stored = send(live_service, "GET", url)
        assert stored["config"] == winner[2]["config"]
        assert headers["ETag"] == winner[1]["ETag"]
        etag = headers["ETag"]


def test_two_clients_deleting_with_the_same_if_match_get_one_204_and_one_412(live_service):
    for _ in range(ROUNDS):
        status, headers, body = send(
            live_service, "POST", live_service.configs_url, {"source_product": "linear", "source_type": "issue"}
        )
        assert status == 201, body
        url = f"{live_service.configs_url}{body['id']}/"

        results = at_once(*[lambda url=url, etag=headers["ETag"]: send(live_service, "DELETE", url, If_Match=etag)] * 2)

        assert sorted(status for status, _, _ in results) == [204, 412], results
        assert send(live_service, "GET", url)[0] == 404


def test_a_patch_and_a_delete_with_the_same_if_match_never_both_succeed(live_service):
    for _ in range(ROUNDS):
        status, headers, body = send(
            live_service, "POST", live_service.configs_url, {"source_product": "zendesk", "source_type": "ticket"}
        )
        assert status == 201, body
        url = f"{live_service.configs_url}{body['id']}/"
        etag = headers["ETag"]

        (patched, _, _), (deleted, _, _) = at_once(
            lambda url=url, etag=etag: send(live_service, "PATCH", url, {"enabled": False}, If_Match=etag),
            lambda url=url, etag=etag: send(live_service, "DELETE", url, If_Match=etag),
        )

        assert sorted([patched, deleted]) in ([200, 412], [204, 412]), (patched, deleted)
        if deleted == 412:  # the PATCH won: the config is there, changed
            assert send(live_service, "GET", url)[2]["enabled"] is False
            send(live_service, "DELETE", url)
        else:
            assert send(live_service, "GET", url)[0] == 404


def test_two_clients_putting_on_todays_route_with_the_same_if_match_get_one_200_and_one_412(live_service):
    # Today's PostHog route (PUT); the activity log holds the winner's change only.
    configs_url = live_service.configs_url.replace("/signal_source_configs/", "/signals/source_configs/")
    pair = {"source_product": "gitlab", "source_type": "issue"}
    status, headers, body = send(live_service, "POST", configs_url, pair)
    assert status == 201, body
    url, etag = f"{configs_url}{body['id']}/", headers["ETag"]
    try:
        for round_ in range(ROUNDS):
            bodies = [{**pair, "config": {"steering": f"round {round_} client {i}"}} for i in range(2)]
            results = at_once(
                *[lambda body=body, etag=etag: send(live_service, "PUT", url, body, If_Match=etag) for body in bodies]
            )

            assert sorted(status for status, _, _ in results) == [200, 412], results
            winner = next(result for result in results if result[0] == 200)
            _, headers, stored = send(live_service, "GET", url)
            assert stored["config"] == winner[2]["config"]
            etag = headers["ETag"]

        _, _, activity = send(live_service, "GET", f"{url}activity/?limit=100")
        assert [record["activity"] for record in activity["results"]] == ["updated"] * ROUNDS + ["created"]
    finally:
        send(live_service, "DELETE", url)


def test_duplicate_idempotency_keys_at_once_create_one_config(live_service):
    body = {"source_product": "llm_analytics", "source_type": "evaluation", "config": {"steering": "once"}}
    for _ in range(ROUNDS):
        key = str(uuid.uuid4())
        results = at_once(
            *[lambda key=key: send(live_service, "POST", live_service.configs_url, body, Idempotency_Key=key)] * 4
        )

        originals = [r for r in results if r[0] == 201 and r[1].get("Idempotent-Replayed") is None]
        assert len(originals) == 1, results
        created = originals[0][2]
        for status, _, answer in results:
            if status == 201:  # the original, or a replay of it
                assert answer == created
            else:  # arrived while the original was being processed
                assert status == 409, (status, answer)
                assert answer["code"] == "idempotency_key_in_progress"
        # A retry after the fact is a replay of the one create; one config exists.
        status, headers, answer = send(live_service, "POST", live_service.configs_url, body, Idempotency_Key=key)
        assert (status, headers["Idempotent-Replayed"], answer) == (201, "true", created)
        _, _, listing = send(live_service, "GET", live_service.configs_url + "?source_product=llm_analytics")
        assert [row["id"] for row in listing["results"]] == [created["id"]]
        send(live_service, "DELETE", f"{live_service.configs_url}{created['id']}/")
