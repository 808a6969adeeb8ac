"""The services enforce every rule a config must satisfy when called directly, without HTTP, and
raise domain errors (Django's ValidationError, the model's DoesNotExist), never HTTP ones."""

import pytest
from django.core.exceptions import ValidationError

from activity_log.models import ActivityLog
from activity_log.services import Actor
from api.conditional import VersionMismatch
from change_events.models import ChangeEvent
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


def test_create_refuses_a_pair_outside_the_catalog(project):
    refused(
        lambda: create(project, source_product="zendesk", source_type="issue"),
        "source_type",
        "invalid_pair",
        "'issue' is not a valid source_type for 'zendesk'. Valid types: ticket.",
    )
    assert not SignalSourceConfig.objects.exists()


def test_create_refuses_an_unknown_product(project):
    refused(lambda: create(project, source_product="jira_cloud"), "source_product", "invalid_choice")
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

    refused(lambda: services.update_config(config, source_product="linear"), "source_product", "immutable")
    refused(lambda: services.update_config(config, source_type="ticket"), "source_type", "immutable")
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

    with pytest.raises(SignalSourceConfig.DoesNotExist):
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
