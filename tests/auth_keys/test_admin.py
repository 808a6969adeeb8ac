"""The operators' Django admin (issue 8) for personal API keys, with Django's test client."""

import json
import re

import pytest
from django.utils import timezone

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from tests.helpers import (
    admin_url,
    changelist_rows,
    configs_url,
    key_client,
    make_key,
    make_organization,
    make_project,
    make_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

RAW_KEY_PATTERN = re.compile(r"phx_[A-Za-z0-9_-]{20,}")


# --- Personal API keys ---------------------------------------------------------------------------


def add_key(admin_client, user, **fields):
    data = {"user": user.pk, "label": "ci", "scopes": ["task:read", "task:write"], **fields}
    return admin_client.post(admin_url("auth_keys_personalapikey_add"), data)


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
        admin_url("auth_keys_personalapikey_changelist"),
        admin_url("auth_keys_personalapikey_change", api_key.pk),
        admin_url("auth_keys_personalapikey_history", api_key.pk),
        admin_url("index"),
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
    response = admin_client.get(admin_url("auth_keys_personalapikey_add"))
    assert response.status_code == 200
    choices = [value for value, _ in response.context["adminform"].form.fields["scopes"].choices]
    assert sorted(choices) == ["*", "activity_log:read", "activity_log:write", "task:read", "task:write"]


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
        admin_url("auth_keys_personalapikey_changelist"), {"action": "revoke", "_selected_action": [revoked_key.pk]}
    )

    changelist = admin_url("auth_keys_personalapikey_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    # The organizations a key is limited to are on its own page, not in the list (it fits 1366 px).
    for text in (alice_key.mask, "deploy bot", "task:read, task:write", "alice@example.com"):
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
        admin_url("auth_keys_personalapikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
        follow=True,
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
    response = admin_client.get(admin_url("auth_keys_personalapikey_change", api_key.pk))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"label", "expires_at"}
    assert "digest" not in response.text.lower()

    response = admin_client.post(
        admin_url("auth_keys_personalapikey_change", api_key.pk),
        {"label": "after", "expires_at_0": "", "expires_at_1": "", "digest": "0" * 64, "scopes": '["*"]'},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.label, api_key.digest, api_key.scopes) == ("after", digest, ["task:read", "task:write"])


@pytest.mark.parametrize("lookup", ["digest", "digest__lt", "digest__gt", "digest__startswith", "digest__regex"])
def test_the_key_list_refuses_lookups_on_the_digest(client, lookup):
    """Issue 12, row 8: a staff user who may view keys recovered a digest in 257 requests by bisecting
    with `?digest__lt=`. Every digest lookup is now refused the same way, whatever its value."""
    from django.contrib.auth.models import Permission

    staff = make_user()
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_personalapikey"))
    api_key, _ = make_key(make_user())
    client.force_login(staff)
    url = "/admin/auth_keys/personalapikey/"
    assert client.get(url).status_code == 200

    below, above = "0" * len(api_key.digest), "f" * len(api_key.digest)
    answers = {client.get(url, {lookup: value}).status_code for value in (below, above, api_key.digest)}

    assert answers == {400}
