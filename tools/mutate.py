"""Mutation testing (mutmut), one rule module at a time: `make mutate`, or
`.venv/bin/python tools/mutate.py api/conditional.py signalsource/catalog.py` for some of them.

Each module is mutated in a scratch copy of the project (`.mutate/<module>/`, ignored by git), with a
`[tool.mutmut]` section of its own: only that module is mutated and only the test files that cover it
run against each mutant (MODULES below), so that one module takes minutes, not the whole suite per
mutant. One worker at a time by default (a shared machine; `--children N` for more). Progress: the
module being run, then mutmut's own counter. At the end, one line per module: killed, survived,
timeout and the rest, and the survivors' names (`mutmut show <name>` in `.mutate/<module>/` shows a
mutant). Survivors are killed by a test or explained in tests/mutation-survivors.md.

Not in `.ci/run`: a run over every module takes hours on a 2-core machine.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutate"
# What the copy needs to import and test the project.
COPIED = [
    "activity_log", "api", "auth_keys", "change_events", "common", "config", "projects", "signalsource", "tests",
    "manage.py", ".secret_key", "openapi.yaml", "pyproject.toml",
]  # fmt: skip

# The rule modules, smallest first, each with the test files that hold its rules.
MODULES = {
    # `header()` runs at import (test_openapi_headers.py calls it again), `Precondition` in the bulk
    # operations and the upsert by source: their tests too.
    "api/conditional.py": [
        "tests/signalsource/test_conditional_requests.py",
        "tests/signalsource/test_configs_create.py",
        "tests/signalsource/test_bulk.py",
        "tests/signalsource/test_upsert_by_source.py",
        "tests/api/test_openapi_headers.py",
    ],
    "api/parsers.py": [
        "tests/api/test_parsers.py",
        "tests/api/test_bad_input.py",
        "tests/signalsource/test_merge_patch.py",
    ],
    "common/sql.py": ["tests/common/test_sql.py", "tests/signalsource/test_selectors.py"],
    # test_sql.py: the reads ask the routers for their database.
    "signalsource/selectors.py": ["tests/signalsource/test_selectors.py", "tests/common/test_sql.py"],
    # test_hardening_round3.py: what is kept of a refusal, bodies that cannot be fingerprinted, JSON and form.
    "api/idempotency.py": ["tests/signalsource/test_idempotent_creates.py", "tests/api/test_hardening_round3.py"],
    # Not the access matrix: every mutant of the per-request code would run its hundreds of requests.
    "auth_keys/authentication.py": ["tests/auth_keys/test_api_keys.py"],
    # test_rate_limits.py: the throttles run right after authentication, once per request
    # (`perform_authentication`, `check_throttles`), which only the limits' own tests can show.
    "api/viewsets.py": [
        "tests/api/test_tenancy_base.py",
        "tests/api/test_tenancy_bypass.py",
        "tests/api/test_rate_limits.py",
    ],
    # test_bulk.py: `charge`, a bulk's per-operation cost; test_health.py: `ping_redis` (/readyz).
    "api/throttling.py": [
        "tests/api/test_rate_limits.py",
        "tests/signalsource/test_bulk.py",
        "tests/api/test_health.py",
    ],
    "signalsource/catalog.py": [
        "tests/signalsource/test_catalog.py",
        "tests/signalsource/test_full_catalog.py",
        "tests/signalsource/test_properties.py",
    ],
    # test_bulk.py and test_upsert_by_source.py: `apply_bulk` and `upsert_config` are run by no other.
    "signalsource/services.py": [
        "tests/signalsource/test_services.py",
        "tests/signalsource/test_merge_patch.py",
        "tests/signalsource/test_configs_uniqueness.py",
        "tests/signalsource/test_properties.py",
        "tests/signalsource/test_upsert_by_source.py",
        "tests/signalsource/test_bulk.py",
    ],
}


def _copy_project(workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, workdir / name)


def _configure(workdir: Path, module: str, tests: list[str]) -> None:
    also_copy = [name for name in COPIED if name not in {"pyproject.toml"} and (workdir / name).exists()]
    section = {
        "source_paths": [module],
        "also_copy": also_copy,
        # A live server's code runs in another process, which mutmut's stats cannot see: those tests
        # would cost seconds per mutant for functions the in-process tests already cover.
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x", "--reuse-db", "-m", "not live_server_process"],
        "pytest_add_cli_args_test_selection": tests,
        # A mutant that never ends (a retry loop that never succeeds: services.py's `while True`) is
        # stopped after (estimate + constant) x multiplier seconds of wall time, the estimate being
        # the time its tests took unmutated. mutmut's default (x15, +1) let each such mutant run for
        # minutes; x3 (+5 s for the session's start) still leaves a loaded machine room.
        "timeout_multiplier": 3.0,
        "timeout_constant": 5.0,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in section.items()]
    with (workdir / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n".join(lines) + "\n")


def _session_env(workdir: Path, postgres: str | None) -> dict[str, str]:
    """Each mutant runs a pytest session of its own: the static files collected once and a test
    database kept (`--reuse-db`) spare every session seconds of collecting and migrating."""
    if postgres:
        database = {"DATABASE_URL": postgres, "TEST_DATABASE_NAME": f"test_mutate_{workdir.name.replace('.', '_')}"}
    else:
        database = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "TEST_DATABASE_NAME": str(workdir / "t.db")}
    return {**os.environ, **database, "TEST_STATIC_ROOT": str(workdir / "static")}


@contextlib.contextmanager
def _private_redis():
    """A Redis server of the run's own (Debian's redis-server, on a free port), for the tests that
    talk to Redis (TEST_REDIS_URL). A mutant of the rate limiter can leave a script running in Redis
    for minutes, and Redis then answers BUSY to every client: the machine's shared Redis, which other
    test runs use, must never be the one. Yields its URL; warns when a mutant left it busy (the
    mutants tested after that one failed against it, whatever their code)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(50):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.1)
        yield url
        try:
            redis.Redis.from_url(url, socket_timeout=2).ping()
        except redis.RedisError as error:
            print(f"WARNING: a mutant left the run's Redis answering {error}: the results after it are suspect")
    finally:
        server.kill()
        server.wait()


def _results(workdir: Path, mutmut: str) -> dict[str, list[str]]:
    command = [mutmut, "results", "--all", "true"]  # our own venv's mutmut, no shell
    output = subprocess.run(command, cwd=workdir, capture_output=True, text=True).stdout  # noqa: S603
    by_status: dict[str, list[str]] = {}
    for line in output.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            by_status.setdefault(status, []).append(name)
    return by_status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--children", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument(
        "--postgres",
        metavar="DATABASE_URL",
        help="test on this PostgreSQL server (default: SQLite); for the branches only PostgreSQL takes (common/sql.py)",
    )
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [module for module in modules if module not in MODULES]
    if unknown:
        parser.error(f"not a rule module: {', '.join(unknown)} (see MODULES in tools/mutate.py)")
    mutmut = str(Path(sys.executable).parent / "mutmut")
    summary = {}
    for index, module in enumerate(modules, 1):
        workdir = SCRATCH / (module.replace("/", "__") + ("__postgresql" if args.postgres else ""))
        print(f"[{index}/{len(modules)}] {module}: tests {' '.join(MODULES[module])}", flush=True)
        _copy_project(workdir)
        _configure(workdir, module, MODULES[module])
        started = time.monotonic()
        command = [mutmut, "run", "--max-children", str(args.children)]  # no shell, no outside input
        with _private_redis() as redis_url:
            env = {**_session_env(workdir, args.postgres), "TEST_REDIS_URL": redis_url}
            subprocess.run(command, cwd=workdir, env=env, check=False)  # noqa: S603
        summary[module] = (_results(workdir, mutmut), time.monotonic() - started)
    print("\nmodule: killed / survived / timeout / other (minutes)")
    for module, (by_status, seconds) in summary.items():
        counts = {status: len(names) for status, names in by_status.items()}
        other = sum(count for status, count in counts.items() if status not in {"killed", "survived", "timeout"})
        print(
            f"{module}: {counts.get('killed', 0)} / {counts.get('survived', 0)} / {counts.get('timeout', 0)}"
            f" / {other} ({seconds / 60:.1f})"
        )
        for name in by_status.get("survived", []):
            print(f"  survived: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
