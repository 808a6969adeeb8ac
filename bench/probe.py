"""SQL statements per request for the service and the floor, and the query plans of the list and
retrieve queries. run.py runs this in a process of its own (DATABASE_URL and REDIS_URL set) and
reads the JSON it prints.

Each request is made once in-process, with the key's `last_used_at` recent (as in the load runs):
the service through Django's test client under CaptureQueriesContext, the floor through its WSGI
callable and its statement counter. With `--peer`, the peer (bench/peer/, its own settings) through
Django's test client, and nothing else.
"""

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
PEER = "--peer" in sys.argv[1:]
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.peer.settings" if PEER else "config.settings"

import django  # noqa: E402

django.setup()

import floor_app  # noqa: E402
import orjson  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from seed import bench_email, bench_raw_key  # noqa: E402


def _service(method, path, raw_key, body=None):
    # A host ALLOWED_HOSTS lists: outside the test runner, `testserver` is not one.
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}", HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method.lower())(path, body, content_type="application/json")
    assert response.status_code < 300, response.content
    sql = [q["sql"] for q in captured.captured_queries]
    return response, sql


def _floor(method, path, raw_key, body=None):
    raw_body = orjson.dumps(body) if body is not None else b""
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {raw_key}",
        "CONTENT_LENGTH": str(len(raw_body)),
        "wsgi.input": io.BytesIO(raw_body),
    }
    before = floor_app.queries
    statuses = []
    floor_app.application(environ, lambda status, headers: statuses.append(status))
    assert statuses[0] < "300", statuses
    return floor_app.queries - before


def _changing_patch(config: dict) -> dict:
    """A PATCH that changes the config, as every PATCH of the load does (it flips `enabled`): the
    service records an activity entry only for a change, one statement more."""
    return {"enabled": not config["enabled"], "config": {"steering": "bench"}}


def _peer_counts(base: str, write_base: str, read_key: str, write_key: str) -> dict:
    """The peer's statements per request, in the service's format (a list of one)."""
    response, list_sql = _service("GET", base, read_key)
    first = response.json()["results"][0]
    config_id = first["id"]
    counts = {"list": [len(list_sql)], "retrieve": [len(_service("GET", f"{base}{config_id}/", read_key)[1])]}
    patch = _changing_patch(first)
    counts["patch"] = [len(_service("PATCH", f"{base}{config_id}/", read_key, patch)[1])]
    response, create_sql = _service("POST", write_base, write_key, {"source_product": "github", "source_type": "issue"})
    counts["create"] = [len(create_sql)]
    counts["delete"] = [len(_service("DELETE", f"{write_base}{response.json()['id']}/", write_key)[1])]
    return counts


def main() -> None:
    read_user, read_project, write_project, write_user = (int(arg) for arg in sys.argv[1:5])
    read_key, write_key = bench_raw_key(bench_email(read_user)), bench_raw_key(bench_email(write_user))
    base = f"/api/projects/{read_project}/signal_source_configs/"
    write_base = f"/api/projects/{write_project}/signal_source_configs/"

    # A first request of each kind, so last_used_at is recent and the connection is open.
    _service("GET", base, read_key), _service("GET", write_base, write_key)
    if PEER:
        print(orjson.dumps({"queries": _peer_counts(base, write_base, read_key, write_key)}).decode())
        return
    _floor("GET", base, read_key)

    counts, plans = {}, {}
    response, list_sql = _service("GET", base, read_key)
    first = response.json()["results"][0]
    config_id = first["id"]
    counts["list"] = (len(list_sql), _floor("GET", base, read_key))
    _, retrieve_sql = _service("GET", f"{base}{config_id}/", read_key)
    counts["retrieve"] = (len(retrieve_sql), _floor("GET", f"{base}{config_id}/", read_key))
    patch = _changing_patch(first)
    counts["patch"] = (
        len(_service("PATCH", f"{base}{config_id}/", read_key, patch)[1]),
        _floor("PATCH", f"{base}{config_id}/", read_key, patch),
    )
    create = {"source_product": "github", "source_type": "issue"}
    response, create_sql = _service("POST", write_base, write_key, create)
    _, delete_sql = _service("DELETE", f"{write_base}{response.json()['id']}/", write_key)
    floor_create = _floor("POST", write_base, write_key, create)
    created = connection.cursor()
    created.execute(
        "SELECT id FROM signalsource_signalsourceconfig WHERE project_id = %s AND source_product = 'github'",
        [write_project],
    )
    floor_delete = _floor("DELETE", f"{write_base}{created.fetchone()[0]}/", write_key)
    counts["create"] = (len(create_sql), floor_create)
    counts["delete"] = (len(delete_sql), floor_delete)

    with connection.cursor() as cursor:
        for name, sql in (
            ("list", list_sql[-1]),
            ("retrieve", retrieve_sql[-1]),
            ("key lookup", list_sql[0]),
            ("project and membership", list_sql[1]),
        ):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())
    print(orjson.dumps({"queries": counts, "plans": plans}).decode())


if __name__ == "__main__":
    main()
