"""The raw floor: the least a Python WSGI service can do for the same requests.

Same work as the service for list, retrieve, create, PATCH and delete: the key's digest lookup
(with its user), the hourly `last_used_at` write, the project with the membership check in one
query, the scope and scoped-project/organization checks, the per-key rate limits in Redis, the
catalog's validation, and the same SQL statements against the same tables; JSON out with orjson.
No framework, no ORM, one psycopg connection per worker process.

Only the benchmark runs this (`python manage.py serve --app bench.floor_app:application`); it is not the service.
Environment: DATABASE_URL, REDIS_URL (rate limits; unset means none), RATE_LIMIT_BURST and
RATE_LIMIT_SUSTAINED (as the service reads them).
"""

import hashlib
import math
import os
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import orjson
import psycopg
import redis
import uuid6

from signalsource import catalog

ROUTE = re.compile(r"^/api/projects/([^/]+)/signal_source_configs(?:/([^/]+))?/?$")
COLUMNS = "id, source_product, source_type, enabled, config, created_at, updated_at, status"
FIELDS = COLUMNS.split(", ")
LAST_USED_RESOLUTION = timedelta(hours=1)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
DUPLICATE = "A signal source config for this source_product and source_type already exists in this project."
JSON_HEADERS = [("Content-Type", "application/json")]
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_db: psycopg.Connection | None = None
_redis = redis.Redis.from_url(os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else None
# How many SQL statements this process has run: read by run.py's query count.
queries = 0


def _rate(name: str, default: str) -> tuple[int, int] | None:
    value = os.environ.get(name, default).strip().lower()
    if value in {"", "off", "none", "0"}:
        return None
    count, _, period = value.partition("/")
    return int(count), PERIODS[period[0]]


RATES = [r for r in (_rate("RATE_LIMIT_BURST", "480/minute"), _rate("RATE_LIMIT_SUSTAINED", "4800/hour")) if r]


class HTTPError(Exception):
    def __init__(self, status: str, type_: str, code: str, detail: str, attr: str | None = None):
        super().__init__(detail)
        self.status = status
        self.body = {"type": type_, "code": code, "detail": detail, "attr": attr}


def _not_found(detail="Not found."):
    return HTTPError("404 Not Found", "invalid_request", "not_found", detail)


def _forbidden(detail):
    return HTTPError("403 Forbidden", "authentication_error", "permission_denied", detail)


def _invalid(detail, attr, code="invalid"):
    return HTTPError("400 Bad Request", "validation_error", code, detail, attr)


def _sql(query: str, params=()):
    global _db, queries
    if _db is None or _db.closed:
        _db = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, options="-c timezone=UTC")
    queries += 1
    return _db.execute(query, params)


def _row(record) -> dict:
    return dict(zip(FIELDS, record, strict=True))


def _authenticate(environ):
    scheme, _, raw_key = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPError(
            "401 Unauthorized",
            "authentication_error",
            "not_authenticated",
            "Authentication credentials were not provided.",
        )
    raw_key = raw_key.strip()
    invalid = HTTPError(
        "401 Unauthorized",
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
    )
    if not raw_key or len(raw_key) > 128:
        raise invalid
    key = _sql(
        "SELECT k.id, k.user_id, k.scopes, k.scoped_projects, k.scoped_organizations, k.last_used_at,"
        " k.expires_at, k.revoked_at, u.is_active FROM auth_keys_personalapikey k"
        " JOIN auth_user u ON u.id = k.user_id WHERE k.digest = %s",
        [hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()],
    ).fetchone()
    if key is None or key[7] is not None or not key[8]:
        raise invalid
    now = datetime.now(UTC)
    if key[6] is not None and key[6] <= now:
        raise invalid
    if key[5] is None or now - key[5] >= LAST_USED_RESOLUTION:
        _sql(
            "UPDATE auth_keys_personalapikey SET last_used_at = %s"
            " WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
            [now, key[0], now - LAST_USED_RESOLUTION],
        )
    return key


def _throttle(key_id: int) -> None:
    if _redis is None or not RATES:
        return
    now = time.time()
    pipe = _redis.pipeline(transaction=False)
    for _limit, period in RATES:
        name = f"floor:throttle:{period}:key:{key_id}:{math.floor(now / period)}"
        pipe.incr(name)
        pipe.expire(name, period + 1, nx=True)
    counts = pipe.execute()[::2]
    if any(c > limit for c, (limit, _) in zip(counts, RATES, strict=True)):
        raise HTTPError("429 Too Many Requests", "throttled_error", "throttled", "Request was throttled.")


def _project(raw_id: str, key, write: bool) -> int:
    project = None
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 19 and 0 < int(raw_id) < 2**63:
        project = _sql(
            "SELECT p.id, p.organization_id, EXISTS(SELECT 1 FROM projects_organizationmembership m"
            " WHERE m.organization_id = p.organization_id AND m.user_id = %s) FROM projects_project p WHERE p.id = %s",
            [key[1], int(raw_id)],
        ).fetchone()
    if project is None:
        raise _not_found("Project not found.")
    scopes, required = key[2], "task:write" if write else "task:read"
    if not ("*" in scopes or required in scopes or (not write and "task:write" in scopes)):
        raise _forbidden(f"API key missing required scope '{required}'")
    if key[3] and project[0] not in key[3]:
        raise _forbidden(f"API key does not have access to the requested project: ID {project[0]}.")
    if key[4] and project[1] not in key[4]:
        raise _forbidden(f"API key does not have access to the requested organization: ID {project[1]}.")
    if not project[2]:
        raise _forbidden("You don't have access to the project.")
    return project[0]


def _body(environ) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        data = orjson.loads(environ["wsgi.input"].read(length) if length else b"{}")
    except orjson.JSONDecodeError as error:
        raise HTTPError("400 Bad Request", "invalid_request", "parse_error", f"JSON parse error - {error}") from None
    if not isinstance(data, dict):
        raise _invalid("Invalid data. Expected a dictionary, but got list.", "non_field_errors")
    return data


def _config(data, product, source_type):
    config = data.get("config", {})
    if config is None:
        raise _invalid("This field may not be null.", "config", "null")
    try:
        return orjson.dumps(catalog.clean_config(product, source_type, config)).decode()
    except catalog.ConfigError as error:
        raise _invalid(str(error), "config") from None


def _enabled(data, default):
    value = data.get("enabled", default)
    if not isinstance(value, bool):
        raise _invalid("Must be a valid boolean.", "enabled")
    return value


def _config_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _not_found() from None


def _get(project_id, config_id):
    record = _sql(
        f"SELECT {COLUMNS} FROM signalsource_signalsourceconfig WHERE project_id = %s AND id = %s",
        [project_id, _config_id(config_id)],
    ).fetchone()
    if record is None:
        raise _not_found()
    return _row(record)


def _list(environ, project_id):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        limit = min(int(query["limit"][0]), MAX_LIMIT)
        limit = limit if limit > 0 else DEFAULT_LIMIT
    except (KeyError, ValueError):
        limit = DEFAULT_LIMIT
    try:
        offset = max(int(query["offset"][0]), 0)
    except (KeyError, ValueError):
        offset = 0
    records = _sql(
        f"SELECT {COLUMNS}, COUNT(*) OVER () FROM signalsource_signalsourceconfig WHERE project_id = %s"
        " ORDER BY updated_at DESC, id LIMIT %s OFFSET %s",
        [project_id, limit, offset],
    ).fetchall()
    if records:
        count = records[0][-1]
    elif offset:
        count = _sql("SELECT count(*) FROM signalsource_signalsourceconfig WHERE project_id = %s", [project_id])
        count = count.fetchone()[0]
    else:
        count = 0
    base = f"http://{environ.get('HTTP_HOST', 'localhost')}{environ['PATH_INFO']}"
    following = f"{base}?limit={limit}&offset={offset + limit}" if offset + limit < count else None
    if offset <= 0:
        previous = None
    elif offset - limit <= 0:
        previous = f"{base}?limit={limit}"
    else:
        previous = f"{base}?limit={limit}&offset={offset - limit}"
    results = [_row(record[:-1]) for record in records]
    return "200 OK", {"count": count, "next": following, "previous": previous, "results": results}


def _create(environ, project_id, key):
    data = _body(environ)
    product, source_type = data.get("source_product"), data.get("source_type")
    for name, value, choices in (
        ("source_product", product, catalog.PRODUCT_LABELS),
        ("source_type", source_type, catalog.TYPE_LABELS),
    ):
        if value is None:
            raise _invalid("This field is required.", name, "required")
        if value not in choices:
            raise _invalid(f'"{value}" is not a valid choice.', name, "invalid_choice")
    if catalog.get_source(product, source_type) is None:
        valid = ", ".join(catalog.valid_types_for(product))
        raise _invalid(
            f"'{source_type}' is not a valid source_type for '{product}'. Valid types: {valid}.",
            "source_type",
            "invalid_pair",
        )
    now = datetime.now(UTC)
    try:
        record = _sql(
            "INSERT INTO signalsource_signalsourceconfig (id, project_id, source_product, source_type, enabled,"
            " config, status, created_by_id, created_at, updated_at, version, run_heartbeat_at, status_if_stale)"
            " VALUES (%s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, 1, NULL, NULL)"
            f" RETURNING {COLUMNS}",
            [
                uuid6.uuid7(),
                project_id,
                product,
                source_type,
                _enabled(data, True),
                _config(data, product, source_type),
                key[1],
                now,
                now,
            ],
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _invalid(DUPLICATE, "source_product", "unique") from None
    return "201 Created", _row(record)


def _patch(environ, project_id, config_id):
    data = _body(environ)
    row = _get(project_id, config_id)
    for name in ("source_product", "source_type"):
        if name in data and data[name] != row[name]:
            raise _invalid(f"{name} cannot be changed after creation.", name, "immutable")
    enabled = _enabled(data, row["enabled"])
    config = _config(data, row["source_product"], row["source_type"]) if "config" in data else None
    record = _sql(
        "UPDATE signalsource_signalsourceconfig SET enabled = %s, config = COALESCE(%s::jsonb, config),"
        f" updated_at = %s, version = version + 1 WHERE id = %s RETURNING {COLUMNS}",
        [enabled, config, datetime.now(UTC), row["id"]],
    ).fetchone()
    return "200 OK", _row(record)


def _delete(project_id, config_id):
    row = _get(project_id, config_id)
    _sql("DELETE FROM signalsource_signalsourceconfig WHERE id = %s", [row["id"]])
    return "204 No Content", None


def _handle(environ):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/healthz":
        return "200 OK", {"status": "ok"}
    match = ROUTE.match(path)
    if match is None:
        raise _not_found()
    raw_project, config_id = match.groups()
    allowed = ("GET", "PATCH", "DELETE") if config_id else ("GET", "POST")
    if method not in allowed:
        raise HTTPError(
            "405 Method Not Allowed", "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.'
        )
    key = _authenticate(environ)
    _throttle(key[0])
    project_id = _project(raw_project, key, write=method != "GET")
    if config_id is None:
        return _list(environ, project_id) if method == "GET" else _create(environ, project_id, key)
    if method == "GET":
        return "200 OK", _get(project_id, config_id)
    if method == "PATCH":
        return _patch(environ, project_id, config_id)
    return _delete(project_id, config_id)


def application(environ, start_response):
    try:
        status, data = _handle(environ)
    except HTTPError as error:
        status, data = error.status, error.body
    if data is None:
        start_response(status, [])
        return [b""]
    body = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    start_response(status, [*JSON_HEADERS, ("Content-Length", str(len(body)))])
    return [body]
