"""The benchmark, in one command: `make bench` (or `.venv/bin/python bench/run.py [--quick]`).

1. Seeds PostgreSQL if needed (bench/seed.py): 100,000 projects with 500,000 configs, and a small
   scale of 1,000 configs, each in a database of its own.
2. Serves the service (production settings: DEBUG off, rate limits in Redis) and the raw floor
   (bench/floor_app.py) with the same `python manage.py serve` (api/server.py) on the same
   database, on 127.0.0.1 only.
3. Drives each with wrk (a separate process, one thread) for list, retrieve, create-then-delete and
   PATCH: a warm-up, then a fixed concurrency (the peak), then a fixed rate of 70 % of that app's
   own peak. List and retrieve also run against the small scale at the large scale's rate.
4. Prints the table (requests/s, ratio, p50/p99, SQL statements per request, memory per worker)
   and the query plans, and writes the table, a JSON file and a PNG chart into bench/results/.

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
SCENARIOS = ["list", "retrieve", "create_delete", "patch"]
TARGET_RATIO = {"list": 0.5, "retrieve": 0.5, "create_delete": 0.4, "patch": 0.4}
READ_TARGETS = 1000  # projects (each with its own key) the read and PATCH loads rotate over
FIXED_RATE_SHARE = 0.7
P99_LIMIT_MS = 50
SCALE_LATENCY_LIMIT = 1.2
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


@dataclass
class Server:
    """One app (the service or the floor), served by `instances` server instances of its own, each
    on a port of its own (port, port + 100, ...), all on the same database and Redis."""

    name: str
    app: str
    port: int
    database_url: str
    instances: int = 1
    processes: list = field(default_factory=list)
    extra_env: dict = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [f"http://{HOST}:{self.port + 100 * i}" for i in range(self.instances)]

    def start(self) -> None:
        for index, url in enumerate(self.urls):
            self._start_instance(index, url)

    def _start_instance(self, index: int, url: str) -> None:
        log_path = RESULTS / (f"{self.name}.log" if index == 0 else f"{self.name}.{index}.log")
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "HOST": HOST,
            "PORT": url.rsplit(":", 1)[1],
            "ALLOWED_HOSTS": HOST,
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                # The same command, and so the same server settings (api/server.py), for both apps.
                [str(ROOT / ".venv/bin/python"), str(ROOT / "manage.py"), "serve", "--app", self.app],
                cwd=ROOT,
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
                raise RuntimeError(f"{self.name} exited; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within 120 s; see {log_path}")

    def worker_rss_mib(self) -> list[float]:
        rss = []
        for process in self.processes:
            rss += subprocess.run(
                ["ps", "--ppid", str(process.pid), "-o", "rss="], capture_output=True, text=True, check=False
            ).stdout.split()
        return [int(kib) / 1024 for kib in rss]

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
    them: requests add up; p50 is the request-weighted mean of the instances' p50, p99 the worst."""
    urls = server.urls
    runs = []
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
    if len(results) == 1:
        return results[0]
    requests = sum(r["requests"] for r in results)
    combined = {
        "requests": requests,
        "duration_us": max(r["duration_us"] for r in results),
        "p50_us": sum(r["p50_us"] * r["requests"] for r in results) / max(requests, 1),
        "p99_us": max(r["p99_us"] for r in results),
        "max_us": max(r["max_us"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "status_errors": sum(r["status_errors"] for r in results),
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
    raise RuntimeError(f"wrk gave no result for {server.name}/{scenario}:\n{stdout}\n{stderr}")


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


def clear_write_projects(database_url: str, projects: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM signalsource_signalsourceconfig WHERE project_id > %s", [projects])


def probe(database_url: str, ids: tuple[int, int, int, int]) -> dict:
    completed = subprocess.run(
        [sys.executable, str(BENCH / "probe.py"), *map(str, ids)],
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
    percentiles (and the worst p99, kept for the record)."""
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
    }


def measure(servers: list[Server], scenario: str, targets: Path, cfg: Settings, after_each=None) -> dict:
    """Peak, then 70 % of each app's own peak. The apps take turns in short slices (SLICES of each),
    so a neighbour's burst of CPU on this shared machine falls on both rather than on one."""
    for server in servers:
        wrk(server, scenario, targets, cfg.warmup, cfg.connections)
        if after_each:  # the warm-up's configs too: a slot left over would answer a 400 duplicate
            after_each()
    slice_seconds = max(1, cfg.duration // SLICES)
    peak_slices: dict[str, list] = {s.name: [] for s in servers}
    for _ in range(SLICES):
        for server in servers:
            peak_slices[server.name].append(wrk(server, scenario, targets, slice_seconds, cfg.connections))
            if after_each:
                after_each()
    peaks = {name: _combine(slices) for name, slices in peak_slices.items()}
    fixed_slices: dict[str, list] = {s.name: [] for s in servers}
    for _ in range(SLICES):
        for server in servers:
            rate = peaks[server.name]["rps"] * FIXED_RATE_SHARE
            fixed_slices[server.name].append(wrk(server, scenario, targets, slice_seconds, cfg.rate_connections, rate))
            if after_each:
                after_each()
    results = {}
    for server in servers:
        peak, fixed = peaks[server.name], _combine(fixed_slices[server.name])
        rate = peak["rps"] * FIXED_RATE_SHARE
        print(
            f"  {scenario:<14} {server.name:<8} peak {peak['rps']:7.0f} req/s  p99 {peak['p99_ms']:6.1f} ms | "
            f"at {rate:5.0f} req/s: p50 {fixed['p50_ms']:5.1f} ms p99 {fixed['p99_ms']:6.1f} ms"
            f"  (errors {peak['errors'] + peak['status_errors'] + fixed['errors'] + fixed['status_errors']})",
            flush=True,
        )
        results[server.name] = {"peak": peak, "fixed": fixed, "rate": rate}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under ~3 minutes), for smoke use")
    parser.add_argument("--projects", type=int, default=100_000, help="large scale, in projects (5 configs each)")
    parser.add_argument("--small-projects", type=int, default=200, help="small scale, in projects")
    parser.add_argument("--duration", type=int, help="seconds per measured run")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="server instances per app (each with its own workers), the load split across them",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    duration = args.duration or (5 if args.quick else 15)
    if not 1 <= duration <= 300:
        parser.error("--duration must be between 1 and 300 seconds")
    if not 1 <= args.instances <= 8:
        parser.error("--instances must be between 1 and 8")
    cfg = Settings(
        projects=args.projects,
        small_projects=args.small_projects,
        warmup=2 if args.quick else 5,
        duration=duration,
        connections=16,
        rate_connections=32,
        label="quick" if args.quick else "full",
        instances=args.instances,
    )
    RESULTS.mkdir(exist_ok=True)

    print("Seeding (reused when present)", flush=True)
    large, small = seed.seed(cfg.projects), seed.seed(cfg.small_projects)
    for result in (large, small):
        how = "reused" if result["reused"] else f"seeded in {result['seconds']:.1f} s"
        print(f"  {result['url'].rsplit('/', 1)[1]}: {result['rows']:,} configs, {how}")
    redis.Redis.from_url(REDIS_URL).flushdb()  # the benchmark's own Redis database: fresh rate-limit windows
    read_targets, write_targets, probe_ids = make_targets(large["url"], cfg.projects, "large")
    small_read_targets, _, _ = make_targets(small["url"], cfg.small_projects, "small")
    clear_write_projects(large["url"], cfg.projects)

    servers = {
        "service": Server("service", "config.wsgi:application", 18001, large["url"], args.instances),
        "floor": Server("floor", "bench.floor_app:application", 18002, large["url"], args.instances),
        "service_small": Server("service_small", "config.wsgi:application", 18003, small["url"], args.instances),
    }
    results: dict = {"settings": cfg.__dict__, "seed": {"large": large, "small": small}, "runs": {}}
    try:
        for server in servers.values():
            server.start()
        print(
            f"Load: wrk -t1 -c{cfg.connections} for {cfg.duration} s after {cfg.warmup} s warm-up; "
            f"then {FIXED_RATE_SHARE:.0%} of each app's peak with -c{cfg.rate_connections}",
            flush=True,
        )
        for scenario in SCENARIOS:
            targets = write_targets if scenario == "create_delete" else read_targets
            cleanup = None
            if scenario == "create_delete":
                cleanup = lambda: clear_write_projects(large["url"], cfg.projects)  # noqa: E731
            measured = measure([servers["service"], servers["floor"]], scenario, targets, cfg, cleanup)
            for name, result in measured.items():
                results["runs"][f"{scenario}/{name}"] = result
        for scenario in ("list", "retrieve"):
            rate = results["runs"][f"{scenario}/service"]["rate"]
            wrk(servers["service_small"], scenario, small_read_targets, cfg.warmup, cfg.connections)
            scale_slices: dict[str, list] = {"small": [], "large": []}
            for _ in range(SLICES):
                for scale, server, targets in (
                    ("small", servers["service_small"], small_read_targets),
                    ("large", servers["service"], read_targets),
                ):
                    scale_slices[scale].append(
                        wrk(server, scenario, targets, max(1, cfg.duration // SLICES), cfg.rate_connections, rate)
                    )
            for scale, slices in scale_slices.items():
                results["runs"][f"{scenario}/scale_{scale}"] = _combine(slices)
        results["rss_mib"] = {name: servers[name].worker_rss_mib() for name in ("service", "floor")}
    finally:
        for server in servers.values():
            server.stop()
    results["probe"] = probe(large["url"], probe_ids)
    report(results, cfg)


def _ms(value: float) -> str:
    return f"{value:.1f}"


def report(results: dict, cfg: Settings) -> None:
    runs, queries = results["runs"], results["probe"]["queries"]
    query_key = {"list": ["list"], "retrieve": ["retrieve"], "patch": ["patch"], "create_delete": ["create", "delete"]}
    header = (
        "scenario",
        "service r/s",
        "floor r/s",
        "ratio",
        "target",
        "svc p50/p99 @70%",
        "floor p50/p99 @70%",
        "svc p99 @peak",
        "SQL/req svc",
        "SQL/req floor",
        "errors",
    )
    rows = []
    for scenario in SCENARIOS:
        svc, flo = runs[f"{scenario}/service"], runs[f"{scenario}/floor"]
        ratio = svc["peak"]["rps"] / flo["peak"]["rps"]
        errors = sum(
            r[k] for r in (svc["peak"], svc["fixed"], flo["peak"], flo["fixed"]) for k in ("errors", "status_errors")
        )
        rows.append(
            (
                scenario,
                f"{svc['peak']['rps']:.0f}",
                f"{flo['peak']['rps']:.0f}",
                f"{ratio:.2f}",
                f">= {TARGET_RATIO[scenario]} {'ok' if ratio >= TARGET_RATIO[scenario] else 'MISSED'}",
                f"{_ms(svc['fixed']['p50_ms'])} / {_ms(svc['fixed']['p99_ms'])}"
                f" {'ok' if svc['fixed']['p99_ms'] < P99_LIMIT_MS else 'MISSED'}",
                f"{_ms(flo['fixed']['p50_ms'])} / {_ms(flo['fixed']['p99_ms'])}",
                _ms(svc["peak"]["p99_ms"]),
                " + ".join(str(queries[k][0]) for k in query_key[scenario]),
                " + ".join(str(queries[k][1]) for k in query_key[scenario]),
                str(errors),
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    out = [
        f"Benchmark ({cfg.label}): {results['seed']['large']['rows']:,} configs; "
        f"python manage.py serve (granian, api/server.py) for both apps, {cfg.instances} instance(s) each; "
        f"wrk -t1 -c{cfg.connections} {cfg.duration} s per run; "
        f"{os.cpu_count()} cores; {datetime.now().isoformat(timespec='seconds')}",
        "",
        line(header),
        line(["-" * w for w in widths]),
        *map(line, rows),
        "",
    ]
    out.append(
        f"Latency by scale (service, fixed rate = {FIXED_RATE_SHARE:.0%} of its large-scale peak; "
        f"target: large p50 <= {SCALE_LATENCY_LIMIT}x small p50)"
    )
    for scenario in ("list", "retrieve"):
        small, large = runs[f"{scenario}/scale_small"], runs[f"{scenario}/scale_large"]
        factor = large["p50_ms"] / small["p50_ms"]
        out.append(
            f"  {scenario:<9} {results['seed']['small']['rows']:>7,} rows: p50 {_ms(small['p50_ms'])} ms "
            f"p99 {_ms(small['p99_ms'])} ms | {results['seed']['large']['rows']:,} rows: p50 {_ms(large['p50_ms'])} ms "
            f"p99 {_ms(large['p99_ms'])} ms | x{factor:.2f} {'ok' if factor <= SCALE_LATENCY_LIMIT else 'MISSED'}"
        )
    out.append("")
    for name, rss in results["rss_mib"].items():
        out.append(
            f"Memory per worker, {name}: {', '.join(f'{r:.0f}' for r in rss)} MiB "
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
    chart(results, RESULTS / f"bench-{stamp}.png", out[0])
    print(f"Written: bench/results/bench-{stamp}.txt, .json, .png")


def chart(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    fig, (ax_rps, ax_lat, ax_mem) = plt.subplots(1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [3, 3, 1]})
    xs = range(len(SCENARIOS))
    for offset, name, color in ((-0.2, "service", "tab:blue"), (0.2, "floor", "tab:gray")):
        peaks = [runs[f"{s}/{name}"]["peak"]["rps"] for s in SCENARIOS]
        ax_rps.bar([x + offset for x in xs], peaks, 0.4, label=name, color=color)
        p50 = [runs[f"{s}/{name}"]["fixed"]["p50_ms"] for s in SCENARIOS]
        p99 = [runs[f"{s}/{name}"]["fixed"]["p99_ms"] for s in SCENARIOS]
        ax_lat.bar([x + offset for x in xs], p99, 0.4, color=color, alpha=0.4, label=f"{name} p99")
        ax_lat.bar([x + offset for x in xs], p50, 0.4, color=color, label=f"{name} p50")
    for x, s in zip(xs, SCENARIOS, strict=True):
        ratio = runs[f"{s}/service"]["peak"]["rps"] / runs[f"{s}/floor"]["peak"]["rps"]
        ax_rps.annotate(f"{ratio:.2f}x", (x, 0), xytext=(0, -28), textcoords="offset points", ha="center")
    ax_rps.set(title="Peak requests/s (ratio service/floor)", xticks=list(xs), xticklabels=SCENARIOS)
    ax_lat.axhline(P99_LIMIT_MS, color="red", linestyle="--", linewidth=1)
    ax_lat.set(title="Latency at 70% of own peak (ms)", xticks=list(xs), xticklabels=SCENARIOS)
    rss = results["rss_mib"]
    ax_mem.bar(list(rss), [sum(v) / max(len(v), 1) for v in rss.values()], color=["tab:blue", "tab:gray"])
    ax_mem.set(title="RSS per worker (MiB)")
    ax_rps.legend()
    ax_lat.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
