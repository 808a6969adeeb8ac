"""Seeds a benchmark database of its own with organizations, users, memberships, keys, projects and
their signal source configs, through COPY (minutes, not hours), with a progress bar.

    .venv/bin/python bench/seed.py                      # 100,000 projects, 500,000 configs
    .venv/bin/python bench/seed.py --projects 200       # the small scale: 1,000 configs

Each scale gets its own database (`bench_p<projects>`), created when absent and never the `test`
database the suite uses; a database already seeded at its scale is left as it is (`--force` reseeds).

Layout: ten projects per organization, one member user per organization, one `task:write` key per
user. Every project has its five sources. `WRITE_PROJECTS` extra projects start
empty, each in an organization of its own (so a key of its own, which keeps the
per-key rate limits out of the way), so create-then-delete has free (project, source) slots.

Benchmark keys are derived from the user's email (`bench_raw_key`), so the load generator can
recompute them; only their digests are in the database, as the service requires. They open nothing
but this throwaway database.
"""

import argparse
import base64
import hashlib
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import uuid6
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://root@127.0.0.1:5432")
PROJECTS_PER_ORG = 10
WRITE_PROJECTS = 500
BATCH = 5000

# The five sources of the catalog, each with a config of the kind users store.
SOURCES = [
    ("session_replay", "session_analysis_cluster", {"sample_rate": 0.25, "recording_filters": {"duration_gt": 30}}),
    ("llm_analytics", "evaluation", {"steering": "Flag answers that contradict the docs."}),
    ("github", "issue", {"default_not_actionable": False}),
    ("linear", "issue", {"linear_team_ids": ["ENG", "OPS"]}),
    ("zendesk", "ticket", {}),
]


def database_name(projects: int) -> str:
    return f"bench_p{projects}"


def database_url(projects: int) -> str:
    return f"{SERVER_URL}/{database_name(projects)}"


def bench_email(user_index: int) -> str:
    return f"bench{user_index}@example.com"


def bench_raw_key(email: str) -> str:
    """A key of the service's format (`phx_` + 43 url-safe characters), derived from the email."""
    secret = hashlib.sha256(f"signalsource-bench-key:{email}".encode()).digest()
    return "phx_" + base64.urlsafe_b64encode(secret).rstrip(b"=").decode()


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _ensure_database(name: str) -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    env.setdefault("SECRET_KEY", "bench-only")
    for command in (["migrate", "--no-input", "-v", "0"], ["createcachetable"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300)


def seeded_rows(url: str) -> int | None:
    """Configs in the database, or None when it is not seeded (or has no tables yet)."""
    try:
        with psycopg.connect(url) as conn:
            if not conn.execute("SELECT 1 FROM projects_project LIMIT 1").fetchone():
                return None
            return conn.execute("SELECT count(*) FROM signalsource_signalsourceconfig").fetchone()[0]
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None


def _copy(cur, table: str, columns: list[str], rows, total: int, bar_label: str) -> None:
    with (
        tqdm(total=total, desc=bar_label, unit="row", unit_scale=True, file=sys.stderr) as bar,
        cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for done, row in enumerate(rows, 1):
            copy.write_row(row)
            if done % BATCH == 0:
                bar.update(BATCH)
        bar.update(bar.total - bar.n)


def seed(projects: int, *, force: bool = False) -> dict:
    """Seeds the database for `projects` projects; returns its url, row count and seconds spent."""
    name, url = database_name(projects), database_url(projects)
    _ensure_database(name)
    rows = seeded_rows(url)
    if rows is not None and not force:
        _migrate(url)  # a reused database still gets the migrations added since it was seeded
        return {"url": url, "rows": rows, "seconds": 0.0, "reused": True}

    started = time.monotonic()
    _migrate(url)
    rng = random.Random(projects)
    now = datetime.now(UTC)
    total_projects = projects + WRITE_PROJECTS
    orgs = -(-projects // PROJECTS_PER_ORG) + WRITE_PROJECTS
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "TRUNCATE signalsource_signalsourceconfig, auth_keys_personalapikey, projects_project,"
            " projects_organizationmembership, projects_organization, auth_user RESTART IDENTITY CASCADE"
        )
        _copy(
            cur,
            "auth_user",
            [
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ],
            ((i, "!", False, bench_email(i), "", "", bench_email(i), False, True, now) for i in range(1, orgs + 1)),
            orgs,
            "users",
        )
        _copy(
            cur,
            "projects_organization",
            ["id", "name", "created_at"],
            ((i, f"Bench org {i}", now) for i in range(1, orgs + 1)),
            orgs,
            "organizations",
        )
        _copy(
            cur,
            "projects_organizationmembership",
            ["id", "organization_id", "user_id", "joined_at"],
            ((i, i, i, now) for i in range(1, orgs + 1)),
            orgs,
            "memberships",
        )
        # last_used_at is recent, so the benchmark does not measure the hourly write.
        scopes = orjson.dumps(["task:write"]).decode()
        _copy(
            cur,
            "auth_keys_personalapikey",
            [
                "id",
                "user_id",
                "label",
                "digest",
                "mask",
                "scopes",
                "scoped_projects",
                "scoped_organizations",
                "created_at",
                "last_used_at",
            ],
            (
                (
                    i,
                    i,
                    "bench",
                    _digest(raw := bench_raw_key(bench_email(i))),
                    f"{raw[:4]}...{raw[-4:]}",
                    scopes,
                    "[]",
                    "[]",
                    now,
                    now,
                )
                for i in range(1, orgs + 1)
            ),
            orgs,
            "keys",
        )
        # Seeded projects first (ids 1..projects), then the empty ones for writes, in their own orgs.
        first_write_org = -(-projects // PROJECTS_PER_ORG) + 1
        _copy(
            cur,
            "projects_project",
            ["id", "organization_id", "name", "created_at"],
            (
                (
                    p,
                    (p - 1) // PROJECTS_PER_ORG + 1 if p <= projects else first_write_org + (p - projects - 1),
                    f"Project {p}",
                    now,
                )
                for p in range(1, total_projects + 1)
            ),
            total_projects,
            "projects",
        )

        def configs():
            for p in range(1, projects + 1):
                user = (p - 1) // PROJECTS_PER_ORG + 1
                for product, source_type, config in SOURCES:
                    created = now - timedelta(seconds=rng.randrange(365 * 86400))
                    updated = created + timedelta(seconds=rng.randrange(int((now - created).total_seconds()) + 1))
                    status = rng.choice((None, None, "running", "completed", "failed"))
                    yield (
                        uuid6.uuid7(),
                        p,
                        product,
                        source_type,
                        rng.random() < 0.9,
                        orjson.dumps(config).decode(),
                        status,
                        user,
                        created,
                        updated,
                        1,
                        None,
                        None,
                    )

        _copy(
            cur,
            "signalsource_signalsourceconfig",
            [
                "id",
                "project_id",
                "source_product",
                "source_type",
                "enabled",
                "config",
                "status",
                "created_by_id",
                "created_at",
                "updated_at",
                "version",
                "run_heartbeat_at",
                "status_if_stale",
            ],
            configs(),
            projects * len(SOURCES),
            "configs",
        )
        # Later inserts through the ORM must not collide with the ids COPY wrote.
        for table in (
            "auth_user",
            "projects_organization",
            "projects_organizationmembership",
            "auth_keys_personalapikey",
            "projects_project",
        ):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"url": url, "rows": projects * len(SOURCES), "seconds": time.monotonic() - started, "reused": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects with configs (5 configs each)")
    parser.add_argument("--force", action="store_true", help="reseed even when already seeded")
    args = parser.parse_args()
    if not 1 <= args.projects <= 1_000_000:
        parser.error("--projects must be between 1 and 1,000,000")
    result = seed(args.projects, force=args.force)
    how = "already seeded" if result["reused"] else f"seeded in {result['seconds']:.1f} s"
    print(f"{database_name(args.projects)}: {result['rows']:,} configs, {how}")


if __name__ == "__main__":
    main()
