"""The HTTP change feed: pages by an opaque cursor, every committed change once and in order (even
when writers commit out of the order their rows were numbered), 410 past the retention, 400 for a
malformed cursor, and the tenancy and scopes of every other read."""

import datetime
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from change_events import selectors, services
from change_events.models import ChangeEvent
from signalsource import services as config_services
from signalsource.models import SignalSourceConfig
from tests.helpers import SIGNALS_ROUTE, Tenant, assert_error, configs_url, key_client, make_config, make_key

GITHUB = {"source_product": "github", "source_type": "issue"}


def feed_url(project_id) -> str:
    return configs_url(project_id, route=SIGNALS_ROUTE) + "changes/"


def read(tenant, **params):
    response = tenant.client.get(feed_url(tenant.project.id), params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_pages_of_two_return_every_event_once_oldest_first(tenant, other_tenant):
    config = make_config(tenant.project)
    for enabled in (False, True, False, True):
        config_services.update_config(config, enabled=enabled)
    make_config(other_tenant.project)
    config_services.update_config(other_tenant.project.signal_source_configs.get(), enabled=False)

    seen, page = [], read(tenant, limit=2)
    while True:
        seen += page["results"]
        assert set(page) == {"results", "cursor", "next"}
        if page["next"] is None:
            break
        assert page["next"].startswith("http://testserver" + feed_url(tenant.project.id) + "?after=")
        page = tenant.client.get(page["next"]).json()
    # make_config writes with the ORM, not the services: the four updates are the project's events.
    assert [event["sequence"] for event in seen] == [str(v).zfill(20) for v in (2, 3, 4, 5)]
    assert {event["projectid"] for event in seen} == {str(tenant.project.id)}
    # Nothing new: the same cursor back, and nothing more waiting.
    again = read(tenant, after=page["cursor"])
    assert again == {"results": [], "cursor": page["cursor"], "next": None}
    config_services.update_config(config, enabled=False)
    [event] = read(tenant, after=page["cursor"])["results"]
    assert event["sequence"] == str(6).zfill(20)


@pytest.mark.django_db
def test_malformed_cursors_and_limits_are_400_and_pruned_ones_410(tenant):
    config = make_config(tenant.project)
    start = read(tenant)["cursor"]  # before any event
    config_services.update_config(config, enabled=False)
    cursor = read(tenant)["cursor"]
    for bad in ("", "x", "%%%", services.cursor_of(1)[:-1] + "!", "cDEyYQ"):  # "p12a"
        response = tenant.client.get(feed_url(tenant.project.id), {"after": bad})
        assert_error(response, 400, "validation_error", "invalid_cursor", attr="after")
    for bad in ("0", "1001", "-1", "a", "1" * 30):
        response = tenant.client.get(feed_url(tenant.project.id), {"limit": bad})
        assert_error(response, 400, "validation_error", "invalid_input", attr="limit")
    assert len(read(tenant, limit=1000)["results"]) == 1

    # Pruned past the cursor: 410, until the consumer starts again from the oldest retained event.
    old = timezone.now() - datetime.timedelta(days=30)
    ChangeEvent.objects.update(time=old)
    config_services.update_config(config, enabled=True)
    assert sum(services.prune_batches(timezone.now() - datetime.timedelta(days=7), 10, keep_unsent=False)) == 1
    response = tenant.client.get(feed_url(tenant.project.id), {"after": start})
    assert_error(response, 410, "invalid_request", "cursor_expired")
    assert read(tenant, after=cursor)["results"][0]["sequence"].endswith("3")  # a cursor at the horizon still reads
    assert [e["sequence"][-1] for e in read(tenant)["results"]] == ["3"]


@pytest.mark.django_db
def test_tenancy_and_scopes_are_those_of_every_read(tenant, other_tenant):
    config_services.create_config(project=tenant.project, created_by=tenant.user, **GITHUB)
    url = feed_url(tenant.project.id)
    assert_error(key_client().get(url), 401)
    # Another project's key: as the project's config list answers it.
    list_answer = other_tenant.client.get(configs_url(tenant.project.id, route=SIGNALS_ROUTE))
    assert_error(other_tenant.client.get(url), list_answer.status_code, detail=list_answer.json()["detail"])
    assert_error(tenant.client.get(feed_url(999999)), 404)
    _, read_only = make_key(tenant.user, scopes=("task:read",))
    assert len(key_client(read_only).get(url).json()["results"]) == 1
    _, other_scope = make_key(tenant.user, scopes=("activity_log:read",))
    assert_error(key_client(other_scope).get(url), 403)
    assert tenant.client.post(url, {}, format="json").status_code == 405


@pytest.mark.skipif(connection.vendor != "postgresql", reason="racing writers need real concurrency")
@pytest.mark.django_db(transaction=True)
def test_a_reader_polling_during_concurrent_writes_sees_every_change_once_in_order():
    """4 writers x 50 PATCHes (and every fifth, two status changes in one transaction, as the admin
    saves), each with its own connection, while a reader polls the feed (its selector, as the view
    calls it) without pause: PostgreSQL numbers each event before its transaction commits, so
    without the feed's order lock a poll can see a higher position before a lower one commits and
    skip the lower one for good."""
    tenant = Tenant()
    configs = [
        config_services.create_config(project=tenant.project, created_by=tenant.user, **source)
        for source in (
            GITHUB,
            {"source_product": "llm_analytics", "source_type": "evaluation"},
            {"source_product": "linear", "source_type": "issue"},
            {"source_product": "zendesk", "source_type": "ticket"},
        )
    ]
    writers_done = threading.Event()
    errors = []

    def write(config_id):
        try:
            client = key_client(tenant.raw_key)
            for number in range(50):
                url = configs_url(tenant.project.id, config_id)
                response = client.patch(url, {"enabled": number % 2 == 1}, format="json")  # each one a change
                assert response.status_code == 200, response.content
                if number % 5 == 0:
                    # As the admin's change form saves: two writes in one transaction.
                    with transaction.atomic():
                        config = SignalSourceConfig.objects.get(pk=config_id)
                        config_services.set_status(config, "running")
                        config_services.set_status(config, "completed")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    seen = []

    def poll():
        try:
            cursor = None
            while True:
                finished = writers_done.is_set()  # read before the page: a page after the last commit
                page = selectors.page_after(project_id=tenant.project.id, cursor=cursor, limit=7)
                seen.extend(page.events)
                cursor = page.cursor
                if finished and not page.more:
                    return
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    reader = threading.Thread(target=poll)
    reader.start()
    writers = [threading.Thread(target=write, args=(config.pk,)) for config in configs]
    from django.test import override_settings

    with override_settings(RATE_LIMITS_ENABLED=False):
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=120)
    writers_done.set()
    reader.join(timeout=60)
    assert not errors, errors
    committed = [services.as_cloudevent(event) for event in ChangeEvent.objects.order_by("id")]
    assert len(committed) == 4 * (1 + 50 + 10 * 2)
    assert [event["id"] for event in seen] == [event["id"] for event in committed]
    for config in configs:
        sequences = [event["sequence"] for event in seen if event["subject"] == str(config.pk)]
        assert sequences == sorted(set(sequences)) and len(sequences) == 71
