"""This checkout's service against a baseline, side by side, with the peer as a third column:
`.venv/bin/python bench/compare.py --base-env DB_PREPARED_STATEMENTS=0` (the same code, other
settings) or `--base-checkout ../before` (another checkout, e.g. `git worktree add ../before HEAD~3`;
its `.venv` may be a link to this one's).

For measuring one change at a time: `make bench` compares the service with the floor and the peer,
not with itself. The loads, the seeded database and the measurement are `make bench`'s
(bench/run.py: a warm-up, then the peak and 70 % of it, the apps taking turns in short slices), so
the ratios printed at the end are measured side by side in one run. About 100 s per scenario.
"""

import argparse
import shutil
import sys
from functools import partial
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(run.SCENARIOS), help="comma-separated")
    parser.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE", help="the baseline's settings")
    parser.add_argument("--base-checkout", type=Path, help="the baseline's checkout (default: this one)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    if not scenarios or set(scenarios) - set(run.SCENARIOS):
        parser.error(f"--scenarios takes some of {', '.join(run.SCENARIOS)}")
    if any("=" not in pair for pair in args.base_env):
        parser.error("--base-env takes NAME=VALUE")
    checkout = (args.base_checkout or run.ROOT).resolve()
    if not (checkout / ".venv/bin/python").exists():
        parser.error(f"{checkout} has no .venv/bin/python")
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    base_env = dict(pair.split("=", 1) for pair in args.base_env)

    cfg = run.Settings(
        projects=100_000,
        small_projects=200,
        warmup=5,
        duration=args.duration,
        connections=16,
        rate_connections=32,
        label="compare",
        instances=1,
        servers=["granian"],
    )
    run.RESULTS.mkdir(exist_ok=True)
    large = run.seed.seed(cfg.projects)
    redis.Redis.from_url(run.REDIS_URL).flushdb()
    read_targets, write_targets, _ = run.make_targets(large["url"], cfg.projects, "large")
    run.clear_write_projects(large["url"], cfg.projects)
    servers = [
        run.Server("service", run.APPS["service"], 18101, large["url"]),
        run.Server("baseline", run.APPS["service"], 18102, large["url"], extra_env=base_env, checkout=checkout),
        run.Server("peer", run.APPS["peer"], 18103, large["url"]),
    ]
    print(f"baseline: {checkout} {' '.join(args.base_env)}".rstrip(), flush=True)
    lines = []
    try:
        for server in servers:
            server.start()
        for scenario in scenarios:
            writes = scenario == "create_delete"
            cleanup = partial(run.settle_and_clear, large["url"], cfg.projects) if writes else None
            measured = run.measure(servers, scenario, write_targets if writes else read_targets, cfg, cleanup)
            service, baseline, peer = (measured[f"{name}@granian"] for name in ("service", "baseline", "peer"))
            lines.append(
                f"  {scenario:<14} service/baseline {service['peak']['rps'] / baseline['peak']['rps']:.2f}x   "
                f"service/peer {service['peak']['rps'] / peer['peak']['rps']:.2f}x   "
                f"baseline/peer {baseline['peak']['rps'] / peer['peak']['rps']:.2f}x   "
                f"CPU ms/req: service {service['cpu_ms']:.2f}, baseline {baseline['cpu_ms']:.2f}, "
                f"peer {peer['cpu_ms']:.2f}"
            )
    finally:
        for server in servers:
            server.stop()
    print("\nPeak requests/s, side by side:", *lines, sep="\n")


if __name__ == "__main__":
    main()
