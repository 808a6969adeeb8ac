"""Bad input of every kind gets a clear JSON error in the flat format and changes nothing; never a 500.

Runs on SQLite and on PostgreSQL (where NUL characters and lone surrogates would make the database
itself refuse a write, were they to reach it).
"""

import contextlib
import http.client
import io
import json
import socket

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from signalsource.models import SignalSourceConfig
from tests.helpers import ANY, assert_error, configs_url, database_state
from tests.live_server import HANG_GUARD_SECONDS, call, live_database, served

GITHUB = {"source_product": "github", "source_type": "issue"}
REPLAY = {"source_product": "session_replay", "source_type": "session_analysis_cluster"}
LINEAR = {"source_product": "linear", "source_type": "issue"}
LONG = "x" * 200_000  # far above every limit, well under the 1 MiB body limit


@pytest.fixture
def existing(tenant):
    """A config to PATCH, in a project that already holds one of each kind of row."""
    response = tenant.client.post(tenant.url, {**REPLAY, "config": {"sample_rate": 0.5}}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- JSON bodies ------------------------------------------------------------------------------

MALFORMED_JSON = [
    b"{",
    b"{'source_product': 'github'}",
    b'{"source_product": "github"} trailing',
    b"nul",
    b"\xff\xfe{\x00}\x00",
    b'{"source_product": "git\xffhub", "source_type": "issue"}',  # invalid UTF-8
    b'{"source_product": "github", "source_type": "issue", "config": {"a": NaN}}',
    b'{"source_product": "github", "source_type": "issue", "config": {"a": Infinity}}',
    b'{"source_product": "github", "source_type": "issue", "config": {"a": 1e999}}',
    b'{"source_product": "\\ud800", "source_type": "issue"}',  # lone surrogates, escaped
    b'{"source_product": "github", "source_type": "issue", "config": {"steering": "\\udfff"}}',
    b'{"source_product": "github", "source_type": "issue", "config": {"\\ud800x": 1}}',
    b'{"source_product": "github", "source_type": "issue", "config": {"a": ["ok", "\\udbff\\u0041"]}}',
    b'{"source_product": "github", "source_type": "issue", "config": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"source_product": "github", "source_type": "issue", "config": {"a": "\x01raw control"}}',
]

NOT_AN_OBJECT = [b"[]", b'"github"', b"1", b"null", b"true", b'[{"source_product": "github", "source_type": "issue"}]']


@pytest.mark.parametrize("body", MALFORMED_JSON + NOT_AN_OBJECT)
def test_malformed_or_non_object_json_is_a_400_on_create_and_update(tenant, existing, body):
    before = database_state()
    for method, url in (("post", tenant.url), ("patch", configs_url(tenant.project.id, existing["id"]))):
        response = getattr(tenant.client, method)(url, body, content_type="application/json")
        assert_error(response, 400, attr=ANY)
    assert database_state() == before


def wrong_values():
    """(base body, field, value): every field with every wrong type, NULs and very long strings."""
    cases = []
    for field in ("source_product", "source_type"):
        for value in (1, 1.5, True, None, [], {}, [field], {"a": 1}, "", "GITHUB", "github\x00", "\x00", LONG):
            cases.append((GITHUB, field, value))
    for value in ("maybe", 2, -1, 1.5, [], {}, None, "", "true\x00", LONG):
        cases.append((GITHUB, "enabled", value))
    for value in (
        [],
        "x",
        "{}",
        1,
        True,
        None,
        LONG,
        {"a": "\x00"},
        {"\x00": 1},
        {"a": ["b\x00"]},
        {"a": {"b": {"c\x00": "d"}}},
        {"a": [{"b": "c\x00d"}]},
        {"steering": "x" * 2001},
        {"steering": 1},
        {"steering": "\x00"},
        {"steering": LONG},
        {"default_not_actionable": "yes"},
        {"x": "y" * 70_000},
        {"k" * 70_000: 1},
        {"a": [LONG]},
    ):
        cases.append((GITHUB, "config", value))
    for value in (
        {"sample_rate": 2},
        {"sample_rate": -0.1},
        {"sample_rate": True},
        {"sample_rate": "0.5"},
        {"recording_filters": []},
        {"recording_filters": "x"},
    ):
        cases.append((REPLAY, "config", value))
    for value in (
        {"linear_team_ids": "x"},
        {"linear_team_ids": [""]},
        {"linear_team_ids": ["  "]},
        {"linear_team_ids": ["x" * 256]},
        {"linear_team_ids": ["a"] * 101},
        {"linear_team_ids": [1]},
        {"linear_team_ids": ["a\x00"]},
    ):
        cases.append((LINEAR, "config", value))
    return cases


WRONG_VALUES = wrong_values()


@pytest.mark.parametrize(
    ("base", "field", "value"), WRONG_VALUES, ids=[f"{c[1]}-{i}" for i, c in enumerate(WRONG_VALUES)]
)
def test_a_wrong_value_in_any_field_is_a_400_naming_the_field(tenant, base, field, value):
    before = database_state()
    response = tenant.client.post(tenant.url, {**base, field: value}, format="json")
    assert_error(response, 400, "validation_error", attr=field)
    assert database_state() == before


@pytest.mark.parametrize(("base", "field", "value"), [c for c in WRONG_VALUES if c[1] in ("enabled", "config")])
def test_a_wrong_value_in_a_patch_is_a_400_and_leaves_the_config_as_it_was(tenant, base, field, value):
    created = tenant.client.post(tenant.url, base, format="json")
    assert created.status_code == 201, created.json()
    before = database_state()
    response = tenant.client.patch(configs_url(tenant.project.id, created.json()["id"]), {field: value}, format="json")
    assert_error(response, 400, "validation_error", attr=field)
    assert database_state() == before


@pytest.mark.parametrize("field", ["source_product", "source_type"])
@pytest.mark.parametrize("value", ["github\x00", "x" * 100_000, "", None, 1])
def test_patching_the_source_with_a_bad_value_is_a_400(tenant, existing, field, value):
    before = database_state()
    response = tenant.client.patch(configs_url(tenant.project.id, existing["id"]), {field: value}, format="json")
    assert_error(response, 400, "validation_error", attr=field)
    assert database_state() == before


@pytest.mark.parametrize(
    "number", [18446744073709551615, -9223372036854775808, 1e26, -1e26, 1.7976931348623157e308, 5e-324]
)
def test_numbers_that_would_not_read_back_as_sent_are_refused(tenant, number):
    # PostgreSQL's jsonb read 1e26 back as a 27-digit integer (and 1e308 as 309 digits), beyond what
    # orjson writes; such numbers are now refused (issue 12). api/renderers.py still falls back to
    # the standard library for rows stored before.
    before = database_state()
    response = tenant.client.post(tenant.url, {**GITHUB, "config": {"n": number}}, format="json")
    assert_error(response, 400, "validation_error", attr="config")
    assert database_state() == before


@pytest.mark.parametrize("number", [2**53 - 1, -(2**53 - 1), 1e15, -1e15, 1e-6, -1e-6, -0.0, 0.1])
def test_extreme_numbers_inside_config_are_stored_and_read_back(tenant, number):
    response = tenant.client.post(tenant.url, {**GITHUB, "config": {"n": number}}, format="json")
    assert response.status_code == 201, response.json()
    again = tenant.client.get(configs_url(tenant.project.id, response.json()["id"]))
    assert again.status_code == 200, again.json()
    assert same_number(again.json()["config"]["n"], number)
    listed = tenant.client.get(tenant.url)
    assert listed.status_code == 200, listed.json()
    assert same_number(listed.json()["results"][0]["config"]["n"], number)


def same_number(read_back, sent) -> bool:
    # jsonb keeps the decimal the client wrote (1e26 comes back as 10**26): the same number as sent.
    return read_back == sent or float(read_back) == float(sent)


# --- Form and multipart bodies -----------------------------------------------------------------

FORM_BAD_FIELDS = [
    {"source_product": "github\x00"},
    {"source_product": "\x00"},
    {"source_product": LONG},
    {"source_type": "issue\x00"},
    {"enabled": "maybe"},
    {"enabled": "true\x00"},
    {"config": "{"},
    {"config": "[]"},
    {"config": "null"},
    {"config": '"text"'},
    {"config": '{"a": "\\u0000"}'},
    {"config": '{"\\u0000": 1}'},
    {"config": '{"a": "\\ud800"}'},
    {"config": '{"a": "\x00"}'},
    {"config": '{"steering": "' + "x" * 2001 + '"}'},
    {"config": '{"x": "' + "y" * 70_000 + '"}'},
    {"config": LONG},
    {"config": '{"a": NaN}'},
]


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize("fields", FORM_BAD_FIELDS)
def test_bad_form_and_multipart_fields_are_a_400(tenant, fields, encoding):
    before = database_state()
    data = {**GITHUB, "config": "{}", **fields}
    if encoding == "form":
        response = tenant.client.post(
            tenant.url,
            "&".join(f"{k}={_percent(v)}" for k, v in data.items()),
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = tenant.client.post(tenant.url, data, format="multipart")
    assert_error(response, 400, "validation_error", attr=next(iter(fields)))
    assert database_state() == before


def _percent(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


RAW_FORM_BODIES = [
    # A lone surrogate as raw (CESU-8 style) bytes, and other invalid UTF-8, percent-encoded or not.
    b"source_product=github%ED%A0%80&source_type=issue",
    b"source_product=github&source_type=issue&config=%7B%22a%22%3A%22%ED%A0%80%22%7D",
    b"source_product=github&source_type=issue&config=%7B%22a%22%3A%22%FF%22%7D",
    b'source_product=github&source_type=issue&config={"a": "\xed\xa0\x80"}',
    b"source_product=git\xffhub&source_type=issue",
]


@pytest.mark.parametrize("body", RAW_FORM_BODIES)
def test_invalid_utf8_in_a_form_body_is_a_400(tenant, body):
    before = database_state()
    response = tenant.client.post(tenant.url, body, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, attr=ANY)
    assert database_state() == before


def _multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "BoUnDaRy"
    parts = [
        b"--"
        + boundary.encode()
        + b'\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "fields",
    [
        {"source_product": b"github\xed\xa0\x80", "source_type": b"issue"},
        {"source_product": b"github", "source_type": b"issue", "config": b'{"a": "\xed\xa0\x80"}'},
        {"source_product": b"github", "source_type": b"issue", "config": b'{"a": "\xff"}'},
        {"source_product": b"github\x00", "source_type": b"issue"},
    ],
)
def test_invalid_utf8_or_nul_in_a_multipart_body_is_a_400(tenant, fields):
    before = database_state()
    body, content_type = _multipart(fields)
    response = tenant.client.post(tenant.url, body, content_type=content_type)
    assert_error(response, 400, attr=ANY)
    assert database_state() == before


def test_a_form_body_with_a_json_config_string_is_accepted(tenant):
    response = tenant.client.post(tenant.url, {**GITHUB, "config": '{"steering": "be brief"}', "enabled": "false"})
    assert response.status_code == 201, response.json()
    assert response.json()["config"] == {"steering": "be brief"}
    assert response.json()["enabled"] is False


# --- Content types and sizes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/octet-stream", "image/png", "application/jsonx"]
)
def test_an_unsupported_content_type_is_a_415(tenant, existing, content_type):
    before = database_state()
    for method, url in (("post", tenant.url), ("patch", configs_url(tenant.project.id, existing["id"]))):
        response = getattr(tenant.client, method)(url, json.dumps(GITHUB), content_type=content_type)
        assert_error(response, 415, "invalid_request", "unsupported_media_type")
    assert database_state() == before


@pytest.mark.parametrize("charset", ["bz2_codec", "zlib_codec", "no-such-charset"])
def test_a_compressing_or_unknown_charset_is_refused(tenant, charset):
    response = tenant.client.post(
        tenant.url, json.dumps(GITHUB), content_type=f"application/x-www-form-urlencoded; charset={charset}"
    )
    assert_error(response, 400, attr=ANY)
    assert not SignalSourceConfig.objects.exists()


@override_settings(MAX_REQUEST_BODY_BYTES=1024)
def test_a_body_over_the_limit_is_a_413_judged_from_content_length(tenant, existing):
    before = database_state()
    big = json.dumps({**GITHUB, "config": {"steering": "x" * 2000}})
    for method, url in (("post", tenant.url), ("patch", configs_url(tenant.project.id, existing["id"]))):
        response = getattr(tenant.client, method)(url, big, content_type="application/json")
        body = assert_error(response, 413, "invalid_request", "request_too_large")
        assert "1024" in body["detail"]
    assert database_state() == before


def test_the_default_limit_is_one_mebibyte(tenant):
    response = tenant.client.post(
        tenant.url, json.dumps({**GITHUB, "config": {"x": "y" * (1024 * 1024)}}), content_type="application/json"
    )
    assert_error(response, 413)
    # Just under the limit, the body is read and judged on its content (here: config too large).
    response = tenant.client.post(
        tenant.url, json.dumps({**GITHUB, "config": {"x": "y" * (1000 * 1000)}}), content_type="application/json"
    )
    assert_error(response, 400, attr="config")


class EndlessBody(io.RawIOBase):
    """A chunked upload that never ends; counts what the server reads of it."""

    def __init__(self):
        self.bytes_read = 0

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            raise AssertionError("the whole body was asked for")
        self.bytes_read += size
        return b" " * size


def _post_chunked(client, path, stream, content_type="application/json"):
    return client.generic(
        "POST", path, b"", content_type=content_type, HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="",
        **{"wsgi.input": stream},
    )  # fmt: skip


def test_a_chunked_body_is_a_411_before_any_of_it_is_read(tenant):
    # The server cannot tell a chunked body cut off before its last chunk from a complete one.
    stream = EndlessBody()
    assert_error(_post_chunked(tenant.client, tenant.url, stream), 411, "invalid_request", "length_required")
    assert stream.bytes_read == 0
    # A whole one, and an empty one, alike.
    for body in (json.dumps(GITHUB).encode(), b""):
        response = _post_chunked(tenant.client, tenant.url, io.BytesIO(body))
        assert_error(response, 411, "invalid_request", "length_required")
    assert not SignalSourceConfig.objects.exists()


def test_a_chunked_body_to_the_admin_is_a_411_before_any_of_it_is_read(db):
    stream = EndlessBody()
    response = _post_chunked(Client(), "/admin/login/", stream, "application/x-www-form-urlencoded")
    assert_error(response, 411, "invalid_request", "length_required")
    assert stream.bytes_read == 0


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "1.5", "\uff11\uff12"])
def test_a_malformed_content_length_is_a_400(tenant, length):
    response = tenant.client.generic(
        "POST", tenant.url, json.dumps(GITHUB).encode(), content_type="application/json", CONTENT_LENGTH=length
    )
    assert_error(response, 400, "invalid_request")
    assert not SignalSourceConfig.objects.exists()


# --- Query parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=-1",
        "limit=0",
        "limit=abc",
        "limit=1e3",
        "limit=",
        "limit=99999999999999999999999999",
        "limit=%00",
        "limit=\uff11\uff10",
        "offset=-5",
        "offset=abc",
        "offset=",
        "offset=%00",
        "offset=99999999999999999999999999",
        f"offset={2**63}",
        f"offset={2**63 - 1}",
        f"limit={2**63}&offset={2**62}",
        "unknown=1",
        "source_product__in=github",
        "ordering=-id",
        "limit=2&limit=x",
    ],
)
def test_odd_paging_and_unknown_parameters_never_fail(tenant, existing, query):
    response = tenant.client.get(f"{tenant.url}?{query}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 1
    assert len(body["results"]) <= 1


@pytest.mark.parametrize(
    "query",
    [
        "source_product=nope",
        "source_product=%00",
        "source_product=github%00",
        f"source_type={LONG[:5000]}",
        "source_type=ISSUE",
        "enabled=maybe",
        "enabled=%00",
        "enabled=1",
    ],
)
def test_an_unknown_filter_value_is_a_400(tenant, existing, query):
    response = tenant.client.get(f"{tenant.url}?{query}")
    body = assert_error(response, 400, "validation_error", attr=ANY)
    assert body["attr"] in {"source_product", "source_type", "enabled"}


# --- Authorization header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("{key}", "not_authenticated"),  # no scheme
        ("Basic {key}", "not_authenticated"),
        ("Token {key}", "not_authenticated"),
        ("", "not_authenticated"),
        ("   ", "not_authenticated"),
        ("Bearer", "authentication_failed"),
        ("Bearer ", "authentication_failed"),
        ("Bearer {key} {key}", "authentication_failed"),
        ("Bearer {key},Bearer {key}", "authentication_failed"),
        ("Bearer {key}x", "authentication_failed"),
        ("Bearer phx_" + "a" * 100_000, "authentication_failed"),
        ("Bearer phx_\x00", "authentication_failed"),
        ("Bearer phx_\u00e9\u00e8", "authentication_failed"),
        ("Bearer phx_\ud800", "authentication_failed"),
    ],
)
def test_a_malformed_authorization_header_is_a_401(tenant, header, code):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.replace("{key}", tenant.raw_key))
    before = database_state()
    for method in ("get", "post"):
        response = getattr(client, method)(tenant.url, GITHUB, format="json")
        assert_error(response, 401, "authentication_error", code)
        assert tenant.raw_key not in response.content.decode()
    assert database_state() == before


def test_a_non_latin1_authorization_header_from_a_plain_wsgi_client_is_a_401(tenant):
    # WSGI delivers header bytes as latin-1 text; a UTF-8 key arrives mangled and must simply not match.
    client = Client()
    response = client.get(tenant.url, HTTP_AUTHORIZATION="Bearer " + "phx_ключ".encode().decode("latin-1"))
    assert_error(response, 401, "authentication_error")


def _chunked_post(base_url: str, path: str, raw_key: str, chunks, content_type: str, finish: bool = True):
    """POSTs a chunked body over a raw socket (no Content-Length), as streaming clients do; unless
    `finish`, stops sending before the last (0-size) chunk, as a client that died mid-upload.
    Returns the raw answer (empty if the server answered none)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=HANG_GUARD_SECONDS) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {raw_key}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):  # the server may answer and close before the body ends
            sock.sendall(head.encode())
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if finish:
                sock.sendall(b"0\r\n\r\n")
            else:
                sock.shutdown(socket.SHUT_WR)
        response = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65536):
                response += part
    return response


def _parsed(response: bytes) -> tuple[int, dict]:
    parsed = http.client.HTTPResponse(_Received(response))
    parsed.begin()
    return parsed.status, json.loads(parsed.read())


class _Received:
    """Lets http.client parse a response already read off the socket (it may be chunked)."""

    def __init__(self, data: bytes):
        self.data = data

    def makefile(self, mode):
        return io.BytesIO(self.data)


@pytest.mark.live_server_process
def test_chunked_bodies_through_the_server_are_a_411_and_store_nothing(tmp_path):
    """granian reads a chunked body cut off before its last chunk as a complete one: every chunked
    body is refused before it is read. On the database this run uses (SQLite, as `make run` serves,
    or PostgreSQL), in one of the server's own (`live_database`): a server process cannot see the
    test database."""
    form = "application/x-www-form-urlencoded"
    # What arrives before the cut is a valid form by itself (a create with enabled and config left to defaults).
    whole = b"source_product=github&source_type=issue&enabled=false&config=%7B%22steering%22%3A%22x%22%7D"
    cut = whole[: len(b"source_product=github&source_type=issue")]
    with live_database(tmp_path) as service, served(service.env["DATABASE_URL"]) as (base_url, _):
        path = f"/api/projects/{service.project_id}/signal_source_configs/"
        cut_off = _chunked_post(base_url, path, service.raw_key, [cut], form, finish=False)
        complete = _chunked_post(base_url, path, service.raw_key, [whole[:10], whole[10:]], form)
        listed = call(base_url, "GET", path, service.raw_key)[2]
        # The same create, with its length: one worker, so this is answered after the refused ones.
        created = call(base_url, "POST", path, service.raw_key, {"source_product": "github", "source_type": "issue"})

    if cut_off:  # the server may not answer a client that hung up
        status, refused = _parsed(cut_off)
        assert (status, refused["code"]) == (411, "length_required"), refused
    status, refused = _parsed(complete)
    assert (status, refused["code"]) == (411, "length_required"), refused
    assert listed["count"] == 0
    assert created[0] == 201, created
