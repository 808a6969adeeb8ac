"""A deploy (issue 25): the previous release keeps answering, with no 5xx, while this release's
migrations are applied to its database. Holds only if every migration is backward compatible with the
code before it (expand/contract: docs/operations.md, "Releasing")."""

import io
import os
import subprocess
import sys
import tarfile
import threading

import pytest
from django.db import connection

from tests.live_server import ROOT, call, served, throwaway_database

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a deploy's migrations run on PostgreSQL"),
]
# The release before this one; CI may name another (the last deployed tag, say).
BASE_REF = os.environ.get("DEPLOY_BASE_REF", "HEAD~1")


def manage(project_dir, env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=project_dir, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def test_the_previous_release_answers_without_5xx_while_this_releases_migrations_apply(tmp_path):
    previous = tmp_path / "previous"
    previous.mkdir()
    archive = subprocess.run(["git", "archive", BASE_REF], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(previous, filter="data")

    with throwaway_database(tmp_path) as database_url:
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_NAME"}
        env.update(DATABASE_URL=database_url, SECRET_KEY="test-" + "s" * 60, DEBUG="0")
        # The previous release, set up and served as it was deployed.
        manage(previous, env, "migrate", "--no-input")
        manage(previous, env, "createcachetable")
        project_id = int(manage(previous, env, "create_project", "Deploy", "--member", "deploy@example.com"))
        raw_key = manage(previous, env, "create_api_key", "deploy@example.com", "--scopes", "task:read,task:write")
        path = f"/api/projects/{project_id}/signal_source_configs/"
        statuses = []

        # Rate limits off: the rounds below come from one key, as fast as the machine allows.
        with served(database_url, workers=2, project_dir=previous, RATE_LIMITS_ENABLED="0") as (base_url, _):

            def one_round(product="github"):  # each thread its own pair: two creates of one pair race to a 400
                created = call(base_url, "POST", path, raw_key, {"source_product": product, "source_type": "issue"})
                statuses.append(created[0])
                statuses.append(call(base_url, "GET", path, raw_key)[0])
                if created[0] == 201:
                    item = f"{path}{created[2]['id']}/"
                    statuses.append(call(base_url, "PATCH", item, raw_key, {"enabled": False})[0])
                    statuses.append(call(base_url, "GET", item, raw_key)[0])
                    statuses.append(call(base_url, "DELETE", item, raw_key)[0])

            stop = threading.Event()

            def keep_asking():
                while not stop.is_set():
                    one_round("linear")

            for _ in range(3):
                one_round()
            flowing = threading.Thread(target=keep_asking)
            flowing.start()
            try:
                migrated = manage(ROOT, env, "migrate", "--no-input")  # this release's migrations
                for _ in range(3):
                    one_round()
            finally:
                stop.set()
                flowing.join()

    assert [status for status in statuses if status >= 500] == [], migrated
    assert set(statuses) <= {200, 201, 204}
    assert len(statuses) >= 30
