"""The operators' Django admin (issue 8): every page and action, with Django's test client."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from projects.models import Organization, OrganizationMembership, Project
from signalsource.models import SignalSourceConfig
from signalsource.services import DUPLICATE_MESSAGE, create_config, set_status

from .conftest import configs_url, key_client, make_key, make_organization, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The admin_client fixture's superuser has a password; real hashing would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


RAW_KEY_PATTERN = re.compile(r"phx_[A-Za-z0-9_-]{20,}")


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def make_config(project, product="github", source_type="issue", **kwargs):
    return create_config(project=project, created_by=None, source_product=product, source_type=source_type, **kwargs)


def changelist_rows(response):
    return list(response.context["cl"].result_list)


# --- Pages ------------------------------------------------------------------------------------


def test_index_lists_every_model(admin_client):
    response = admin_client.get(url("index"))
    assert response.status_code == 200
    for name in ("Organizations", "Projects", "Users", "Personal API keys", "Signal source configs"):
        assert name in response.text


def test_admin_needs_a_staff_login(client):
    response = client.get(url("signalsource_signalsourceconfig_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(url("login"))


def test_static_files_are_served_by_the_service(client):
    """Whitenoise serves the admin's hashed assets from the app itself, no network needed."""
    page = client.get(url("login")).text
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', page).group(1)
    response = client.get(stylesheet)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)


# --- Organizations, projects, users ------------------------------------------------------------


def test_organization_pages_and_members_inline(admin_client):
    member = make_user("member@example.com")
    response = admin_client.post(
        url("projects_organization_add"),
        {
            "name": "Acme",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(member.pk),
            "projects-TOTAL_FORMS": "1",
            "projects-INITIAL_FORMS": "0",
            "projects-0-name": "Website",
        },
    )
    assert response.status_code == 302, response.context["errors"] if response.context else response
    organization = Organization.objects.get(name="Acme")
    assert list(organization.members.all()) == [member]
    assert list(organization.projects.values_list("name", flat=True)) == ["Website"]

    response = admin_client.get(url("projects_organization_changelist"), {"q": "acm"})
    assert response.status_code == 200
    [row] = changelist_rows(response)
    assert (row.member_count, row.project_count) == (1, 1)
    response = admin_client.get(url("projects_organization_change", organization.pk))
    assert response.status_code == 200
    assert "member@example.com" in response.text


def test_project_pages_show_members_and_search_by_name_and_id(admin_client):
    member = make_user("dev@example.com")
    organization = make_organization("Initech")
    project = make_project(organization, members=[member], name="Payments")
    other = make_project(name="Marketing")

    response = admin_client.post(url("projects_project_add"), {"name": "Billing", "organization": organization.pk})
    assert response.status_code == 302
    assert Project.objects.filter(name="Billing", organization=organization).exists()

    response = admin_client.get(url("projects_project_change", project.pk))
    assert response.status_code == 200
    assert "dev@example.com" in response.text
    assert url("projects_organization_change", organization.pk) in response.text

    response = admin_client.get(url("projects_project_changelist"), {"q": "paym"})
    assert changelist_rows(response) == [project]
    response = admin_client.get(url("projects_project_changelist"), {"q": str(other.pk)})
    assert changelist_rows(response) == [other]
    response = admin_client.get(url("projects_project_changelist"), {"q": "not-a-number"})
    assert response.status_code == 200
    assert changelist_rows(response) == []
    response = admin_client.get(url("projects_project_changelist"), {"organization__id__exact": organization.pk})
    assert set(changelist_rows(response)) == {project, Project.objects.get(name="Billing")}


def test_user_pages_show_and_edit_memberships(admin_client):
    user = make_user("ops@example.com")
    organization = make_organization()
    response = admin_client.get(url("auth_user_changelist"), {"q": "ops@"})
    assert response.status_code == 200
    assert changelist_rows(response) == [user]
    response = admin_client.get(url("auth_user_change", user.pk))
    assert response.status_code == 200
    assert "organization membership" in response.text.lower()

    form = response.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-organization": str(organization.pk),
        }
    )
    data.pop("date_joined")
    data.pop("last_login", None)
    data.pop("groups")
    data.pop("user_permissions")
    response = admin_client.post(url("auth_user_change", user.pk), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert OrganizationMembership.objects.filter(user=user, organization=organization).exists()


def test_autocomplete_finds_organizations_projects_and_users(admin_client):
    organization = make_organization("Acme")
    project = make_project(organization, name="Checkout")
    user = make_user("developer@example.com")
    for model, field_name, term, expected in (
        ("project", "organization", "acm", organization),
        ("signalsourceconfig", "project", "checkout", project),
        ("personalapikey", "user", "developer@", user),
    ):
        app_label = {"project": "projects", "signalsourceconfig": "signalsource", "personalapikey": "auth_keys"}[model]
        response = admin_client.get(
            url("autocomplete"), {"term": term, "app_label": app_label, "model_name": model, "field_name": field_name}
        )
        assert response.status_code == 200, response.content
        assert [item["id"] for item in response.json()["results"]] == [str(expected.pk)]


# --- Personal API keys ---------------------------------------------------------------------------


def add_key(admin_client, user, **fields):
    data = {"user": user.pk, "label": "ci", "scopes": ["task:read", "task:write"], **fields}
    return admin_client.post(url("auth_keys_personalapikey_add"), data)


def test_creating_a_key_shows_the_raw_key_exactly_once(admin_client):
    member = make_user()
    project = make_project(members=[member])
    response = add_key(admin_client, member, scoped_projects=[project.pk], expires_in_days="30")
    assert response.status_code == 200
    [raw_key] = RAW_KEY_PATTERN.findall(response.text)
    assert response.text.count(raw_key) == 1
    assert "no-store" in response["Cache-Control"]

    api_key = PersonalAPIKey.objects.get()
    assert api_key.digest == keys.digest(raw_key)  # made by the service: only the digest is stored
    assert (api_key.user, api_key.label, api_key.scopes) == (member, "ci", ["task:read", "task:write"])
    assert api_key.scoped_projects == [project.pk]
    assert api_key.expires_at > timezone.now()
    # The key works against the API.
    assert key_client(raw_key).get(configs_url(project.pk)).status_code == 200

    # Never again, and the digest never at all.
    for page in (
        url("auth_keys_personalapikey_changelist"),
        url("auth_keys_personalapikey_change", api_key.pk),
        url("auth_keys_personalapikey_history", api_key.pk),
        url("index"),
    ):
        text = admin_client.get(page).text
        assert raw_key not in text
        assert api_key.digest not in text
    assert raw_key not in json.dumps(list(PersonalAPIKey.objects.values()), default=str)


def test_key_creation_refuses_missing_scopes_and_creates_nothing(admin_client):
    user = make_user()
    response = add_key(admin_client, user, scopes=[])
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["scopes"] == ["This field is required."]
    response = add_key(admin_client, user, scopes=["task:admin"])
    assert "task:admin is not one of the available choices" in response.context["adminform"].form.errors["scopes"][0]
    response = add_key(admin_client, user, expires_in_days="0")
    assert response.context["adminform"].form.errors["expires_in_days"]
    assert not PersonalAPIKey.objects.exists()
    assert not RAW_KEY_PATTERN.search(response.text)


def test_key_add_form_offers_exactly_the_valid_scopes(admin_client):
    response = admin_client.get(url("auth_keys_personalapikey_add"))
    assert response.status_code == 200
    choices = [value for value, _ in response.context["adminform"].form.fields["scopes"].choices]
    assert sorted(choices) == ["*", "task:read", "task:write"]


def test_key_list_columns_search_and_filters(admin_client):
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    organization = make_organization()
    alice_key, _ = make_key(alice, label="deploy bot", scoped_organizations=[organization.pk])
    bob_key, _ = make_key(bob, scopes=["task:read"], label="reporting")
    expired_key, _ = make_key(bob, label="old")
    PersonalAPIKey.objects.filter(pk=expired_key.pk).update(expires_at=timezone.now() - timezone.timedelta(days=1))
    revoked_key, _ = make_key(alice, label="leaked")
    admin_client.post(
        url("auth_keys_personalapikey_changelist"), {"action": "revoke", "_selected_action": [revoked_key.pk]}
    )

    changelist = url("auth_keys_personalapikey_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    for text in (alice_key.mask, "deploy bot", "task:read, task:write", str(organization.pk), "alice@example.com"):
        assert text in response.text

    def found(**params):
        return set(changelist_rows(admin_client.get(changelist, params)))

    assert found(q=bob_key.mask) == {bob_key}
    assert found(q="alice@example") == {alice_key, revoked_key}
    assert found(q="reporting") == {bob_key}
    assert found(revoked="yes") == {revoked_key}
    assert found(revoked="no") == {alice_key, bob_key, expired_key}
    assert found(expired="yes") == {expired_key}
    assert found(expired="no") == {alice_key, bob_key, revoked_key}


def test_revoke_action_revokes_through_the_service(admin_client):
    user = make_user()
    project = make_project(members=[user])
    api_key, raw_key = make_key(user)
    _, kept_raw_key = make_key(user)
    response = admin_client.post(
        url("auth_keys_personalapikey_changelist"), {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 personal API key(s)." in response.text
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert key_client(raw_key).get(configs_url(project.pk)).status_code == 401
    assert key_client(kept_raw_key).get(configs_url(project.pk)).status_code == 200


def test_key_change_page_edits_label_only_and_never_the_digest(admin_client):
    user = make_user()
    api_key, _ = make_key(user, label="before")
    digest = api_key.digest
    response = admin_client.get(url("auth_keys_personalapikey_change", api_key.pk))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"label", "expires_at"}
    assert "digest" not in response.text.lower()

    response = admin_client.post(
        url("auth_keys_personalapikey_change", api_key.pk),
        {"label": "after", "expires_at_0": "", "expires_at_1": "", "digest": "0" * 64, "scopes": '["*"]'},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.label, api_key.digest, api_key.scopes) == ("after", digest, ["task:read", "task:write"])


# --- Signal source configs ---------------------------------------------------------------------


def add_config(admin_client, project, source="github/issue", config="{}", enabled=True):
    data = {"project": project.pk, "source": source, "config": config}
    if enabled:
        data["enabled"] = "on"
    return admin_client.post(url("signalsource_signalsourceconfig_add"), data)


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
    response = admin_client.get(url("signalsource_signalsourceconfig_add"))
    assert response.status_code == 200
    choices = [value for value, _ in response.context["adminform"].form.fields["source"].choices if value]
    assert choices == [
        "session_replay/session_analysis_cluster",
        "llm_analytics/evaluation",
        "github/issue",
        "linear/issue",
        "zendesk/ticket",
    ]
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


def test_duplicate_config_is_refused_with_the_api_message(admin_client, tenant):
    make_config(tenant.project)
    response = add_config(admin_client, tenant.project, "github/issue")
    assert form_errors(response)["source"] == [DUPLICATE_MESSAGE]
    assert SignalSourceConfig.objects.count() == 1


def change_data(instance, **overrides):
    data = {"config": json.dumps(instance.config), "status": instance.status or ""}
    if instance.enabled:
        data["enabled"] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_config_change_page_formats_json_and_keeps_source_and_project_read_only(admin_client, tenant):
    config = make_config(tenant.project, "session_replay", "session_analysis_cluster", config={"sample_rate": 0.5})
    response = admin_client.get(url("signalsource_signalsourceconfig_change", config.pk))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"enabled", "config", "status"}
    assert "{\n  &quot;sample_rate&quot;: 0.5\n}" in response.text  # indented JSON
    assert "Session replay: session analysis clusters" in response.text
    assert "Known keys: recording_filters, sample_rate, steering, default_not_actionable." in response.text

    other_project = make_project()
    response = admin_client.post(
        url("signalsource_signalsourceconfig_change", config.pk),
        change_data(config, config='{"steering": "be brief"}', source="github/issue", project=other_project.pk),
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.project, config.source_product) == (tenant.project, "session_replay")
    assert config.config == {"steering": "be brief"}  # replaced whole, as PATCH does

    response = admin_client.post(
        url("signalsource_signalsourceconfig_change", config.pk), change_data(config, config='{"sample_rate": -1}')
    )
    assert form_errors(response)["config"] == ["sample_rate must be a number between 0 and 1"]


def test_config_edit_moves_updated_at_but_a_status_change_does_not(admin_client, tenant):
    config = make_config(tenant.project)
    updated_at = config.updated_at
    response = admin_client.post(
        url("signalsource_signalsourceconfig_change", config.pk), change_data(config, status="failed")
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.status, config.updated_at) == ("failed", updated_at)
    assert tenant.client.get(configs_url(tenant.project.pk, config.pk)).json()["status"] == "failed"

    response = admin_client.post(
        url("signalsource_signalsourceconfig_change", config.pk), change_data(config, enabled=None, status="")
    )
    assert response.status_code == 302, form_errors(response)
    config.refresh_from_db()
    assert (config.enabled, config.status) == (False, None)
    assert config.updated_at > updated_at

    response = admin_client.post(
        url("signalsource_signalsourceconfig_change", config.pk), change_data(config, status="paused")
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

    changelist = url("signalsource_signalsourceconfig_changelist")
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
    changelist = url("signalsource_signalsourceconfig_changelist")

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
    response = admin_client.get(url("signalsource_signalsourceconfig_delete", first.pk))
    assert response.status_code == 200
    response = admin_client.post(url("signalsource_signalsourceconfig_delete", first.pk), {"post": "yes"})
    assert response.status_code == 302
    response = admin_client.post(
        url("signalsource_signalsourceconfig_changelist"),
        {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(SignalSourceConfig.objects.all()) == [third]
    assert tenant.client.get(configs_url(tenant.project.pk, first.pk)).status_code == 404


def test_config_history_page(admin_client, tenant):
    response = add_config(admin_client, tenant.project)
    assert response.status_code == 302, form_errors(response)
    config = SignalSourceConfig.objects.get()
    response = admin_client.get(url("signalsource_signalsourceconfig_history", config.pk))
    assert response.status_code == 200
    assert "Added." in response.text
