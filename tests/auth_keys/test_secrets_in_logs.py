"""Raw API keys never appear in logs, error bodies or responses.

One run sends keys, valid and not, in every place a client might put one (header, query string,
JSON body, form body, multipart body), with reading keys from the request both off and on, through
successes, refusals and a crash; then every captured log record, every line written to stdout and
every response is searched for every key.
"""

import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from signalsource import services
from tests.helpers import configs_url, key_client, make_key

GITHUB = {"source_product": "github", "source_type": "issue"}


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could write for this record: message, arguments, extras, traceback."""
    parts = [record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def traffic(tenant, keys):
    """Sends every key in every place; yields each response."""
    valid, unknown, _revoked = keys
    for raw in keys:
        client = key_client(raw)
        yield client.get(tenant.url)
        yield client.get(f"{tenant.url}?limit=1")
        yield client.post(tenant.url, {**GITHUB, "source_product": "nope"}, format="json")
        yield client.get(configs_url(tenant.project.id, "not-a-uuid"))
        yield client.get(configs_url(999_999_999))
    anonymous = APIClient()
    for raw in keys:
        yield anonymous.get(f"{tenant.url}?personal_api_key={raw}&limit=1")
        yield anonymous.get(f"{tenant.url}?limit=1&offset=0&personal_api_key={raw}")
        yield anonymous.post(tenant.url, {**GITHUB, "personal_api_key": raw}, format="json")
        yield anonymous.post(tenant.url, {**GITHUB, "source_type": "ticket", "personal_api_key": raw})  # multipart
        yield anonymous.post(
            tenant.url,
            f"source_product=zendesk&source_type=ticket&personal_api_key={raw}",
            content_type="application/x-www-form-urlencoded",
        )
        yield anonymous.patch(configs_url(tenant.project.id, "x"), {"personal_api_key": raw}, format="json")
    # Several keys in one header, a key in a wrong scheme, and a key with junk around it.
    yield APIClient(HTTP_AUTHORIZATION=f"Bearer {valid} {unknown}").get(tenant.url)
    yield APIClient(HTTP_AUTHORIZATION=f"Token {valid}").get(tenant.url)
    yield APIClient(HTTP_AUTHORIZATION=f"Bearer {valid}\x00junk").get(tenant.url)
    yield APIClient(HTTP_AUTHORIZATION=valid).get(tenant.url)


@pytest.fixture
def keys(tenant):
    revoked_key, revoked_raw = make_key(tenant.user)
    revoked_key.revoked_at = revoked_key.created_at
    revoked_key.save()
    unknown = "phx_" + "Q" * 43
    # Two configs, so that list pages have next/previous links that could echo a query string.
    for body in (GITHUB, {"source_product": "linear", "source_type": "issue"}):
        assert tenant.client.post(tenant.url, body, format="json").status_code == 201
    return tenant.raw_key, unknown, revoked_raw


@pytest.mark.parametrize("keys_in_request_allowed", [False, True])
def test_keys_never_reach_logs_or_responses(tenant, keys, keys_in_request_allowed, caplog, capfd, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("crash while creating")

    caplog.set_level(logging.DEBUG)
    responses = []
    with override_settings(PERSONAL_API_KEY_IN_REQUEST_ALLOWED=keys_in_request_allowed):
        responses.extend(traffic(tenant, keys))
        monkeypatch.setattr(services, "create_config", crash)
        crashed = key_client(tenant.raw_key).post(
            f"{tenant.url}?personal_api_key={tenant.raw_key}", GITHUB, format="json"
        )
        assert crashed.status_code == 500
        responses.append(crashed)

    # The run really did exercise successes, refusals and a crash, and logged them.
    statuses = {r.status_code for r in responses}
    assert {200, 400, 401, 404, 500} <= statuses, statuses
    assert len(caplog.records) >= len(responses)

    logged = "\n".join(record_text(record) for record in caplog.records)
    captured = capfd.readouterr()
    written = captured.out + captured.err
    for raw in keys:
        secret = raw[4:]  # the random part: no prefix, no mask can contain it
        assert secret not in logged
        assert secret not in written
        for response in responses:
            assert secret.encode() not in response.content, (response.status_code, response.content[:300])
            assert all(secret not in value for _, value in response.items()), response.items()
    # The request log names the key by its mask, which is what operators need.
    assert any(getattr(r, "api_key", None) == tenant.api_key.mask for r in caplog.records)


@override_settings(PERSONAL_API_KEY_IN_REQUEST_ALLOWED=True)
def test_list_links_do_not_echo_a_key_sent_in_the_query_string(tenant, keys):
    response = APIClient().get(f"{tenant.url}?personal_api_key={tenant.raw_key}&limit=1")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["next"] is not None
    assert "personal_api_key" not in body["next"]
    assert "limit=1" in body["next"]
    following = APIClient().get(body["next"])
    assert following.status_code == 401  # the link carries no credentials; the client adds its own
