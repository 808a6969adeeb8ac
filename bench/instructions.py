"""Instructions per request, in process, under callgrind: the before/after of one change.

    .venv/bin/python bench/instructions.py [--scenarios list,patch] [--base-checkout ../before]

A second of CPU on these machines varies with whatever else runs; an instruction count does not
(callgrind counts the same total for the same run, loaded or idle). For each scenario of
`bench/profile_requests.py` it runs that script twice under `valgrind --tool=callgrind`, with the
same warm-up and two numbers of timed requests, and prints the difference divided by the difference
in requests: start-up, imports and warm-up cancel out. With `--base-checkout`, the same script (this
checkout's copy) runs the other checkout's code too, and the ratio after/before is printed.

Needs Debian's valgrind and the benchmark's seeded PostgreSQL (`bench/seed.py --projects 1000` is
enough: PROFILE_PROJECTS picks the scale, 1000 here by default).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "profile_requests.py"
TOTAL = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


def instructions(
    checkout: Path, scenario: str, requests: int, warmup: int, extra: tuple = (), keep: Path | None = None
) -> int:
    """Every instruction of one run of profile_requests.py (`--plain`, and `extra`) over `checkout`'s code;
    the profile is copied to `keep` when given (for callgrind_annotate)."""
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        python = ROOT / ".venv" / "bin" / "python"
    # The same hash seed every run: a set's or dict's order must not move the count.
    environment = {**os.environ, "PROFILE_ROOT": str(checkout), "PYTHONHASHSEED": "0"}
    environment.setdefault("PROFILE_PROJECTS", "1000")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                str(python),
                str(SCRIPT),
                "--plain",
                "--scenarios",
                scenario,
                "--requests",
                str(requests),
                "--warmup",
                str(warmup),
                *extra,
            ],
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=checkout,
        )
        if keep:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, keep)
        return int(TOTAL.search(out.read_bytes()).group(1))


def per_request(
    checkout: Path, scenario: str, low: int, high: int, warmup: int, extra: tuple = (), keep: Path | None = None
) -> float:
    """Instructions per request: the difference of two runs over the difference in their requests."""
    counts = [
        instructions(checkout, scenario, requests, warmup, extra, keep and keep / f"{scenario}.{requests}.callgrind")
        for requests in (high, low)
    ]
    return (counts[0] - counts[1]) / (high - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="list,retrieve,patch,create_delete")
    parser.add_argument("--base-checkout", type=Path, help="another checkout (the code before a change)")
    parser.add_argument(
        "--without-events",
        action="store_true",
        help="the baseline is this checkout with its writes as before change events (their own cost)",
    )
    parser.add_argument("--low", type=int, default=20, help="timed requests of the first run")
    parser.add_argument("--high", type=int, default=60, help="timed requests of the second run")
    parser.add_argument("--warmup", type=int, default=40, help="requests before either run's timed ones")
    parser.add_argument(
        "--keep-profiles",
        type=Path,
        metavar="DIR",
        help="keep each run's callgrind profile in DIR/<after|before>/ (callgrind_annotate --inclusive=yes)",
    )
    args = parser.parse_args()
    if args.base_checkout and args.without_events:
        parser.error("--base-checkout or --without-events, not both")
    checkouts = [("after", ROOT, ())]
    if args.base_checkout:
        checkouts.append(("before", args.base_checkout.resolve(), ()))
    elif args.without_events:
        checkouts.append(("before", ROOT, ("--without-events",)))
    print(f"instructions per request (callgrind, ({args.high} - {args.low} requests) after {args.warmup} warm-up)")
    for scenario in args.scenarios.split(","):
        counts = {}
        for name, checkout, extra in checkouts:
            keep = args.keep_profiles and args.keep_profiles / name
            counts[name] = per_request(checkout, scenario, args.low, args.high, args.warmup, extra, keep)
            print(f"  {scenario:14} {name:6} {counts[name] / 1e6:8.3f} M", flush=True)
        if "before" in counts:
            print(f"  {scenario:14} after/before {counts['after'] / counts['before']:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
