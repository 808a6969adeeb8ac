"""The services enforce every rule a config must satisfy when called directly, without HTTP, and
raise domain errors (Django's ValidationError, the model's DoesNotExist), never HTTP ones."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from activity_log.models import ActivityLog
from activity_log.services import Actor
from api.conditional import VersionMismatch
from change_events.models import ChangeEvent
from change_events.services import ORDER_LOCK
from signalsource import events, services
from signalsource.models import SignalSourceConfig
from tests.helpers import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project()


def create(project, **fields):
    return services.create_config(
        project=project, created_by=None, **{"source_product": "github", "source_type": "issue", **fields}
    )


def refused(call, field, code, message=None):
    """Runs `call`, expecting a ValidationError on `field` with `code`; returns its message."""
    with pytest.raises(ValidationError) as error:
        call()
    [(error_field, [detail])] = error.value.error_dict.items()
    assert (error_field, detail.code) == (field, code)
    if message is not None:
        assert detail.message == message
    return detail.message


def test_create_stores_the_defaults(project):
    user = make_user()
    config = services.create_config(project=project, created_by=user, source_product="github", source_type="issue")

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.enabled, stored.config, stored.status, stored.created_by) == (True, {}, None, user)


@pytest.mark.parametrize(
    ("product", "message"),
    [
        ("zendesk", "'issue' is not a valid source_type for 'zendesk'. Valid types: ticket."),
        (
            "error_tracking",
            "'issue' is not a valid source_type for 'error_tracking'. "
            "Valid types: issue_created, issue_reopened, issue_spiking.",
        ),
        (
            "signals_check",
            "'issue' is not a valid source_type for 'signals_check'. 'signals_check' takes no signal source config.",
        ),
    ],
)
def test_create_refuses_a_pair_outside_the_catalog_naming_the_products_types(project, product, message):
    refused(
        lambda: create(project, source_product=product, source_type="issue"), "source_type", "invalid_pair", message
    )
    assert not SignalSourceConfig.objects.exists()


def test_create_refuses_an_unknown_product(project):
    refused(
        lambda: create(project, source_product="jira_cloud"),
        "source_product",
        "invalid_choice",
        '"jira_cloud" is not a valid choice.',
    )
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "config must be a JSON object"),
        ([], "config must be a JSON object"),
        ({"steering": 5}, "steering must be a string"),
        ({"default_not_actionable": "yes"}, "default_not_actionable must be a boolean"),
        ({"note": "a\x00b"}, "config must not contain NUL characters"),
    ],
)
def test_create_refuses_a_config_that_breaks_a_rule(project, config, message):
    refused(lambda: create(project, config=config), "config", "invalid", message)
    assert not SignalSourceConfig.objects.exists()


def test_create_applies_the_source_specific_rules(project):
    refused(
        lambda: create(
            project, source_product="session_replay", source_type="session_analysis_cluster", config={"sample_rate": 2}
        ),
        "config",
        "invalid",
        "sample_rate must be a number between 0 and 1",
    )
    created = create(project, source_product="linear", config={"linear_team_ids": [" a ", "b"]})
    assert SignalSourceConfig.objects.get(pk=created.pk).config == {"linear_team_ids": ["a", "b"]}


def test_create_refuses_an_enabled_that_is_not_a_boolean(project):
    refused(lambda: create(project, enabled="yes"), "enabled", "invalid")


def test_create_refuses_a_duplicate(project):
    create(project)

    refused(lambda: create(project), "source_product", "unique", services.DUPLICATE_MESSAGE)
    assert SignalSourceConfig.objects.count() == 1


def test_the_same_source_may_exist_once_in_each_project(project):
    create(project)
    create(make_project())

    assert SignalSourceConfig.objects.count() == 2


def test_validate_new_config_reports_the_duplicate_before_saving(project):
    create(project)

    refused(
        lambda: services.validate_new_config(project=project, source_product="github", source_type="issue"),
        "source_product",
        "unique",
    )


def test_update_refuses_a_changed_source_and_accepts_the_same_one(project):
    config = create(project)

    for field, value in [("source_product", "linear"), ("source_type", "ticket")]:
        refused(
            lambda field=field, value=value: services.update_config(config, **{field: value}),
            field,
            "immutable",
            f"{field} cannot be changed after creation.",
        )
    services.update_config(config, source_product="github", source_type="issue", enabled=False)

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.source_product, stored.source_type, stored.enabled) == ("github", "issue", False)


def test_update_checks_the_config_against_the_configs_own_source(project):
    config = create(project, source_product="linear")

    refused(lambda: services.update_config(config, config={"linear_team_ids": [""]}), "config", "invalid")
    services.update_config(config, config={"linear_team_ids": [" t "]})

    assert SignalSourceConfig.objects.get(pk=config.pk).config == {"linear_team_ids": ["t"]}


def test_a_refused_update_changes_nothing(project):
    config = create(project, config={"steering": "keep"})
    before = SignalSourceConfig.objects.filter(pk=config.pk).values().get()

    refused(lambda: services.update_config(config, enabled=False, config={"steering": 1}), "config", "invalid")

    assert SignalSourceConfig.objects.filter(pk=config.pk).values().get() == before


def test_update_refuses_fields_that_are_not_writable(project):
    config = create(project)

    with pytest.raises(TypeError, match="Not writable: project, status"):
        services.update_config(config, status="running", project=make_project())


def test_update_of_a_deleted_config_is_does_not_exist(project):
    config = create(project)
    SignalSourceConfig.objects.filter(pk=config.pk).delete()

    with pytest.raises(SignalSourceConfig.DoesNotExist, match=f"^Signal source config {config.pk} no longer exists.$"):
        services.update_config(config, enabled=False)


def test_set_status_of_a_deleted_config_is_does_not_exist(project):
    config = create(project)
    SignalSourceConfig.objects.filter(pk=config.pk).delete()

    with pytest.raises(SignalSourceConfig.DoesNotExist):
        services.set_status(config, "running")


def test_services_raise_no_http_errors():
    import inspect

    source = inspect.getsource(services)
    assert "rest_framework" not in source and "Http404" not in source


def record_and_event(config_id, activity):
    """The activity record and the change event of one change of the config."""
    record = ActivityLog.objects.get(item_id=str(config_id), activity=activity)
    event = ChangeEvent.objects.get(subject=str(config_id), type=events.TYPE_PREFIX + activity)
    return record, event


def changed_fields(record):
    return {change["field"]: (change["before"], change["after"]) for change in record.detail["changes"]}


def test_a_retired_type_is_refused_only_where_the_caller_asks(project):
    retired = {"source_product": "llm_analytics", "source_type": "evaluation"}

    fields = services.validate_new_config(project=project, **retired)
    assert fields == {**retired, "enabled": True, "config": {}}
    for call in (services.validate_new_config, services.create_config):
        refused(
            lambda call=call: call(project=project, created_by=None, refuse_retired_types=True, **retired),
            "source_type",
            "invalid_choice",
            '"evaluation" is not a valid choice.',
        )
    assert not SignalSourceConfig.objects.exists()


def test_an_update_sending_a_retired_type_again_is_refused_only_where_the_caller_asks(project):
    config = create(project, source_product="llm_analytics", source_type="evaluation")

    assert services.validate_changes(config, source_type="evaluation", enabled=False) == {"enabled": False}
    services.update_config(config, source_type="evaluation", enabled=False)
    refused(
        lambda: services.update_config(config, refuse_retired_types=True, source_type="evaluation", enabled=True),
        "source_type",
        "invalid_choice",
        '"evaluation" is not a valid choice.',
    )
    services.update_config(config, refuse_retired_types=True, config={"steering": "s"})  # the type not sent

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.enabled, stored.config, stored.version) == (False, {"steering": "s"}, 3)


def test_an_update_moves_updated_at_and_the_version(project):
    config = create(project)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SignalSourceConfig.objects.filter(pk=config.pk).update(updated_at=an_hour_ago)
    config.refresh_from_db()

    services.update_config(config, enabled=False)

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.enabled, stored.version) == (False, 2)
    assert stored.updated_at > an_hour_ago + timedelta(minutes=59)
    assert (config.version, config.updated_at) == (2, stored.updated_at)


def test_an_update_expecting_a_version_the_config_is_not_at_is_refused(project):
    config = create(project)
    stale = SignalSourceConfig.objects.get(pk=config.pk)
    services.update_config(config, enabled=False)
    mismatch = f"^Signal source config {config.pk} is not at version 1.$"

    with pytest.raises(VersionMismatch, match=mismatch):
        services.update_config(config, expected_version=1, config={"steering": "s"})  # it read version 2
    with pytest.raises(VersionMismatch, match=mismatch):
        services.update_config(stale, expected_version=1, config={"steering": "s"})  # it read 1, the row moved on
    with pytest.raises(VersionMismatch, match=f"^Signal source config {config.pk} is not at version 3.$"):
        services.update_config(config, expected_version=3, config={"steering": "s"})  # a version yet to come

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.config, stored.version) == ({}, 2)
    services.update_config(config, expected_version=2, config={"steering": "s"})
    assert SignalSourceConfig.objects.get(pk=config.pk).version == 3


def test_a_key_added_with_a_null_value_is_written(project):
    # Its record and event: tests/activity_log/test_recording.py.
    config = create(project, config={"steering": "s"})

    services.update_config(config, config={"steering": "s", "note": None})

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.config, stored.version) == ({"steering": "s", "note": None}, 2)


def _order_lock_held() -> bool:
    high, low = divmod(ORDER_LOCK, 2**32)  # a bigint advisory lock is shown as its two halves
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid::bigint = %s AND objid::bigint = %s",
            [high, low],
        )
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)  # real transactions: the lock is held to commit
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock is PostgreSQL's")
def test_on_postgresql_every_write_takes_the_feeds_order_lock(project):
    with transaction.atomic():
        config = create(project)
        assert _order_lock_held()
    for write in (
        lambda: services.update_config(config, enabled=False),
        lambda: services.update_config(config, config={"note": None}),  # a change without a record
        lambda: services.set_status(config, "running"),
        lambda: services.delete_config(config),
    ):
        with transaction.atomic():
            write()
            assert _order_lock_held()
    assert not _order_lock_held()
    assert not SignalSourceConfig.objects.exists()


def test_a_stored_integer_beyond_64_bits_is_replaced_by_an_update(project):
    # Stored before the catalog refused such numbers: the JSON encoder that compares configs
    # refuses it too, and a value it cannot compare counts as changed.
    config = create(project)
    SignalSourceConfig.objects.filter(pk=config.pk).update(config={"n": 2**64})
    config.refresh_from_db()

    services.update_config(config, config={"n": 1})

    assert SignalSourceConfig.objects.get(pk=config.pk).config == {"n": 1}


def test_a_create_fills_in_the_sources_defaults_only_where_the_caller_asks(project):
    replay = {"source_product": "session_replay", "source_type": "session_analysis_cluster"}

    as_sent = create(project, **replay, config={"steering": "s"})
    filled = create(make_project(), **replay, with_defaults=True, config={"steering": "s"})

    assert SignalSourceConfig.objects.get(pk=as_sent.pk).config == {"steering": "s"}
    assert SignalSourceConfig.objects.get(pk=filled.pk).config == {"steering": "s", "sample_rate": 0.1}


def test_a_duplicate_is_the_same_product_and_type_in_the_same_project(project):
    create(project, source_product="error_tracking", source_type="issue_created")
    create(project, source_product="github", source_type="issue")

    for product, source_type in [("error_tracking", "issue_reopened"), ("linear", "issue")]:
        services.validate_new_config(project=project, source_product=product, source_type=source_type)
    services.validate_new_config(project=make_project(), source_product="github", source_type="issue")


def test_a_create_is_recorded_with_its_actor_its_fields_and_its_event(project):
    config = create(project, config={"steering": "s"}, actor=Actor.command("seed"))

    record, event = record_and_event(config.pk, "created")
    assert (record.actor, record.is_system) == ("seed", True)
    assert changed_fields(record)["config.steering"] == (None, "s")
    assert (event.sequence, event.data["actor"]) == (1, "seed")
    # Saved, as `save()` leaves an instance: a later save updates the row instead of inserting one.
    assert (config._state.adding, config._state.db) == (False, "default")


def test_a_delete_is_recorded_with_its_actor_the_config_as_it_was_and_the_next_sequence(project):
    config = create(project, enabled=False)
    services.update_config(config, config={"steering": "s"})

    services.delete_config(config, actor=Actor.command("cleanup"))

    assert not SignalSourceConfig.objects.exists()
    record, event = record_and_event(config.pk, "deleted")
    assert record.actor == "cleanup"
    assert changed_fields(record)["enabled"] == (False, None)
    assert (event.sequence, event.data["actor"]) == (3, "cleanup")


def test_a_delete_at_a_version_the_config_has_left_is_refused_and_without_one_it_deletes(project):
    config = create(project)
    stale = SignalSourceConfig.objects.get(pk=config.pk)
    services.update_config(config, enabled=False)

    with pytest.raises(VersionMismatch, match=f"^Signal source config {config.pk} is not at version 1.$"):
        services.delete_config(stale, expected_version=1)
    with pytest.raises(VersionMismatch, match=f"^Signal source config {config.pk} is not at version 1.$"):
        services.delete_config(config, expected_version=1)
    assert SignalSourceConfig.objects.filter(pk=config.pk).exists()

    services.delete_config(stale)  # read again, then deleted at the version it has now
    assert not SignalSourceConfig.objects.exists()
    record, event = record_and_event(config.pk, "deleted")
    assert (changed_fields(record)["enabled"], event.sequence) == ((False, None), 3)


def test_set_status_takes_a_processing_status_or_none_only(project):
    config = create(project)

    refused(lambda: services.set_status(config, "bogus"), "status", "invalid_choice", '"bogus" is not a valid status.')
    services.set_status(config, None)
    assert SignalSourceConfig.objects.get(pk=config.pk).version == 1  # None was already the status


def test_set_status_moves_the_version_but_not_updated_at_and_is_recorded_with_its_actor(project):
    config = create(project)
    updated_at = SignalSourceConfig.objects.get(pk=config.pk).updated_at

    services.set_status(config, "running", actor=Actor.command("runner"))

    stored = SignalSourceConfig.objects.get(pk=config.pk)
    assert (stored.status, stored.version, stored.updated_at) == ("running", 2, updated_at)
    record, event = record_and_event(config.pk, "status_changed")
    assert (record.actor, changed_fields(record)["status"]) == ("runner", (None, "running"))
    assert (event.sequence, event.data["actor"]) == (2, "runner")
