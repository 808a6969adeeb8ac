"""The operators' Django admin (issue 8) for signal source configs, with Django's test client."""

import json

import pytest

from signalsource import catalog
from signalsource.models import SignalSourceConfig
from signalsource.services import DUPLICATE_MESSAGE, set_status
from tests.helpers import admin_url, changelist_rows, configs_url, make_config, make_organization, make_project

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


# --- Signal source configs ---------------------------------------------------------------------


def add_config(admin_client, project, source="github/issue", config="{}", enabled=True):
    data = {"project": project.pk, "source": source, "config": config}
    if enabled:
        data["enabled"] = "on"
    return admin_client.post(admin_url("signalsource_signalsourceconfig_add"), data)


def form_errors(response):
    return response.context["adminform"].form.errors


def test_config_add_goes_through_the_service_and_shows_in_the_api(admin_client, admin_user, tenant):
    response = add_config(admin_client, tenant.project, "linear/issue", '{"linear_team_ids": [" team-a "], "extra": 1}')
    assert response.status_code == 302, form_errors(response)
    config = SignalSourceConfig.objects.get()
    assert (config.source_product, config.source_type, config.enabled) == ("linear", "issue", True)
    assert config.config == {"linear_team_ids": ["team-a"], "extra": 1}  # cleaned as the API cleans it
    assert (config.created_by, config.status) == (admin_user, None)

    [item] = tenant.client.get(tenant.url).json()["results"]
    assert item["id"] == str(config.id)


def test_config_add_form_offers_only_valid_pairs(admin_client):
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_add"))
    assert response.status_code == 200
    choices = [value for value, _ in response.context["adminform"].form.fields["source"].choices if value]
    assert choices[:5] == [
        "session_replay/session_analysis_cluster",
        "llm_analytics/evaluation",
        "github/issue",
        "linear/issue",
        "zendesk/ticket",
    ]
    assert choices == [f"{source.product}/{source.type}" for source in catalog.SOURCES]
    assert '"steering"' not in response.text  # an empty config box
    response = add_config(admin_client, make_project(), "github/ticket")
    assert "Select a valid choice" in form_errors(response)["source"][0]
    assert not SignalSourceConfig.objects.exists()


@pytest.mark.parametrize(
    ("source", "config"),
    [
        ("session_replay/session_analysis_cluster", {"sample_rate": 2}),
        ("session_replay/session_analysis_cluster", {"recording_filters": []}),
        ("github/issue", {"steering": 5}),
        ("github/issue", {"steering": "x" * 2001}),
        ("zendesk/ticket", {"default_not_actionable": "yes"}),
        ("linear/issue", {"linear_team_ids": ["  "]}),
        ("github/issue", {"text": "nul \u0000 inside"}),
        ("github/issue", [1, 2]),
    ],
)
def test_config_is_validated_with_the_api_messages(admin_client, tenant, source, config):
    product, source_type = source.split("/")
    api_response = tenant.client.post(
        tenant.url, {"source_product": product, "source_type": source_type, "config": config}, format="json"
    )
    assert api_response.status_code == 400, api_response.json()
    assert api_response.json()["attr"] == "config"

    response = add_config(admin_client, tenant.project, source, json.dumps(config))
    assert response.status_code == 200
    assert form_errors(response)["config"] == [api_response.json()["detail"]]
    assert not SignalSourceConfig.objects.exists()


def test_config_must_be_json(admin_client, tenant):
    response = add_config(admin_client, tenant.project, config="{not json")
    assert form_errors(response)["config"] == ["Enter a valid JSON."]
    response = add_config(admin_client, tenant.project, config="null")
    assert form_errors(response)["config"] == ["config must be a JSON object"]
    assert not SignalSourceConfig.objects.exists()


def test_duplicate_config_is_refused(admin_client, tenant):
    make_config(tenant.project)
    response = add_config(admin_client, tenant.project, "github/issue")
    # The service's rule, in the admin's words (the API's message names the API's fields).
    assert form_errors(response)["source"] == ["This project already has a config for this source."]
    assert DUPLICATE_MESSAGE not in response.text
    assert SignalSourceConfig.objects.count() == 1


def change_data(instance, **overrides):
    data = {"config": json.dumps(instance.config), "status": instance.status or ""}
    if instance.enabled:
        data["enabled"] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_config_change_page_formats_json_and_keeps_source_and_project_read_only(admin_client, tenant):
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster", config={"sample_rate": 0.5})
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_change", config.pk))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"enabled", "config", "status"}
    assert "{\n  &quot;sample_rate&quot;: 0.5\n}" in response.text  # indented JSON
    assert "Session replay: session analysis clusters" in response.text
    assert (
        "Known keys: recording_filters, sample_rate, linear_team_ids, steering, default_not_actionable."
        in response.text
    )

    other_project = make_project()
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk),
        change_data(config, config='{"steering": "be brief"}', source="github/issue", project=other_project.pk),
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.project, config.source_product) == (tenant.project, "session_replay")
    assert config.config == {"steering": "be brief"}  # replaced whole, as PATCH does

    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk),
        change_data(config, config='{"sample_rate": -1}'),
    )
    assert form_errors(response)["config"] == ["sample_rate must be a number between 0 and 1"]


def test_config_edit_moves_updated_at_but_a_status_change_does_not(admin_client, tenant):
    config = make_config(tenant.project)
    updated_at = config.updated_at
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk), change_data(config, status="failed")
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.status, config.updated_at) == ("failed", updated_at)
    assert tenant.client.get(configs_url(tenant.project.pk, config.pk)).json()["status"] == "failed"

    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk), change_data(config, enabled=None, status="")
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.enabled, config.status) == (False, None)
    assert config.updated_at > updated_at

    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_change", config.pk), change_data(config, status="paused")
    )
    assert "Select a valid choice" in form_errors(response)["status"][0]


def test_config_list_columns_filters_and_search(admin_client):
    acme = make_organization("Acme")
    website = make_project(acme, name="Website")
    mobile = make_project(name="Mobile app")
    github = make_config(website)
    zendesk = make_config(website, "zendesk", "ticket", enabled=False)
    replay = make_config(mobile, "session_replay", "session_analysis_cluster")
    set_status(replay, "running")

    changelist = admin_url("signalsource_signalsourceconfig_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert changelist_rows(response) == [replay, zendesk, github]  # newest updated first
    for text in ("Website (", "Zendesk: tickets", "session_analysis_cluster", "Running"):
        assert text in response.text

    def found(**params):
        response = admin_client.get(changelist, params)
        assert response.status_code == 200
        return set(changelist_rows(response))

    assert found(source_product__exact="zendesk") == {zendesk}
    assert found(source_type__exact="issue") == {github}
    assert found(enabled__exact="0") == {zendesk}
    assert found(status="running") == {replay}
    assert found(status="unknown") == {github, zendesk}
    assert found(project__organization__id__exact=acme.pk) == {github, zendesk}
    assert found(q="websit") == {github, zendesk}
    assert found(q=str(mobile.pk)) == {replay}
    assert found(q=str(replay.pk)) == {replay}
    assert found(q="nothing like it") == set()


def test_enable_and_disable_actions(admin_client, tenant):
    enabled = make_config(tenant.project)
    disabled = make_config(tenant.project, "zendesk", "ticket", enabled=False)
    enabled_updated_at = enabled.updated_at
    changelist = admin_url("signalsource_signalsourceconfig_changelist")

    response = admin_client.post(
        changelist, {"action": "enable", "_selected_action": [enabled.pk, disabled.pk]}, follow=True
    )
    assert "Enabled 1 signal source config(s)." in response.text
    enabled.refresh_from_db()
    disabled.refresh_from_db()
    assert disabled.enabled is True
    assert enabled.updated_at == enabled_updated_at  # nothing to change, nothing touched

    response = admin_client.post(
        changelist, {"action": "disable", "_selected_action": [enabled.pk, disabled.pk]}, follow=True
    )
    assert "Disabled 2 signal source config(s)." in response.text
    assert [item["enabled"] for item in tenant.client.get(tenant.url).json()["results"]] == [False, False]


def test_delete_one_and_delete_selected(admin_client, tenant):
    first = make_config(tenant.project)
    second = make_config(tenant.project, "zendesk", "ticket")
    third = make_config(tenant.project, "linear", "issue")
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_delete", first.pk))
    assert response.status_code == 200
    response = admin_client.post(admin_url("signalsource_signalsourceconfig_delete", first.pk), {"post": "yes"})
    assert response.status_code == 302
    response = admin_client.post(
        admin_url("signalsource_signalsourceconfig_changelist"),
        {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(SignalSourceConfig.objects.all()) == [third]
    assert tenant.client.get(configs_url(tenant.project.pk, first.pk)).status_code == 404


def test_config_history_page(admin_client, tenant):
    response = add_config(admin_client, tenant.project)
    assert response.status_code == 302, form_errors(response)
    config = SignalSourceConfig.objects.get()
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_history", config.pk))
    assert response.status_code == 200
    # The activity log's record of the admin's create, and not Django's own entry ("Added.") as well.
    assert response.text.count('class="activity-record"') == 1
    assert "Added." not in response.text


# --- Rough edges (issue 13) --------------------------------------------------------------------


def test_add_form_lists_the_known_keys_of_every_source_not_the_default_ones(admin_client):
    from signalsource import catalog

    response = admin_client.get(admin_url("signalsource_signalsourceconfig_add"))
    help_text = response.context["adminform"].form.fields["config"].help_text
    assert help_text == (
        "A JSON object. Known keys of every source: linear_team_ids, steering, default_not_actionable. "
        "Session replay: session analysis clusters also: recording_filters, sample_rate. "
        "Other keys are kept as sent."
    )
    # Each source's known keys are there, every source's once.
    for source in catalog.SOURCES:
        assert all(rule.key in help_text for rule in catalog.config_rules_for(source.product, source.type))
    assert help_text.count("linear_team_ids") == 1


def test_change_form_lists_its_sources_known_keys(admin_client, tenant):
    config = make_config(tenant.project, "linear", "issue")
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_change", config.pk))
    help_text = response.context["adminform"].form.fields["config"].help_text
    assert help_text == "Known keys: linear_team_ids, steering, default_not_actionable."


def test_duplicate_message_speaks_the_admins_words(admin_client, tenant):
    make_config(tenant.project, "github", "issue")
    response = add_config(admin_client, tenant.project, "github/issue")
    assert response.status_code == 200
    assert form_errors(response)["source"] == ["This project already has a config for this source."]
    assert "source_product" not in response.content.decode()


def test_title_uses_the_catalogs_label(admin_client, tenant):
    config = make_config(tenant.project, "zendesk", "ticket")
    assert str(config) == f"Zendesk: tickets in project {tenant.project.id}"
    response = admin_client.get(admin_url("signalsource_signalsourceconfig_change", config.pk))
    assert f"<title>Zendesk: tickets in project {tenant.project.id} |" in response.content.decode()


def test_times_show_their_zone_and_the_list_shows_the_source_label(admin_client, tenant):
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster")
    listing = admin_client.get(admin_url("signalsource_signalsourceconfig_changelist")).content.decode()
    assert f"{config.updated_at:%Y-%m-%d %H:%M:%S} UTC" in listing
    assert "Session replay: session analysis clusters" in listing  # wraps, so the list fits 1366 px
    change = admin_client.get(admin_url("signalsource_signalsourceconfig_change", config.pk)).content.decode()
    assert f"{config.created_at:%Y-%m-%d %H:%M:%S} UTC" in change
