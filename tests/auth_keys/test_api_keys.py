"""Personal API keys: how they are made and stored, which scopes they may carry, and how a request
authenticates with one (contract section 5, issue 3)."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from auth_keys import keys
from auth_keys.authentication import LAST_USED_RESOLUTION, PersonalAPIKeyAuthentication
from auth_keys.models import PersonalAPIKey
from auth_keys.scopes import validate_scopes
from auth_keys.services import create_api_key, revoke_api_key
from projects.models import OrganizationMembership, Project
from tests.helpers import (
    RecordingRouter,
    assert_error,
    configs_url,
    key_client,
    make_key,
    make_organization,
    make_project,
    make_user,
)
from tests.logs import captured_logs

pytestmark = pytest.mark.django_db

INVALID = "Personal API key found in request {} is invalid."
KEY_PATTERN = re.compile(r"^phx_[A-Za-z0-9_-]{43,}$")


def assert_authentication_failed(response, source="Authorization header"):
    assert response.status_code == 401, response.content
    assert response.json() == {
        "type": "authentication_error",
        "code": "authentication_failed",
        "detail": INVALID.format(source),
        "attr": None,
    }
    assert response["WWW-Authenticate"] == "Bearer"


def assert_not_authenticated(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def reload(api_key):
    return PersonalAPIKey.objects.get(pk=api_key.pk)


# --- Making keys ---------------------------------------------------------------------------------


def test_raw_key_is_phx_followed_by_at_least_256_random_bits():
    raw_keys = {keys.generate_raw_key() for _ in range(200)}

    assert len(raw_keys) == 200
    for raw_key in raw_keys:
        assert KEY_PATTERN.match(raw_key), raw_key
        # Each url-safe base64 character carries 6 bits.
        assert (len(raw_key) - len("phx_")) * 6 >= 256


def test_digest_is_the_sha256_hex_of_the_raw_key():
    raw_key = keys.generate_raw_key()

    assert keys.digest(raw_key) == hashlib.sha256(raw_key.encode()).hexdigest()


def test_mask_shows_the_first_four_and_last_four_characters():
    assert keys.mask("phx_abcdefghijklmnopqrstuvwxyz1234") == "phx_...1234"


def test_created_key_stores_digest_and_mask_only(tenant):
    api_key, raw_key = create_api_key(tenant.user, scopes=["task:read"], label="ci")

    stored = reload(api_key)
    assert KEY_PATTERN.match(raw_key)
    assert stored.digest == hashlib.sha256(raw_key.encode()).hexdigest()
    assert stored.mask == f"phx_...{raw_key[-4:]}"
    assert stored.label == "ci"
    assert stored.user == tenant.user
    assert stored.scopes == ["task:read"]
    assert stored.scoped_projects == []
    assert stored.scoped_organizations == []
    assert stored.created_at is not None
    assert stored.last_used_at is None
    assert stored.expires_at is None
    assert stored.revoked_at is None
    assert raw_key not in str(stored)


def test_raw_key_is_nowhere_in_the_database(tenant):
    """Every row of every table, as text: the raw key, or any long piece of it, appears nowhere."""
    response = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    assert response.status_code == 201, response.json()
    secret_part = tenant.raw_key[len("phx_") :]
    pieces = [tenant.raw_key, secret_part[:16], secret_part[-16:]]

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 -- our own table names
            for row in cursor.fetchall():
                text = repr(row)
                for piece in pieces:
                    assert piece not in text, f"a piece of the raw key is stored in {table}"


def test_digest_is_unique_in_the_database(tenant):
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonalAPIKey.objects.create(user=tenant.user, digest=tenant.api_key.digest, mask="phx_...dupe")


def test_keys_can_be_scoped_and_expire(tenant, other_tenant):
    api_key, _ = create_api_key(
        tenant.user,
        scopes=["task:read"],
        scoped_projects=[tenant.project.id, tenant.project.id],
        scoped_organizations=[tenant.organization.id],
        expires_in_days=30,
    )

    stored = reload(api_key)
    assert stored.scoped_projects == [tenant.project.id]
    assert stored.scoped_organizations == [tenant.organization.id]
    assert timedelta(days=29, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scoped_projects": [999999]}, "Unknown project id(s): 999999."),
        ({"scoped_organizations": [999999]}, "Unknown organization id(s): 999999."),
        ({"expires_in_days": 0}, "The expiry must be a positive number of days."),
        ({"expires_in_days": -5}, "The expiry must be a positive number of days."),
        ({"expires_in_days": 10**9}, "The expiry is too far in the future."),
    ],
)
def test_key_with_bad_limits_is_refused_and_not_created(tenant, kwargs, message):
    with pytest.raises(ValidationError) as error:
        create_api_key(tenant.user, scopes=["task:read"], **kwargs)

    assert error.value.messages == [message]
    assert PersonalAPIKey.objects.filter(user=tenant.user).count() == 1


# --- Scopes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "stored"),
    [
        (["task:read"], ["task:read"]),
        (["task:write"], ["task:write"]),
        (["task:write", "task:read", "task:write"], ["task:read", "task:write"]),
        (["*"], ["*"]),
        (("task:read",), ["task:read"]),
    ],
)
def test_valid_scopes_are_kept_deduplicated_in_a_stable_order(scopes, stored):
    assert validate_scopes(scopes) == stored


@pytest.mark.parametrize(
    "scopes",
    [["task:delete"], ["TASK:READ"], ["task:read", "feature_flag:read"], [" task:read"], ["task"], ["**"], [None]],
)
def test_unknown_scopes_are_refused_with_a_message_naming_them(tenant, scopes):
    with pytest.raises(
        ValidationError,
        match=r"Unknown scope\(s\): .+\. "
        r"Valid scopes: \*, activity_log:read, activity_log:write, task:read, task:write\.'\]\}$",
    ):
        create_api_key(tenant.user, scopes=scopes)

    assert PersonalAPIKey.objects.filter(user=tenant.user).count() == 1


@pytest.mark.parametrize("scopes", [[], (), "task:read", None])
def test_a_key_needs_a_list_of_at_least_one_scope(scopes):
    with pytest.raises(ValidationError, match=r"At least one scope is required\.'\]\}$"):
        validate_scopes(scopes)


# --- Authentication ------------------------------------------------------------------------------


def test_valid_key_authenticates(tenant):
    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()


def test_revoked_key_no_longer_authenticates(tenant):
    assert tenant.client.get(tenant.url).status_code == 200

    revoke_api_key(tenant.api_key)

    assert reload(tenant.api_key).revoked_at is not None
    assert_authentication_failed(tenant.client.get(tenant.url))


def test_revoking_twice_keeps_the_first_revocation_time(tenant):
    revoke_api_key(tenant.api_key)
    first = reload(tenant.api_key).revoked_at

    revoke_api_key(reload(tenant.api_key))

    assert reload(tenant.api_key).revoked_at == first


def test_key_authenticates_until_it_expires(tenant):
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(expires_at=timezone.now() + timedelta(minutes=5))
    assert tenant.client.get(tenant.url).status_code == 200

    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = tenant.client.get(tenant.url)

    assert response.status_code == 401, response.json()
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["detail"] == "Personal API key found in request Authorization header has expired."


def test_key_of_an_inactive_user_does_not_authenticate(tenant):
    tenant.user.is_active = False
    tenant.user.save(update_fields=["is_active"])

    assert_authentication_failed(tenant.client.get(tenant.url))


def test_revoked_key_of_another_user_does_not_leak_which_one_it_was(tenant, other_tenant):
    revoke_api_key(other_tenant.api_key)

    assert_authentication_failed(other_tenant.client.get(tenant.url))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {key}",
        "bearer {key}",
        "BEARER {key}",
        "Bearer   {key}  ",
        "  Bearer {key}",
    ],
)
def test_bearer_header_spellings_that_authenticate(tenant, header):
    client = key_client()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=tenant.raw_key))

    response = client.get(tenant.url)

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer phx_",
        "Bearer {key}x",
        "Bearer {upper}",
        "Bearer {key} {key}",
        "Bearer phx_" + "a" * 200,  # longer than any key of ours: refused without hashing
        "Bearer phx_\u00e9\u00e9\u00e9",
    ],
)
def test_bearer_headers_that_do_not_hold_a_valid_key(tenant, header):
    client = key_client()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=tenant.raw_key, upper=tenant.raw_key.upper()))

    assert_authentication_failed(client.get(tenant.url))


@pytest.mark.parametrize("header", ["", "Basic dXNlcjpwYXNz", "Token {key}", "{key}", "Bearer{key}"])
def test_headers_without_a_bearer_key_are_not_authenticated(tenant, header):
    client = key_client()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=tenant.raw_key))

    assert_not_authenticated(client.get(tenant.url))


def key_reads(queries):
    table = PersonalAPIKey._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and table in q["sql"]]


def test_a_key_of_the_maximum_length_is_looked_up_and_authenticates(tenant):
    longest = "phx_" + "a" * (keys.MAX_KEY_LENGTH - len("phx_"))
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(digest=keys.digest(longest))

    response = key_client(longest).get(tenant.url)

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("raw_key", ["", "phx_" + "a" * (keys.MAX_KEY_LENGTH + 1 - len("phx_"))])
def test_an_empty_or_over_long_key_is_refused_without_looking_it_up(tenant, raw_key):
    """Even when a stored key has that digest: such a key cannot be one of ours."""
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(digest=keys.digest(raw_key))
    client = key_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    with CaptureQueriesContext(connection) as queries:
        assert_authentication_failed(client.get(tenant.url))

    assert key_reads(queries.captured_queries) == []


def test_the_key_its_user_and_the_urls_project_are_read_in_one_statement(tenant):
    """The view passes the URL's project to the authenticator (api/viewsets.py): the key's own query
    finds it, with the user's membership, instead of a second query of the view's."""
    tables = [model._meta.db_table for model in (PersonalAPIKey, Project, OrganizationMembership)]

    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get(tenant.url).status_code == 200

    reads = [q["sql"] for q in queries.captured_queries if any(table in q["sql"] for table in tables)]
    reads = [sql for sql in reads if sql.startswith("SELECT")]
    assert len(reads) == 1, reads
    assert all(table in reads[0] for table in tables), reads[0]


@pytest.mark.parametrize("project_id", ["0", "abc", str(2**63)])
def test_a_key_is_checked_where_the_url_names_no_project(tenant, project_id):
    """The key's query then looks for no project: a valid key gets the 404, a wrong one the 401."""
    url = f"/api/projects/{project_id}/signal_source_configs/"

    assert_error(tenant.client.get(url), 404, "invalid_request", "not_found", "Project not found.")
    assert_authentication_failed(key_client("phx_wrong").get(url))


def test_the_keys_query_asks_the_routers_for_its_database_like_the_orm(tenant, settings):
    settings.DATABASE_ROUTERS = ["tests.helpers.RecordingRouter"]
    RecordingRouter.asked = []
    assert tenant.client.get(tenant.url).status_code == 200  # builds what the authenticator caches
    RecordingRouter.asked.clear()

    assert tenant.client.get(tenant.url).status_code == 200

    assert ("read", "PersonalAPIKey") in RecordingRouter.asked


# --- last_used_at: written at most once an hour -------------------------------------------------


def key_updates(queries):
    table = PersonalAPIKey._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_first_use_records_last_used_at(tenant):
    before = timezone.now()

    response = tenant.client.get(tenant.url)

    assert response.status_code == 200, response.json()
    last_used_at = reload(tenant.api_key).last_used_at
    assert last_used_at is not None
    assert before <= last_used_at <= timezone.now()


def test_last_used_at_is_not_written_on_every_request(tenant):
    assert tenant.client.get(tenant.url).status_code == 200
    first = reload(tenant.api_key).last_used_at

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            response = tenant.client.get(tenant.url)
            assert response.status_code == 200, response.json()

    assert reload(tenant.api_key).last_used_at == first
    assert key_updates(queries.captured_queries) == []


def test_last_used_at_is_not_rewritten_within_the_hour(tenant):
    recent = timezone.now() - timedelta(minutes=59)
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(last_used_at=recent)

    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get(tenant.url).status_code == 200

    assert reload(tenant.api_key).last_used_at == recent
    assert key_updates(queries.captured_queries) == []


def test_last_used_at_is_rewritten_after_an_hour(tenant):
    old = timezone.now() - timedelta(minutes=61)
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(last_used_at=old)

    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get(tenant.url).status_code == 200

    assert reload(tenant.api_key).last_used_at > old + timedelta(minutes=60)
    assert len(key_updates(queries.captured_queries)) == 1


def test_last_used_at_is_rewritten_at_exactly_an_hour(tenant, pinned_now):
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(last_used_at=pinned_now.now - LAST_USED_RESOLUTION)

    assert tenant.client.get(tenant.url).status_code == 200

    assert reload(tenant.api_key).last_used_at == pinned_now.now


def test_a_request_records_the_use_of_its_own_key_only(tenant, other_tenant):
    another_key_of_the_user, _ = make_key(tenant.user)

    assert tenant.client.get(tenant.url).status_code == 200

    assert reload(tenant.api_key).last_used_at is not None
    assert reload(another_key_of_the_user).last_used_at is None
    assert reload(other_tenant.api_key).last_used_at is None


def test_requests_that_read_the_key_before_either_wrote_record_its_use_once(tenant, pinned_now):
    """The hour's condition sits in the UPDATE itself: the second request's copy of the key still says
    "never used", but the stored key, written a minute earlier by the first request, is not written again."""
    first, second = reload(tenant.api_key), reload(tenant.api_key)
    first_use = pinned_now.now

    PersonalAPIKeyAuthentication._touch_last_used(first)
    pinned_now.now += timedelta(minutes=1)
    PersonalAPIKeyAuthentication._touch_last_used(second)

    assert reload(tenant.api_key).last_used_at == first_use


def test_the_authenticated_key_carries_the_use_just_recorded(tenant):
    request = Request(APIRequestFactory().get(tenant.url, HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}"))

    user, api_key = PersonalAPIKeyAuthentication().authenticate(request)

    assert user == tenant.user
    assert api_key.last_used_at is not None
    assert api_key.last_used_at == reload(tenant.api_key).last_used_at


def test_last_used_at_write_touches_only_that_column(tenant):
    """A label edited by an operator meanwhile is not overwritten by the request's stale copy."""
    PersonalAPIKey.objects.filter(pk=tenant.api_key.pk).update(label="renamed by operator")

    assert tenant.client.get(tenant.url).status_code == 200

    stored = reload(tenant.api_key)
    assert stored.label == "renamed by operator"
    assert stored.last_used_at is not None


def test_refused_keys_do_not_record_use(tenant):
    revoke_api_key(tenant.api_key)

    assert tenant.client.get(tenant.url).status_code == 401

    assert reload(tenant.api_key).last_used_at is None


# --- The raw key never reaches the logs ----------------------------------------------------------


@pytest.fixture
def all_logs():
    """Everything logged while the test runs, at every level, formatted as the service formats it."""
    with captured_logs() as stream:
        yield stream


def test_raw_key_is_absent_from_the_logs_of_requests_that_used_it(tenant, other_tenant, all_logs, settings):
    settings.PERSONAL_API_KEY_IN_REQUEST_ALLOWED = True
    body = {"source_product": "github", "source_type": "issue"}
    assert tenant.client.post(tenant.url, body, format="json").status_code == 201
    assert tenant.client.post(tenant.url, body, format="json").status_code == 400  # duplicate
    assert tenant.client.get(other_tenant.url).status_code == 403
    assert tenant.client.get(configs_url(999999)).status_code == 404
    assert tenant.client.get(f"{tenant.url}?limit=x").status_code == 200
    assert key_client().get(f"{tenant.url}?personal_api_key={tenant.raw_key}").status_code == 200
    assert key_client().post(tenant.url, {"personal_api_key": tenant.raw_key}, format="json").status_code == 400
    revoke_api_key(tenant.api_key)
    assert tenant.client.get(tenant.url).status_code == 401
    assert key_client().get(f"{tenant.url}?personal_api_key={tenant.raw_key}").status_code == 401

    logged = all_logs.getvalue()
    assert logged.count('"message": "request"') == 9
    assert tenant.api_key.mask in logged
    assert tenant.raw_key not in logged
    assert tenant.raw_key[len("phx_") :][:16] not in logged


# --- The key in a query parameter or body field: off unless the setting turns it on ----------------


def test_key_in_query_or_body_is_ignored_by_default(tenant):
    client = key_client()

    assert_not_authenticated(client.get(f"{tenant.url}?personal_api_key={tenant.raw_key}"))
    assert_not_authenticated(
        client.post(
            tenant.url, {"source_product": "github", "source_type": "issue", "personal_api_key": tenant.raw_key}
        )
    )


@pytest.fixture
def key_in_request_allowed(settings):
    settings.PERSONAL_API_KEY_IN_REQUEST_ALLOWED = True


def test_key_in_query_parameter_when_allowed(tenant, key_in_request_allowed):
    response = key_client().get(f"{tenant.url}?personal_api_key={tenant.raw_key}")

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("format_", ["json", "multipart"])
def test_key_in_body_field_when_allowed(tenant, key_in_request_allowed, format_):
    body = {"source_product": "github", "source_type": "issue", "personal_api_key": tenant.raw_key}

    response = key_client().post(tenant.url, body, format=format_)

    assert response.status_code == 201, response.json()
    assert "personal_api_key" not in response.json()


def test_key_in_form_body_when_allowed(tenant, key_in_request_allowed):
    response = key_client().post(
        tenant.url,
        f"source_product=github&source_type=issue&personal_api_key={tenant.raw_key}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 201, response.json()


def test_bad_key_in_query_or_body_names_where_it_was_found(tenant, key_in_request_allowed):
    assert_authentication_failed(key_client().get(f"{tenant.url}?personal_api_key=phx_nope"), "query string")
    assert_authentication_failed(key_client().post(tenant.url, {"personal_api_key": "phx_nope"}, format="json"), "body")


def test_authorization_header_wins_over_query_parameter(tenant, other_tenant, key_in_request_allowed):
    # The header's key (a member of tenant's project) decides, not the query's (a non-member).
    response = tenant.client.get(f"{tenant.url}?personal_api_key={other_tenant.raw_key}")

    assert response.status_code == 200, response.json()


def test_non_string_body_field_is_not_a_key(tenant, key_in_request_allowed):
    response = key_client().post(tenant.url, {"personal_api_key": ["phx_a", "phx_b"]}, format="json")

    assert_not_authenticated(response)


# --- Keys act for their own user only ------------------------------------------------------------


def test_keys_of_two_users_reach_only_their_own_organizations(tenant, other_tenant):
    assert tenant.client.get(tenant.url).status_code == 200
    assert other_tenant.client.get(other_tenant.url).status_code == 200
    assert tenant.client.get(other_tenant.url).status_code == 403
    assert other_tenant.client.get(tenant.url).status_code == 403


def test_a_user_may_hold_several_keys_each_with_its_own_scopes(tenant):
    _, reader = make_key(tenant.user, ["task:read"])
    _, writer = make_key(tenant.user, ["task:write"])
    body = {"source_product": "github", "source_type": "issue"}

    assert key_client(reader).post(tenant.url, body, format="json").status_code == 403
    assert key_client(writer).post(tenant.url, body, format="json").status_code == 201
    assert key_client(reader).get(tenant.url).json()["count"] == 1


def test_key_scoped_to_an_organization_by_id(db):
    user = make_user()
    organization = make_organization()
    project = make_project(organization, members=[user])
    _, raw_key = make_key(user, scoped_organizations=[organization.id])

    assert key_client(raw_key).get(configs_url(project.id)).status_code == 200
