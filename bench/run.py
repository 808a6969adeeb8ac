"""The benchmark, in one command: `make bench` (or `.venv/bin/python bench/run.py [--quick]`).

1. Seeds PostgreSQL if needed (bench/seed.py): 100,000 projects with 500,000 configs, and a small
   scale of 1,000 configs, each in a database of its own.
2. Serves three apps on the same database and Redis, on 127.0.0.1 only: the service (production
   settings: DEBUG off, rate limits in Redis), the raw floor (bench/floor_app.py) and the peer
   (bench/peer/: the same API in plain DRF, as a team would write it in a hurry). Each runs under
   every server named by --servers: granian through `python manage.py serve` (api/server.py, the
   production server; the default), and/or gunicorn with the settings the service had before
   granian (sync workers, WEB_CONCURRENCY or cores + 1, the app preloaded). Neither recycles
   workers (gunicorn --max-requests 0; granian's lifetime and RSS limits are off).
3. Drives each with wrk (a separate process, one thread) for list, retrieve, create-then-delete and
   PATCH: a warm-up, then a fixed concurrency (the peak), then a fixed rate of 70 % of that app's
   own peak. List and retrieve also run against the small scale at the large scale's rate (the
   first server only).
4. Measures the CPU each app costs per request: the user + system CPU time of all its server's
   processes (main process and workers, from /proc; children that exited count through their
   parent's cutime/cstime) over the measured runs, divided by the requests answered.
5. Measures what the change events cost: PATCH against the service and the service without them
   (bench/without_events.py), side by side as above.
6. Prints the tables (requests/s, the service's ratio to the floor and to the peer, p50/p99, CPU
   per request, SQL statements per request, memory per worker; with several servers, each app's
   requests/s and CPU under each) and the query plans, and writes the tables, a JSON file and a PNG
   chart into bench/results/.

Absolute numbers depend on the machine and on what else runs on it; the ratios, measured side by
side in one run, are what the targets are about.
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
HOST = "127.0.0.1"  # the only address this benchmark ever targets
REDIS_URL = os.environ.get("BENCH_REDIS_URL", f"redis://{HOST}:6379/11")
SMALL_REDIS_URL = os.environ.get("BENCH_SMALL_REDIS_URL", f"redis://{HOST}:6379/12")
SCENARIOS = ["list", "retrieve", "create_delete", "patch"]
APPS = {
    "service": "config.wsgi:application",
    "floor": "bench.floor_app:application",
    "peer": "bench.peer.wsgi:application",
}
SERVERS = ("granian", "gunicorn")
# Issue 17's targets: the service's throughput as a multiple of the peer's, and its CPU per request.
# Its ratio to the floor is reported for information.
PEER_TARGET = {"list": 2.5, "retrieve": 2.5, "create_delete": 2.0, "patch": 2.0}
CPU_TARGET_MS = {"list": 1.5, "retrieve": 1.5, "create_delete": 2.5, "patch": 2.5}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READ_TARGETS = 1000  # projects (each with its own key) the read and PATCH loads rotate over
FIXED_RATE_SHARE = 0.7
P99_LIMIT_MS = 50
SCALE_LATENCY_LIMIT = 1.2
EVENTS_SHARE_LIMIT = 0.10  # the change events' own CPU, as a share of a PATCH's
SLICES = 3  # turns each app takes per measured run


@dataclass
class Settings:
    projects: int
    small_projects: int
    warmup: int
    duration: int
    connections: int
    rate_connections: int
    label: str
    instances: int = 1
    servers: list[str] = field(default_factory=lambda: ["granian"])


def _proc_stats() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields after its name (pid -> [state, ppid, ...])."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        stats[int(entry.name)] = raw[raw.rindex(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return stats


def process_tree(root_pid: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    """A process and all its descendants (a server's main process and its workers), from /proc."""
    stats = _proc_stats() if stats is None else stats
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        if pid in stats:
            found.append(pid)
            pending += children.get(pid, [])
    return found


def process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants: each live process's utime +
    stime, plus its cutime + cstime (its children that have exited and been reaped, so a worker that
    ends mid-run still counts, through its parent)."""
    stats = _proc_stats()
    # stat fields 14-17 (utime, stime, cutime, cstime) are 11-14 counted from the state after the name.
    ticks = sum(int(value) for pid in process_tree(root_pid, stats) for value in stats[pid][11:15])
    return ticks / CLOCK_TICKS


@dataclass
class Server:
    """One app (the service, the floor or the peer) under one server (granian or gunicorn), served
    by `instances` server instances of its own, each on a port of its own (port, port + 100, ...),
    all on the same database and Redis. `checkout`: the project checkout it runs from (bench/compare.py
    runs another one beside this one)."""

    name: str
    app: str
    port: int
    database_url: str
    server: str = "granian"
    instances: int = 1
    processes: list = field(default_factory=list)
    extra_env: dict = field(default_factory=dict)
    checkout: Path = ROOT

    @property
    def label(self) -> str:
        return f"{self.name}@{self.server}"

    @property
    def urls(self) -> list[str]:
        return [f"http://{HOST}:{self.port + 100 * i}" for i in range(self.instances)]

    def start(self) -> None:
        for index, url in enumerate(self.urls):
            self._start_instance(index, url)

    def _command(self, port: str) -> list[str]:
        if self.server == "granian":
            # Production's own command, and so the same server settings (api/server.py), for every app.
            return [
                str(self.checkout / ".venv/bin/python"),
                str(self.checkout / "manage.py"),
                "serve",
                "--app",
                self.app,
            ]
        # The service's gunicorn settings before granian (config/gunicorn.py until 40bbe87), without
        # its worker recycling (max_requests 10000): sync workers, cores + 1, the app loaded once
        # before forking. No control socket: the instances would all share its one default path.
        workers = os.environ.get("WEB_CONCURRENCY") or str((os.cpu_count() or 1) + 1)
        return [
            str(self.checkout / ".venv/bin/gunicorn"),
            self.app,
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            workers,
            "--worker-class",
            "sync",
            "--preload",
            "--max-requests",
            "0",
            "--timeout",
            "30",
            "--graceful-timeout",
            "10",
            "--no-control-socket",
            "--chdir",
            str(self.checkout),
        ]

    def _start_instance(self, index: int, url: str) -> None:
        log_path = RESULTS / (f"{self.label}.log" if index == 0 else f"{self.label}.{index}.log")
        port = url.rsplit(":", 1)[1]
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("GRANIAN_")},
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "HOST": HOST,
            "PORT": port,
            "ALLOWED_HOSTS": HOST,
            "PYTHONPATH": str(self.checkout),
            **self.extra_env,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                self._command(port),
                cwd=self.checkout,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        # Each worker imports Django at start; on a loaded 2-core machine that has taken over 30 s.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.label} exited; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not answer within 120 s; see {log_path}")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of every process of every instance so far."""
        return sum(process_tree_cpu_seconds(process.pid) for process in self.processes)

    def worker_rss_mib(self) -> list[float]:
        rss = []
        for process in self.processes:
            for pid in process_tree(process.pid)[1:]:  # the workers: all but the main process
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                rss += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")]
        return rss

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()  # the server's main process stops its workers
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def wrk(server: Server, scenario: str, targets_file: Path, seconds: int, connections: int, rate: float = 0) -> dict:
    """Loads every instance of the app at once, one wrk each with its share of the connections, the
    rate and the targets (disjoint, so two instances never create the same config), and combines
    them: requests add up; p50 is the request-weighted mean of the instances' p50, p99 the worst.
    `cpu_s` is the CPU its server's processes spent meanwhile (the other apps' servers are idle)."""
    urls = server.urls
    runs = []
    cpu_before = server.cpu_seconds()
    for index, url in enumerate(urls):
        env = {
            **os.environ,
            "BENCH_TARGETS": str(targets_file),
            "BENCH_LUA_DIR": str(BENCH / "lua"),
            "BENCH_RATE": f"{rate / len(urls):.1f}",
            "BENCH_SHARD": f"{index}/{len(urls)}",
        }
        command = [
            "wrk",
            "-t1",
            f"-c{max(1, connections // len(urls))}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(BENCH / "lua" / f"{scenario}.lua"),
            url,
        ]
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [_wrk_result(server, scenario, run, seconds) for run in runs]
    cpu_s = server.cpu_seconds() - cpu_before
    if len(results) == 1:
        return {**results[0], "cpu_s": cpu_s}
    requests = sum(r["requests"] for r in results)
    combined = {
        "requests": requests,
        "duration_us": max(r["duration_us"] for r in results),
        "p50_us": sum(r["p50_us"] * r["requests"] for r in results) / max(requests, 1),
        "p99_us": max(r["p99_us"] for r in results),
        "max_us": max(r["max_us"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "status_errors": sum(r["status_errors"] for r in results),
        "cpu_s": cpu_s,
    }
    combined["rps"] = sum(r["rps"] for r in results)
    combined["p50_ms"], combined["p99_ms"] = combined["p50_us"] / 1000, combined["p99_us"] / 1000
    return combined


def _wrk_result(server: Server, scenario: str, run: subprocess.Popen, seconds: int) -> dict:
    stdout, stderr = run.communicate(timeout=seconds + 60)
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.removeprefix("BENCH_RESULT "))
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            result["p50_ms"], result["p99_ms"] = result["p50_us"] / 1000, result["p99_us"] / 1000
            return result
    raise RuntimeError(f"wrk gave no result for {server.label}/{scenario}:\n{stdout}\n{stderr}")


def _lua_targets(path: Path, rows: list[tuple[int, int, list[str]]]) -> Path:
    lines = ["return {"]
    for project, user, ids in rows:
        auth = f"Bearer {seed.bench_raw_key(seed.bench_email(user))}"
        id_list = ", ".join(f'"{i}"' for i in ids)
        lines.append(f'  {{project = "{project}", auth = "{auth}", ids = {{{id_list}}}}},')
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_targets(database_url: str, projects: int, name: str) -> tuple[Path, Path, tuple[int, int, int, int]]:
    """Lua tables for the loads: read targets (one project per organization, so one per key) and write
    targets (the empty projects). Returns them and the ids probe.py uses."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT p.id, p.organization_id, array_agg(c.id::text ORDER BY c.id) FROM projects_project p"
            " JOIN signalsource_signalsourceconfig c ON c.project_id = p.id"
            " WHERE p.id <= %s AND (p.id - 1) %% %s = (p.organization_id * 7) %% %s"
            " GROUP BY p.id ORDER BY md5(p.id::text) LIMIT %s",
            [projects, seed.PROJECTS_PER_ORG, seed.PROJECTS_PER_ORG, READ_TARGETS],
        ).fetchall()
        writes = conn.execute(
            "SELECT id, organization_id FROM projects_project WHERE id > %s ORDER BY id", [projects]
        ).fetchall()
    read_file = _lua_targets(RESULTS / f"targets_{name}_read.lua", [(p, o, ids) for p, o, ids in rows])
    write_file = _lua_targets(RESULTS / f"targets_{name}_write.lua", [(p, o, []) for p, o in writes])
    return read_file, write_file, (rows[0][1], rows[0][0], writes[0][0], writes[0][1])


def small_scale_limits(cfg: Settings) -> dict:
    """The small scale's server counts its rate limits in a Redis database of its own (its keys have
    the ids of some of the large scale's, whose windows they would fill), with the service's
    defaults (config/settings.py) raised as many times as each of its keys carries the large scale's
    traffic: it has one key per PROJECTS_PER_ORG projects (20 at 200 projects, against the large
    scale's 1,000). Without both, most small-scale requests were cheap 429s (so its latency looked
    better than it is) and some large-scale keys were limited."""
    large_keys = min(READ_TARGETS, cfg.projects // seed.PROJECTS_PER_ORG)
    small_keys = max(1, min(READ_TARGETS, cfg.small_projects // seed.PROJECTS_PER_ORG))
    factor = -(-large_keys // small_keys)
    return {
        "REDIS_URL": SMALL_REDIS_URL,
        "RATE_LIMIT_BURST": f"{480 * factor}/minute",
        "RATE_LIMIT_SUSTAINED": f"{4800 * factor}/hour",
    }


def clear_write_projects(database_url: str, projects: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM signalsource_signalsourceconfig WHERE project_id > %s", [projects])


def settle_and_clear(database_url: str, projects: int) -> None:
    """After a create-then-delete run: the server still answers the requests it had queued when wrk
    closed its connections; wait for those, so that none creates a config after the cleanup (the
    next run would get a 400 duplicate in that slot), then delete every config in the write projects."""
    time.sleep(0.5)
    clear_write_projects(database_url, projects)


def probe(database_url: str, ids: tuple[int, int, int, int], app: str = "service") -> dict:
    """probe.py's SQL statements per request (and, for the service, the floor's and the query plans);
    `app="peer"` counts the peer's, in a process of its own (its own settings)."""
    completed = subprocess.run(
        [sys.executable, str(BENCH / "probe.py"), *map(str, ids), *(["--peer"] if app == "peer" else [])],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "bench-probe",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _combine(slices: list[dict]) -> dict:
    """One result from several slices of a run: total requests over total time, the median slice's
    percentiles (and the worst p99, kept for the record), total CPU seconds."""
    middle = sorted(slices, key=lambda r: r["p99_us"])[len(slices) // 2]
    requests, seconds = sum(r["requests"] for r in slices), sum(r["duration_us"] for r in slices) / 1e6
    return {
        "requests": requests,
        "rps": requests / seconds,
        "p50_ms": middle["p50_ms"],
        "p99_ms": middle["p99_ms"],
        "worst_p99_ms": max(r["p99_ms"] for r in slices),
        "errors": sum(r["errors"] for r in slices),
        "status_errors": sum(r["status_errors"] for r in slices),
        "cpu_s": sum(r["cpu_s"] for r in slices),
    }


def measure(servers: list[Server], scenario: str, targets: Path, cfg: Settings, after_each=None) -> dict:
    """Peak, then 70 % of each app's own peak. The apps take turns in short slices (SLICES of each),
    so a neighbour's burst of CPU on this shared machine falls on all of them rather than on one.
    Results by server label (`service@granian`); `cpu_ms` is CPU per request over both phases."""
    for server in servers:
        wrk(server, scenario, targets, cfg.warmup, cfg.connections)
        if after_each:  # the warm-up's configs too: a slot left over would answer a 400 duplicate
            after_each()
    slice_seconds = max(1, cfg.duration // SLICES)
    peak_slices: dict[str, list] = {s.label: [] for s in servers}
    for _ in range(SLICES):
        for server in servers:
            peak_slices[server.label].append(wrk(server, scenario, targets, slice_seconds, cfg.connections))
            if after_each:
                after_each()
    peaks = {label: _combine(slices) for label, slices in peak_slices.items()}
    fixed_slices: dict[str, list] = {s.label: [] for s in servers}
    for _ in range(SLICES):
        for server in servers:
            rate = peaks[server.label]["rps"] * FIXED_RATE_SHARE
            fixed_slices[server.label].append(wrk(server, scenario, targets, slice_seconds, cfg.rate_connections, rate))
            if after_each:
                after_each()
    results = {}
    for server in servers:
        peak, fixed = peaks[server.label], _combine(fixed_slices[server.label])
        rate = peak["rps"] * FIXED_RATE_SHARE
        cpu_ms = 1000 * (peak["cpu_s"] + fixed["cpu_s"]) / max(peak["requests"] + fixed["requests"], 1)
        print(
            f"  {scenario:<14} {server.label:<17} peak {peak['rps']:7.0f} req/s  p99 {peak['p99_ms']:6.1f} ms | "
            f"at {rate:5.0f} req/s: p50 {fixed['p50_ms']:5.1f} ms p99 {fixed['p99_ms']:6.1f} ms | "
            f"CPU {cpu_ms:4.2f} ms/req"
            f"  (errors {peak['errors'] + peak['status_errors'] + fixed['errors'] + fixed['status_errors']})",
            flush=True,
        )
        results[server.label] = {"peak": peak, "fixed": fixed, "rate": rate, "cpu_ms": cpu_ms}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short runs (about 2 minutes of load per server), for smoke use"
    )
    parser.add_argument("--projects", type=int, default=100_000, help="large scale, in projects (5 configs each)")
    parser.add_argument("--small-projects", type=int, default=200, help="small scale, in projects")
    parser.add_argument(
        "--duration",
        type=int,
        help="seconds per measured run (default 15; a full run is about "
        "8 minutes of load per server, plus a minute or two to seed and start)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="server instances per app (each with its own workers), the load split across them",
    )
    parser.add_argument(
        "--servers",
        "--server",
        default="granian",
        help="comma-separated servers to run every app under, side by side: granian (production: "
        "python manage.py serve) and/or gunicorn (the service's settings before granian); the first "
        "also runs the scale comparison (default: granian)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    duration = args.duration or (5 if args.quick else 15)
    if not 1 <= duration <= 300:
        parser.error("--duration must be between 1 and 300 seconds")
    if not 1 <= args.instances <= 8:
        parser.error("--instances must be between 1 and 8")
    server_kinds = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not server_kinds or len(set(server_kinds)) != len(server_kinds) or set(server_kinds) - set(SERVERS):
        parser.error(f"--servers takes one or more of {', '.join(SERVERS)}, each once")
    cfg = Settings(
        projects=args.projects,
        small_projects=args.small_projects,
        warmup=2 if args.quick else 5,
        duration=duration,
        connections=16,
        rate_connections=32,
        label="quick" if args.quick else "full",
        instances=args.instances,
        servers=server_kinds,
    )
    RESULTS.mkdir(exist_ok=True)

    print("Seeding (reused when present)", flush=True)
    large, small = seed.seed(cfg.projects), seed.seed(cfg.small_projects)
    for result in (large, small):
        how = "reused" if result["reused"] else f"seeded in {result['seconds']:.1f} s"
        print(f"  {result['url'].rsplit('/', 1)[1]}: {result['rows']:,} configs, {how}")
    for url in (REDIS_URL, SMALL_REDIS_URL):  # the benchmark's own Redis databases: fresh rate-limit windows
        redis.Redis.from_url(url).flushdb()
    read_targets, write_targets, probe_ids = make_targets(large["url"], cfg.projects, "large")
    small_read_targets, _, _ = make_targets(small["url"], cfg.small_projects, "small")
    clear_write_projects(large["url"], cfg.projects)

    # Ports: 18001 + 10 * server + app (+ 100 per further instance).
    measured_servers = [
        Server(app, wsgi, 18001 + 10 * s + a, large["url"], kind, args.instances)
        for s, kind in enumerate(server_kinds)
        for a, (app, wsgi) in enumerate(APPS.items())
    ]
    primary = server_kinds[0]
    service_small = Server(
        "service_small",
        APPS["service"],
        18009,
        small["url"],
        primary,
        args.instances,
        extra_env=small_scale_limits(cfg),
    )
    service_without_events = Server(
        "service_without_events", "bench.without_events:application", 18007, large["url"], primary, args.instances
    )
    all_servers = [*measured_servers, service_small, service_without_events]
    slice_seconds = max(1, cfg.duration // SLICES)
    load_seconds = len(measured_servers) * len(SCENARIOS) * (cfg.warmup + 2 * SLICES * slice_seconds)
    load_seconds += 3 * (cfg.warmup + 2 * SLICES * slice_seconds)
    results: dict = {"settings": cfg.__dict__, "seed": {"large": large, "small": small}, "runs": {}}
    try:
        for server in all_servers:
            server.start()
        print(
            f"Load: wrk -t1 -c{cfg.connections} for {cfg.duration} s after {cfg.warmup} s warm-up; "
            f"then {FIXED_RATE_SHARE:.0%} of each app's peak with -c{cfg.rate_connections}; "
            f"{len(measured_servers)} app/server pairs, about {load_seconds / 60:.0f} minutes",
            flush=True,
        )
        for scenario in SCENARIOS:
            targets = write_targets if scenario == "create_delete" else read_targets
            cleanup = partial(settle_and_clear, large["url"], cfg.projects) if scenario == "create_delete" else None
            measured = measure(measured_servers, scenario, targets, cfg, cleanup)
            for label, result in measured.items():
                results["runs"][f"{scenario}/{label}"] = result
        service = next(s for s in measured_servers if s.label == f"service@{primary}")
        for scenario in ("list", "retrieve"):
            rate = results["runs"][f"{scenario}/{service.label}"]["rate"]
            wrk(service_small, scenario, small_read_targets, cfg.warmup, cfg.connections)
            scale_slices: dict[str, list] = {"small": [], "large": []}
            for _ in range(SLICES):
                for scale, server, targets in (
                    ("small", service_small, small_read_targets),
                    ("large", service, read_targets),
                ):
                    scale_slices[scale].append(
                        wrk(server, scenario, targets, slice_seconds, cfg.rate_connections, rate)
                    )
            for scale, slices in scale_slices.items():
                results["runs"][f"{scenario}/scale_{scale}"] = _combine(slices)
        # The events' cost: the same PATCH load against the service with and without them, in turns.
        results["events"] = measure([service, service_without_events], "patch", read_targets, cfg)
        results["rss_mib"] = {server.label: server.worker_rss_mib() for server in measured_servers}
    finally:
        for server in all_servers:
            server.stop()
    results["probe"] = probe(large["url"], probe_ids)
    results["probe"]["queries_peer"] = probe(large["url"], probe_ids, app="peer")["queries"]
    report(results, cfg)


def events_share(results: dict) -> float:
    """The change events' share of a PATCH's CPU: (with - without) / with."""
    with_events, without_events = (run["cpu_ms"] for run in results["events"].values())
    return (with_events - without_events) / with_events


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _table(header: tuple, rows: list[tuple]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *map(line, rows), ""]


def _errors(run: dict) -> int:
    return sum(run[phase][k] for phase in ("peak", "fixed") for k in ("errors", "status_errors"))


QUERY_KEY = {"list": ["list"], "retrieve": ["retrieve"], "patch": ["patch"], "create_delete": ["create", "delete"]}


def _server_tables(results: dict, server: str) -> list[str]:
    runs, probe_result = results["runs"], results["probe"]
    queries, peer_queries = probe_result["queries"], probe_result["queries_peer"]
    throughput, cpu = [], []
    for scenario in SCENARIOS:
        svc, flo, peer = (runs[f"{scenario}/{app}@{server}"] for app in APPS)
        to_peer = svc["peak"]["rps"] / peer["peak"]["rps"]
        throughput.append(
            (
                scenario,
                f"{svc['peak']['rps']:.0f}",
                f"{flo['peak']['rps']:.0f}",
                f"{peer['peak']['rps']:.0f}",
                f"{svc['peak']['rps'] / flo['peak']['rps']:.2f}",
                f"{to_peer:.2f}",
                f">= {PEER_TARGET[scenario]} {'ok' if to_peer >= PEER_TARGET[scenario] else 'MISSED'}",
                f"{_ms(svc['fixed']['p50_ms'])} / {_ms(svc['fixed']['p99_ms'])}"
                f" {'ok' if svc['fixed']['p99_ms'] < P99_LIMIT_MS else 'MISSED'}",
                f"{_ms(flo['fixed']['p50_ms'])} / {_ms(flo['fixed']['p99_ms'])}",
                f"{_ms(peer['fixed']['p50_ms'])} / {_ms(peer['fixed']['p99_ms'])}",
                _ms(svc["peak"]["p99_ms"]),
                "/".join(str(_errors(r)) for r in (svc, flo, peer)),
            )
        )
        cpu.append(
            (
                scenario,
                f"{svc['cpu_ms']:.2f}",
                f"{flo['cpu_ms']:.2f}",
                f"{peer['cpu_ms']:.2f}",
                f"<= {CPU_TARGET_MS[scenario]} {'ok' if svc['cpu_ms'] <= CPU_TARGET_MS[scenario] else 'MISSED'}",
                f"{peer['cpu_ms'] / svc['cpu_ms']:.2f}",
                " + ".join(str(queries[k][0]) for k in QUERY_KEY[scenario]),
                " + ".join(str(queries[k][1]) for k in QUERY_KEY[scenario]),
                " + ".join(str(peer_queries[k][0]) for k in QUERY_KEY[scenario]),
            )
        )
    return [
        f"Throughput under {server} (peak req/s at -c{results['settings']['connections']}; the service's ratio "
        "to the floor is information, to the peer a target; latency at 70 % of each app's own peak)",
        *_table(
            (
                "scenario",
                "service r/s",
                "floor r/s",
                "peer r/s",
                "svc/floor",
                "svc/peer",
                "target",
                "svc p50/p99 @70%",
                "floor p50/p99 @70%",
                "peer p50/p99 @70%",
                "svc p99 @peak",
                "errors svc/floor/peer",
            ),
            throughput,
        ),
        f"CPU per request under {server} (ms: user + system CPU of all the server's processes over the peak and "
        "70 % runs / requests answered; SQL statements per request from probe.py)",
        *_table(
            (
                "scenario",
                "service",
                "floor",
                "peer",
                "target (service)",
                "peer/service",
                "SQL/req svc",
                "SQL/req floor",
                "SQL/req peer",
            ),
            cpu,
        ),
    ]


def _servers_table(results: dict, servers: list[str]) -> list[str]:
    """Each app's peak throughput and CPU per request under each server, and the first server's ratio
    to each of the others."""
    runs, first, others = results["runs"], servers[0], servers[1:]
    rows = []
    for scenario in SCENARIOS:
        for app in APPS:
            by_server = {server: runs[f"{scenario}/{app}@{server}"] for server in servers}
            rows.append(
                (
                    scenario,
                    app,
                    *(f"{by_server[server]['peak']['rps']:.0f}" for server in servers),
                    *(f"{by_server[first]['peak']['rps'] / by_server[o]['peak']['rps']:.2f}" for o in others),
                    *(f"{by_server[server]['cpu_ms']:.2f}" for server in servers),
                )
            )
    return [
        f"Servers side by side (peak req/s and CPU ms per request; gunicorn: sync workers, "
        f"{os.environ.get('WEB_CONCURRENCY') or (os.cpu_count() or 1) + 1} per instance, preloaded, no recycling)",
        *_table(
            (
                "scenario",
                "app",
                *(f"{server} r/s" for server in servers),
                *(f"{first}/{o}" for o in others),
                *(f"{server} CPU ms" for server in servers),
            ),
            rows,
        ),
    ]


def report(results: dict, cfg: Settings) -> None:
    runs, servers = results["runs"], cfg.servers
    out = [
        f"Benchmark ({cfg.label}): {results['seed']['large']['rows']:,} configs; apps: service, floor "
        f"(bench/floor_app.py), peer (bench/peer/, plain DRF); servers: {', '.join(servers)} (granian: python "
        f"manage.py serve, api/server.py), {cfg.instances} instance(s) per app, no worker recycling; "
        f"wrk -t1 -c{cfg.connections} {cfg.duration} s per run; {os.cpu_count()} cores; "
        f"{datetime.now().isoformat(timespec='seconds')}",
        "",
    ]
    for server in servers:
        out += _server_tables(results, server)
    if len(servers) > 1:
        out += _servers_table(results, servers)
    out.append(
        f"Latency by scale (service under {servers[0]}, fixed rate = {FIXED_RATE_SHARE:.0%} of its large-scale peak; "
        f"target: large p50 <= {SCALE_LATENCY_LIMIT}x small p50)"
    )
    for scenario in ("list", "retrieve"):
        small, large = runs[f"{scenario}/scale_small"], runs[f"{scenario}/scale_large"]
        factor = large["p50_ms"] / small["p50_ms"]
        out.append(
            f"  {scenario:<9} {results['seed']['small']['rows']:>7,} rows: p50 {_ms(small['p50_ms'])} ms "
            f"p99 {_ms(small['p99_ms'])} ms | {results['seed']['large']['rows']:,} rows: p50 {_ms(large['p50_ms'])} ms "
            f"p99 {_ms(large['p99_ms'])} ms | x{factor:.2f} {'ok' if factor <= SCALE_LATENCY_LIMIT else 'MISSED'}"
            + "".join(
                f" ({run['errors'] + run['status_errors']} errors at the {name} scale: not comparable)"
                for name, run in (("small", small), ("large", large))
                if run["errors"] + run["status_errors"]
            )
        )
    (with_events, without_events), share = results["events"].values(), events_share(results)
    out.append(
        f"Change events' cost per PATCH (the service with and without them, side by side under {servers[0]}): "
        f"CPU {with_events['cpu_ms']:.2f} against {without_events['cpu_ms']:.2f} ms/req, {share:.1%} of a "
        f"PATCH's (target < {EVENTS_SHARE_LIMIT:.0%} {'ok' if share < EVENTS_SHARE_LIMIT else 'MISSED'}); "
        f"peak {with_events['peak']['rps']:.0f} against {without_events['peak']['rps']:.0f} req/s"
    )
    out.append("")
    for label, rss in results["rss_mib"].items():
        out.append(
            f"Memory per worker, {label}: {', '.join(f'{r:.0f}' for r in rss)} MiB "
            f"(mean {sum(rss) / max(len(rss), 1):.0f} MiB, {len(rss)} workers)"
        )
    out += ["", "Query plans at the large scale (EXPLAIN ANALYZE of the service's own SQL):"]
    for name, plan in results["probe"]["plans"].items():
        out += [f"-- {name}", plan, ""]
    text = "\n".join(out)
    print("\n" + text)

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{stamp}.txt").write_text(text + "\n")
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    chart(results, RESULTS / f"bench-{stamp}.png", out[0], servers[0])
    print(f"Written: bench/results/bench-{stamp}.txt, .json, .png")


def chart(results: dict, path: Path, title: str, server: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    fig, (ax_rps, ax_lat, ax_cpu, ax_mem) = plt.subplots(
        1, 4, figsize=(20, 5), gridspec_kw={"width_ratios": [3, 3, 3, 1]}
    )
    xs = range(len(SCENARIOS))
    colors = {"service": "tab:blue", "floor": "tab:gray", "peer": "tab:orange"}
    width = 0.8 / len(APPS)
    for index, app in enumerate(APPS):
        offsets = [x + (index - (len(APPS) - 1) / 2) * width for x in xs]
        app_runs = [runs[f"{s}/{app}@{server}"] for s in SCENARIOS]
        color = colors[app]
        ax_rps.bar(offsets, [r["peak"]["rps"] for r in app_runs], width, label=app, color=color)
        ax_lat.bar(offsets, [r["fixed"]["p99_ms"] for r in app_runs], width, color=color, alpha=0.4)
        ax_lat.bar(offsets, [r["fixed"]["p50_ms"] for r in app_runs], width, color=color, label=f"{app} p50 (p99)")
        ax_cpu.bar(offsets, [r["cpu_ms"] for r in app_runs], width, label=app, color=color)
    for x, s in zip(xs, SCENARIOS, strict=True):
        svc, flo, peer = (runs[f"{s}/{app}@{server}"]["peak"]["rps"] for app in APPS)
        ax_rps.annotate(
            f"{svc / flo:.2f}x floor\n{svc / peer:.2f}x peer",
            (x, 0),
            xytext=(0, -36),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax_rps.set(title=f"Peak requests/s ({server})", xticks=list(xs), xticklabels=SCENARIOS)
    ax_lat.axhline(P99_LIMIT_MS, color="red", linestyle="--", linewidth=1)
    ax_lat.set(title="Latency at 70% of own peak (ms)", xticks=list(xs), xticklabels=SCENARIOS)
    ax_cpu.scatter(xs, [CPU_TARGET_MS[s] for s in SCENARIOS], color="red", marker="_", s=400, label="target")
    ax_cpu.set(title="CPU per request (ms, all server processes)", xticks=list(xs), xticklabels=SCENARIOS)
    rss = {app: results["rss_mib"][f"{app}@{server}"] for app in APPS}
    ax_mem.bar(list(rss), [sum(v) / max(len(v), 1) for v in rss.values()], color=[colors[a] for a in rss])
    ax_mem.set(title="RSS per worker (MiB)")
    ax_rps.legend()
    ax_lat.legend(fontsize=8)
    ax_cpu.legend(fontsize=8)
    fig.suptitle(title, fontsize=9, wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
