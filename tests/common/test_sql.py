"""Writes by hand-written SQL (common/sql.py) store what the ORM stores, write only the rows they
name, and write a change and its record together or not at all."""

import uuid

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Value
from django.test.utils import CaptureQueriesContext, isolate_apps

from activity_log.models import ActivityLog
from activity_log.services import Actor
from change_events.models import ChangeEvent
from common import sql
from signalsource import selectors, services
from signalsource.models import SignalSourceConfig
from tests.helpers import RecordingRouter, make_config

pytestmark = pytest.mark.django_db


def _stored(instance) -> dict:
    return type(instance).objects.filter(pk=instance.pk).values().get()


def _without(row: dict, *names) -> dict:
    return {name: value for name, value in row.items() if name not in names}


def test_an_insert_stores_what_save_stores(tenant, other_tenant):
    fields = {"source_product": "github", "source_type": "issue", "config": {"a": [1, {"b": None}], "c": "ü"}}
    by_hand = SignalSourceConfig(project=tenant.project, created_by=tenant.user, **fields)
    assert sql.execute(sql.insert(by_hand)) == 1
    by_orm = SignalSourceConfig.objects.create(project=other_tenant.project, created_by=tenant.user, **fields)
    # The timestamps are filled in as save() fills them in, and read back as written.
    assert by_hand.created_at <= by_hand.updated_at
    stored = _stored(by_hand)
    assert (stored["created_at"], stored["updated_at"]) == (by_hand.created_at, by_hand.updated_at)
    private = ("id", "project_id", "created_at", "updated_at")
    assert _without(stored, *private) == _without(_stored(by_orm), *private)


def test_an_insert_of_nulls_and_json_stores_what_save_stores(tenant):
    fields = {"project_id": tenant.project.id, "actor": "a", "activity": "x", "scope": "s", "detail": {"k": [None]}}
    by_hand, by_orm = ActivityLog(user=None, request_id=None, **fields), ActivityLog(**fields)
    sql.execute(sql.insert(by_hand))
    by_orm.save()
    assert _without(_stored(by_hand), "id", "created_at") == _without(_stored(by_orm), "id", "created_at")


def test_update_and_delete_write_only_the_rows_they_name(tenant):
    config, other = make_config(tenant.project), make_config(tenant.project, source_type="pull_request")
    stale = {"id": str(config.pk), "version": config.version + 1}  # an id as text is taken too
    assert sql.execute(sql.update(SignalSourceConfig, {"enabled": False}, where=stale)) == 0
    current = {"id": config.pk, "version": config.version}
    changed = {"enabled": False, "config": {"x": 1}, "version": config.version + 1}
    assert sql.execute(sql.update(SignalSourceConfig, changed, where=current)) == 1
    config.refresh_from_db()
    assert (config.enabled, config.config, config.version) == (False, {"x": 1}, 2)
    assert sql.execute(sql.delete(SignalSourceConfig, where=current)) == 0  # the version moved on
    assert sql.execute(sql.delete(SignalSourceConfig, where={"id": config.pk, "version": 2})) == 1
    assert list(SignalSourceConfig.objects.values_list("pk", flat=True)) == [other.pk]
    assert sql.execute(sql.delete(SignalSourceConfig, where={"id": uuid.uuid4()})) == 0


def _record(project, actor="test") -> ActivityLog:
    return ActivityLog(project_id=project.id, actor=actor, activity="deleted", scope="test")


def test_a_change_and_its_record_are_written_together_or_not_at_all(tenant):
    config = make_config(tenant.project)
    delete = sql.delete(SignalSourceConfig, where={"id": config.pk})

    # A change that writes no row: no record.
    nothing = sql.delete(SignalSourceConfig, where={"id": config.pk, "version": 99})
    assert sql.write_then_insert(nothing, _record(tenant.project)) == 0
    assert not ActivityLog.objects.exists()

    # A record that cannot be written (its actor is NOT NULL): no change either, and the caller's
    # transaction (this test's) still works.
    with pytest.raises(IntegrityError):
        sql.write_then_insert(delete, _record(tenant.project, actor=None))
    assert SignalSourceConfig.objects.filter(pk=config.pk).exists()
    assert not ActivityLog.objects.exists()

    assert sql.write_then_insert(delete, _record(tenant.project)) == 1
    assert not SignalSourceConfig.objects.filter(pk=config.pk).exists()
    assert ActivityLog.objects.get().activity == "deleted"


@pytest.mark.django_db(transaction=True)  # real transactions, as in production: no test savepoints
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes a change and its record as one")
def test_on_postgresql_each_change_its_record_and_its_event_are_one_statement(tenant):
    actor = Actor.command("test")
    with CaptureQueriesContext(connection) as created:
        config = services.create_config(
            project=tenant.project, created_by=tenant.user, source_product="github", source_type="issue", actor=actor
        )
    with CaptureQueriesContext(connection) as updated:
        services.update_config(config, enabled=False, actor=actor)
    with CaptureQueriesContext(connection) as deleted:
        services.delete_config(config, actor=actor)
    statements = [captured.captured_queries for captured in (created, updated, deleted)]
    assert [len(queries) for queries in statements] == [1, 1, 1], statements
    # The feed's order lock first, then the write, its record and its event (change_events.services).
    assert all(queries[0]["sql"].startswith("WITH guard AS MATERIALIZED (") for queries in statements)
    assert all("written AS (" in queries[0]["sql"] for queries in statements)
    assert [r.activity for r in ActivityLog.objects.order_by("created_at")] == ["created", "updated", "deleted"]
    assert [e.type for e in ChangeEvent.objects.order_by("id")] == [
        "signal_source_config.created",
        "signal_source_config.updated",
        "signal_source_config.deleted",
    ]
    assert not SignalSourceConfig.objects.exists()


def _advisory_locks_held() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)  # real transactions: the lock is held to commit
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock is PostgreSQL's")
def test_on_postgresql_a_write_with_a_lock_takes_it_and_holds_it_to_commit(tenant):
    config = make_config(tenant.project)
    with transaction.atomic():
        update = sql.update(SignalSourceConfig, {"enabled": False}, where={"id": config.pk})
        assert sql.execute(update, lock=4242) == 1
        assert _advisory_locks_held() == [4242]
    assert _advisory_locks_held() == []
    with transaction.atomic():
        delete = sql.delete(SignalSourceConfig, where={"id": config.pk})
        assert sql.write_then_insert(delete, _record(tenant.project), lock=4343) == 1
        assert _advisory_locks_held() == [4343]
    assert not SignalSourceConfig.objects.exists()
    assert ActivityLog.objects.get().activity == "deleted"


def test_a_write_with_a_lock_is_made_on_every_database(tenant):
    # The lock is PostgreSQL's (see the test above); elsewhere the write is made without it.
    config = make_config(tenant.project)
    update = sql.update(SignalSourceConfig, {"enabled": False}, where={"id": config.pk})
    assert sql.execute(update, lock=4242) == 1
    delete = sql.delete(SignalSourceConfig, where={"id": config.pk})
    assert sql.write_then_insert(delete, _record(tenant.project), lock=4343) == 1
    assert not SignalSourceConfig.objects.exists()
    assert ActivityLog.objects.get().activity == "deleted"


@isolate_apps("common")
@pytest.mark.parametrize(
    "computed",
    [
        models.IntegerField(db_default=1),
        models.GeneratedField(expression=Value(1), output_field=models.IntegerField(), db_persist=True),
    ],
)
def test_a_column_the_database_computes_is_refused_by_the_writes(computed):
    class Computed(models.Model):
        name = models.CharField(max_length=10)
        value = computed
        other = models.IntegerField(db_default=2)

        class Meta:
            app_label = "common"

        def __str__(self) -> str:
            return self.name

    message = r"^common\.sql cannot insert Computed: the database computes value, other\. Save it with the ORM\.$"
    with pytest.raises(TypeError, match=message):
        sql.insert(Computed(name="a"))
    with pytest.raises(TypeError, match=r"^common\.sql cannot write Computed\.value, other\.$"):
        sql.update(Computed, {"value": 2, "other": 3, "name": "b"}, where={"id": 1})


def test_the_hand_written_reads_and_writes_ask_the_routers_like_the_orm(tenant, settings):
    RecordingRouter.asked = []
    settings.DATABASE_ROUTERS = ["tests.helpers.RecordingRouter"]
    config = make_config(tenant.project)
    selectors.project_config(project_id=tenant.project.id, pk=config.pk)  # builds what it caches
    RecordingRouter.asked.clear()

    assert selectors.project_config(project_id=tenant.project.id, pk=config.pk) is not None
    assert ("read", "SignalSourceConfig") in RecordingRouter.asked
    RecordingRouter.asked.clear()
    assert selectors.project_configs_page(project_id=tenant.project.id, offset=0, limit=10) == [config]
    assert ("read", "SignalSourceConfig") in RecordingRouter.asked
    RecordingRouter.asked.clear()
    assert selectors.project_config(project_id=tenant.project.id, pk=config.pk)._state.db == "default"
    # A write asks for the write database only, once to quote its statement and once to run it.
    RecordingRouter.asked.clear()
    assert sql.execute(sql.update(SignalSourceConfig, {"enabled": False}, where={"id": config.pk})) == 1
    assert RecordingRouter.asked == [("write", "SignalSourceConfig")] * 2
    RecordingRouter.asked.clear()
    assert sql.execute(sql.delete(SignalSourceConfig, where={"id": config.pk})) == 1
    assert RecordingRouter.asked == [("write", "SignalSourceConfig")] * 2
    # An insert's statement is built on first use (then cached): each model's write database, then
    # the write's again to run them.
    new = SignalSourceConfig(
        project=tenant.project, created_by=tenant.user, source_product="linear", source_type="issue"
    )
    sql._insert_of.cache_clear()
    RecordingRouter.asked.clear()
    assert sql.write_then_insert(sql.insert(new), _record(tenant.project)) == 1
    assert RecordingRouter.asked == [
        ("write", "SignalSourceConfig"),
        ("write", "SignalSourceConfig"),
        ("write", "ActivityLog"),
    ]
