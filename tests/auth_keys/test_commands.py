"""The key commands, with exactly the interface of issue 3 (scripts rely on it):

    create_api_key EMAIL --scopes S,S [--project ID ...] [--organization NAME ...] [--label TEXT]
                   [--expires-in-days N]                             -> prints the raw key alone
    revoke_api_key MASK_OR_ID

Errors exit non-zero with nothing on stdout.
"""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from auth_keys import keys
from auth_keys.models import PersonalAPIKey
from tests.helpers import (
    KEY_LINE,
    configs_url,
    key_client,
    key_for,
    make_key,
    make_organization,
    make_project,
    make_user,
    run,
    run_cli,
)

# --- create_api_key ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_key_prints_only_the_raw_key_which_works():
    user = make_user("ana@example.com")
    project = make_project(members=[user])

    stdout, stderr = run("create_api_key", "ana@example.com", "--scopes", "task:read,task:write")

    assert KEY_LINE.match(stdout)
    assert stderr == ""
    raw_key = stdout.strip()
    api_key = key_for(raw_key)
    assert api_key.user == user
    assert api_key.scopes == ["task:read", "task:write"]
    assert api_key.mask == keys.mask(raw_key)
    response = key_client(raw_key).post(
        configs_url(project.id), {"source_product": "github", "source_type": "issue"}, format="json"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_create_api_key_with_every_option():
    user = make_user("ana@example.com")
    acme, beta = make_organization("Acme"), make_organization("Beta")
    first, second = make_project(acme, members=[user]), make_project(beta, members=[user])

    stdout, _ = run(
        "create_api_key",
        "Ana@Example.com",
        "--scopes",
        " task:read , * ",
        "--project",
        str(first.id),
        "--project",
        str(second.id),
        "--organization",
        "Acme",
        "--organization",
        "Beta",
        "--label",
        "deploy bot",
        "--expires-in-days",
        "7",
    )

    api_key = key_for(stdout.strip())
    assert api_key.user == user
    assert api_key.scopes == ["*", "task:read"]
    assert api_key.scoped_projects == sorted([first.id, second.id])
    assert api_key.scoped_organizations == sorted([acme.id, beta.id])
    assert api_key.label == "deploy bot"
    assert timedelta(days=6, hours=23) < api_key.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--scopes", "task:read"], "No user with email 'nobody@example.com'."),
        (["ana@example.com", "--scopes", "task:admin"], "Unknown scope(s): task:admin."),
        (["ana@example.com", "--scopes", "task:read,tasks:write"], "Unknown scope(s): tasks:write."),
        (["ana@example.com", "--scopes", " , "], "At least one scope is required."),
        (["ana@example.com", "--scopes", "task:read", "--project", "999999"], "Unknown project id(s): 999999."),
        (["ana@example.com", "--scopes", "task:read", "--project", "abc"], "invalid int value: 'abc'"),
        (["ana@example.com", "--scopes", "task:read", "--organization", "Nope"], "No organization named 'Nope'."),
        (["ana@example.com", "--scopes", "task:read", "--expires-in-days", "0"], "positive number of days"),
        (["ana@example.com", "--scopes", "task:read", "--expires-in-days", "99999999"], "too far in the future"),
        (["ana@example.com"], "--scopes"),
    ],
)
def test_create_api_key_refuses_bad_input_and_creates_nothing(args, message):
    make_user("ana@example.com")

    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_api_key", *args)

    assert PersonalAPIKey.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--scopes", "task:read"], "CommandError: No user with email 'nobody@example.com'.\n"),
        (
            ["ana@example.com", "--scopes", "task:nope"],
            "CommandError: Unknown scope(s): task:nope. "
            "Valid scopes: *, activity_log:read, activity_log:write, task:read, task:write.\n",
        ),
    ],
    ids=["unknown-user", "unknown-scope"],
)
def test_create_api_key_errors_exit_non_zero_with_nothing_on_stdout(args, message):
    make_user("ana@example.com")

    status, stdout, stderr = run_cli("auth_keys", "create_api_key", *args)

    assert status != 0
    assert stdout == ""
    assert stderr == message
    assert PersonalAPIKey.objects.count() == 0


# --- revoke_api_key ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["mask", "id"])
def test_revoke_api_key_by_mask_or_id(tenant, by):
    name = tenant.api_key.mask if by == "mask" else str(tenant.api_key.pk)
    assert tenant.client.get(tenant.url).status_code == 200

    stdout, _ = run("revoke_api_key", name)

    assert stdout == f"Revoked {tenant.api_key.mask} (id {tenant.api_key.pk}).\n"
    assert PersonalAPIKey.objects.get(pk=tenant.api_key.pk).revoked_at is not None
    assert tenant.client.get(tenant.url).status_code == 401


@pytest.mark.django_db
def test_revoke_api_key_leaves_other_keys_alone(tenant):
    _, other_raw_key = make_key(tenant.user)

    run("revoke_api_key", tenant.api_key.mask)

    assert key_client(other_raw_key).get(tenant.url).status_code == 200


@pytest.mark.django_db
def test_revoke_api_key_refuses_an_unknown_key(tenant):
    with pytest.raises(CommandError, match=re.escape("No API key matches 'phx_...zzzz'.")):
        run("revoke_api_key", "phx_...zzzz")
    with pytest.raises(CommandError, match=re.escape("No API key matches '999999'.")):
        run("revoke_api_key", "999999")

    assert PersonalAPIKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_revoke_api_key_refuses_a_mask_two_keys_share(tenant):
    second, _ = make_key(tenant.user)
    PersonalAPIKey.objects.filter(pk=second.pk).update(mask=tenant.api_key.mask)

    with pytest.raises(CommandError, match="2 keys share the mask"):
        run("revoke_api_key", tenant.api_key.mask)

    assert PersonalAPIKey.objects.filter(revoked_at__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_revoke_api_key_error_exits_non_zero():
    status, stdout, stderr = run_cli("auth_keys", "revoke_api_key", "phx_...none")

    assert status != 0
    assert stdout == ""
    assert stderr == "CommandError: No API key matches 'phx_...none'.\n"
