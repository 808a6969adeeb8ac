"""Where a request's CPU goes, in process: `.venv/bin/python bench/profile_requests.py [--top 15]`.

Calls the service's WSGI application directly, as a server worker does (no server, no HTTP client),
with production settings (DEBUG off, rate limits in Redis) against the benchmark's seeded PostgreSQL
(bench/seed.py seeds it; `make bench` does too). For each scenario it prints the CPU time per request
(the process's user + system time over the timed calls) and cProfile's top entries by own CPU time
over a second, profiled pass (profiling inflates the times; the shares are what it is for).

`--events-cost 30 --requests 100` measures the change events' own CPU per PATCH instead: PATCHes
with and without them (bench/without_events.py) in short blocks that take turns.

The keys rotate over many projects, as in the benchmark's loads, so that no key reaches its rate
limit. Each key's `last_used_at` is recent before timing (the hourly write is not what is measured).
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

# PROFILE_ROOT: another checkout's code, profiled by this copy of the script (bench/instructions.py).
ROOT = Path(os.environ.get("PROFILE_ROOT") or Path(__file__).resolve().parent.parent)
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import seed  # noqa: E402

PROJECTS = int(os.environ.get("PROFILE_PROJECTS", 100_000))  # the seeded scale profiled (bench/seed.py)
os.environ.setdefault("DATABASE_URL", seed.database_url(PROJECTS))
os.environ.setdefault("REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
os.environ.setdefault("SECRET_KEY", "bench-profile")
# What is measured is the CPU of a request, not the rate limiter's timeouts: with the service's 50 ms, a
# process slowed down (under valgrind, or on a loaded machine) times out on Redis now and then, and
# each time logs a traceback and stops counting for a while: instructions that vary from run to run.
os.environ.setdefault("REDIS_SOCKET_TIMEOUT", "5")
os.environ.setdefault("REDIS_CONNECT_TIMEOUT", "5")
os.environ.update(DEBUG="0", ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING")
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from auth_keys.models import PersonalAPIKey  # noqa: E402
from signalsource import catalog  # noqa: E402

SCENARIOS = ("list", "retrieve", "patch", "create_delete", "bulk10", "bulk55")
COMPARE_CALLS = 3000
TARGETS = 200
# Each write target's `enabled`, so that every PATCH changes its config (a PATCH that changes nothing
# writes nothing: no record, no event), in every run whatever the last one left.
ENABLED: dict[str, bool] = {}


def empty_write_projects() -> None:
    """Deletes every config of the write projects (the seeded projects' successors)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM signalsource_signalsourceconfig WHERE project_id > %s", [PROJECTS])


def targets() -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """(project, raw key, a config id) for reads, and the same in the write projects (one config each,
    created here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, p.organization_id, MIN(c.id::text) FROM projects_project p"
            " JOIN signalsource_signalsourceconfig c ON c.project_id = p.id"
            " WHERE (p.id - 1) %% %s = (p.organization_id * 7) %% %s GROUP BY p.id ORDER BY p.id LIMIT %s",
            [seed.PROJECTS_PER_ORG, seed.PROJECTS_PER_ORG, TARGETS],
        )
        reads = [(p, seed.bench_raw_key(seed.bench_email(o)), c) for p, o, c in cursor.fetchall()]
        # The write projects are the seeded ones' successors, empty until the benchmark writes.
        cursor.execute(
            "SELECT id, organization_id FROM projects_project WHERE id > %s ORDER BY id LIMIT %s",
            [PROJECTS, TARGETS],
        )
        write_projects = cursor.fetchall()
    # Every run starts from empty write projects, whatever an interrupted run left: a run that found
    # its configs made fewer requests before the timed ones, which moved callgrind's whole-process count.
    empty_write_projects()
    writes = []
    for project, organization in write_projects:
        raw_key = seed.bench_raw_key(seed.bench_email(organization))
        body = {"source_product": "github", "source_type": "issue"}
        status, config = call("POST", f"/api/projects/{project}/signal_source_configs/", raw_key, body)
        assert status == 201, config
        writes.append((project, raw_key, config["id"]))
        ENABLED[config["id"]] = config["enabled"]
    PersonalAPIKey.objects.update(last_used_at=timezone.now())
    return reads, writes


application = WSGIHandler()
# Every source a bulk may name (55: a project holds one config per source), in the catalog's order.
BULK_PAIRS = [(s.product, s.type) for s in catalog.SOURCES if s.type not in catalog.RETIRED_TYPES]


def call(method: str, path: str, raw_key: str, body: dict | None = None) -> tuple[int, dict]:
    raw_body = orjson.dumps(body) if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {raw_key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw_body)),
        "wsgi.input": io.BytesIO(raw_body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    statuses = []
    response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    content = b"".join(response)
    response.close()
    return int(statuses[0].split()[0]), orjson.loads(content) if content else {}


def requests_of(scenario: str, reads, writes):
    """An endless cycle of (method, path, key, body) for the scenario; each is sent the body of
    the previous answer."""
    i = 0
    while True:
        if scenario == "list":
            project, raw_key, _ = reads[i % len(reads)]
            yield "GET", f"/api/projects/{project}/signal_source_configs/", raw_key, None
        elif scenario == "retrieve":
            project, raw_key, config_id = reads[i % len(reads)]
            yield "GET", f"/api/projects/{project}/signal_source_configs/{config_id}/", raw_key, None
        elif scenario == "patch":  # every request changes the config, as the benchmark's do
            project, raw_key, config_id = writes[i % len(writes)]
            ENABLED[config_id] = not ENABLED[config_id]
            body = {"enabled": ENABLED[config_id]}
            yield "PATCH", f"/api/projects/{project}/signal_source_configs/{config_id}/", raw_key, body
        elif scenario.startswith("bulk"):  # bulkN: N sources of a project switched on or off in one request
            project, raw_key, _ = writes[i % len(writes)]
            enabled = bool(i // len(writes) % 2)
            operations = [{"source_product": p, "source_type": t, "enabled": enabled} for p, t in BULK_PAIRS]
            count = int(scenario.removeprefix("bulk"))
            body = {"operations": operations[:count]}
            yield "POST", f"/api/projects/{project}/signals/source_configs/bulk/", raw_key, body
        else:  # create_delete: a create, then the delete of what it made (two requests)
            project, raw_key, _ = writes[i % len(writes)]
            url = f"/api/projects/{project}/signal_source_configs/"
            created = yield "POST", url, raw_key, {"source_product": "linear", "source_type": "issue", "config": {}}
            yield "DELETE", f"{url}{created['id']}/", raw_key, None
        i += 1


def run(
    scenario: str, count: int, reads, writes, profile: cProfile.Profile | None = None, warmup: int | None = None
) -> tuple[float, float]:
    """CPU and wall-clock seconds per request over `count` requests, after `warmup` (default: up to 200)."""
    requests = requests_of(scenario, reads, writes)
    request = next(requests)
    count += count % 2  # whole create-then-delete pairs: nothing is left behind to collide with

    def answer_one():
        nonlocal request
        status, body = call(*request)
        assert status < 300, (scenario, request, status, body)
        request = requests.send(body)

    for _ in range(min(count, 200) if warmup is None else warmup):  # warm-up: connections, caches, imports
        answer_one()
    started, wall_started = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    for _ in range(count):
        answer_one()
    if profile:
        profile.disable()
    return (time.process_time() - started) / count, (time.perf_counter() - wall_started) / count


def events_cost(writes, rounds: int, count: int) -> dict:
    """CPU per PATCH with the change events and without them, side by side: `rounds` pairs of short
    blocks of `count` PATCHes that take turns (which goes first alternates), in this one process, so
    that whatever else the machine does falls on both alike. The events' cost is the median of the
    pairs' differences. Every PATCH changes its config (a record and an event each)."""
    from without_events import set_events  # imported here: a checkout from before events has none

    cpu: dict[bool, list[float]] = {True: [], False: []}
    run("patch", 200, [], writes, warmup=0)  # warm-up: connections, caches, imports
    for number in range(rounds):
        for on in (True, False) if number % 2 == 0 else (False, True):
            set_events(on)
            gc.collect()
            cpu[on].append(run("patch", count, [], writes, warmup=0)[0] * 1000)
    set_events(True)
    with_events = statistics.median(cpu[True])
    events_ms = statistics.median(on - off for on, off in zip(cpu[True], cpu[False], strict=True))
    return {
        "patches": rounds * count,
        "with_events_ms": round(with_events, 3),
        "without_events_ms": round(statistics.median(cpu[False]), 3),
        "events_ms": round(events_ms, 3),
        "events_share": round(events_ms / with_events, 4),
    }


def print_events_cost(cost: dict) -> None:
    print(
        f"== change events' own cost per PATCH ({cost['patches']} PATCHes each way, in turns): "
        f"{cost['with_events_ms']:.2f} ms CPU with them, {cost['without_events_ms']:.2f} ms without: "
        f"{cost['events_ms']:.2f} ms, {cost['events_share']:.1%} of a PATCH's CPU"
    )


def compare_reads(reads) -> None:
    """The hand-written reads against the ORM queries they stand in for, side by side: CPU per call."""
    from django.db.models import Count, Exists, OuterRef, Window

    from auth_keys import keys
    from auth_keys.authentication import _find_key
    from projects.models import OrganizationMembership, Project
    from signalsource import selectors
    from signalsource.models import SignalSourceConfig

    project_id, raw_key, config_id = reads[0]
    digest = keys.digest(raw_key)

    def orm_key_and_project():
        api_key = PersonalAPIKey.objects.select_related("user").get(digest=digest)
        members = OrganizationMembership.objects.filter(organization=OuterRef("organization_id"), user=api_key.user_id)
        return api_key, Project.objects.annotate(user_is_member=Exists(members)).get(pk=project_id)

    pairs = {
        "key, user and project": (orm_key_and_project, lambda: _find_key(digest, project_id)),
        "one config": (
            lambda: SignalSourceConfig.objects.filter(project_id=project_id, pk=config_id).first(),
            lambda: selectors.project_config(project_id=project_id, pk=config_id),
        ),
        "a list page": (
            lambda: list(
                SignalSourceConfig.objects.filter(project_id=project_id)
                .order_by(*selectors.LIST_ORDER)
                .annotate(total_count=Window(Count("pk")))[0:100]
            ),
            lambda: selectors.project_configs_page(project_id=project_id, offset=0, limit=100),
        ),
    }
    print(f"\n== reads: CPU per call, the ORM's query against the hand-written one ({COMPARE_CALLS} calls each)")
    for name, (orm, by_hand) in pairs.items():
        timings = []
        for read in (orm, by_hand):
            for _ in range(200):
                read()
            started = time.process_time()
            for _ in range(COMPARE_CALLS):
                read()
            timings.append((time.process_time() - started) / COMPARE_CALLS * 1e6)
        orm_us, by_hand_us = timings
        print(f"  {name:22} ORM {orm_us:5.0f} us   by hand {by_hand_us:5.0f} us   saves {orm_us - by_hand_us:4.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario and pass")
    parser.add_argument("--top", type=int, default=15, help="profile entries to print per scenario")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"], help="own or cumulative time")
    parser.add_argument("--reads", action="store_true", help="also compare the hand-written reads with the ORM's")
    parser.add_argument("--warmup", type=int, help="requests before the timed ones (default: up to 200)")
    parser.add_argument("--plain", action="store_true", help="only answer the requests: no profile, no output")
    parser.add_argument(
        "--without-events", action="store_true", help="the writes as before change events (the baseline of their cost)"
    )
    parser.add_argument(
        "--events-cost",
        type=int,
        metavar="ROUNDS",
        help="only measure the change events' own CPU per PATCH: ROUNDS pairs of --requests PATCHes with and without",
    )
    args = parser.parse_args()
    reads, writes = targets()
    if args.without_events:
        from without_events import set_events

        set_events(False)
    try:
        if args.events_cost:
            print_events_cost(events_cost(writes, args.events_cost, args.requests))
            return
        for scenario in args.scenarios.split(","):
            if args.plain:
                run(scenario, args.requests, reads, writes, warmup=args.warmup)
            else:
                profile_scenario(scenario, args, reads, writes)
        if args.reads:
            compare_reads(reads)
    finally:  # the write projects are left empty, as the benchmark expects them
        empty_write_projects()


def profile_scenario(scenario: str, args, reads, writes) -> None:
    cpu, wall = run(scenario, args.requests, reads, writes)
    profile = cProfile.Profile(time.process_time)  # CPU time: waiting for PostgreSQL is not the app's cost
    run(scenario, args.requests, reads, writes, profile)
    print(f"\n== {scenario}: {cpu * 1000:.2f} ms CPU, {wall * 1000:.2f} ms wall per request ({args.requests} requests)")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
    print("   ncalls" + out.getvalue().split("   ncalls", 1)[-1].rstrip())  # the table, not pstats' header


if __name__ == "__main__":
    main()
