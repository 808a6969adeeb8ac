"""A database migrated by the code before the api app existed (the rate-limit counters lived in the
signalsource app) migrates forward cleanly, keeping its counters."""

import os
import subprocess
import sys
import textwrap

from tests.live_server import ROOT, throwaway_database

# What was applied at the last release before the move: every app at its head, signalsource at 0002.
BEFORE_THE_MOVE = textwrap.dedent(
    """
    from django.core.management import call_command
    for app in ("contenttypes", "auth", "admin", "sessions", "projects", "auth_keys"):
        call_command("migrate", app, verbosity=0)
    call_command("migrate", "signalsource", "0002_ratelimitcounter", verbosity=0)
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO signalsource_ratelimitcounter (key, window_start, count) VALUES (%s, %s, %s)",
            ["throttle:burst:key:abc", 123, 7],
        )
    """
)
# Up to the move (signalsource's head brings api 0001 with it); api 0002 then replaces the counters.
FORWARD = textwrap.dedent(
    """
    from django.core.management import call_command
    call_command("migrate", "signalsource", verbosity=0)
    from django.db import connection
    print(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, window_start, count FROM api_ratelimitcounter")
        print(cursor.fetchall())
    """
)
TO_HEAD = textwrap.dedent(
    """
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.db import connection
    print(connection.introspection.table_names())
    """
)


def run_django(database_url: str, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_NAME"}
    env.update(DATABASE_URL=database_url, SECRET_KEY="test-" + "s" * 60, DJANGO_SETTINGS_MODULE="config.settings")
    script = "import django; django.setup()\n" + code
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_database_from_before_the_move_migrates_forward_keeping_its_counters(tmp_path):
    with throwaway_database(tmp_path) as database_url:
        run_django(database_url, BEFORE_THE_MOVE)

        tables, rows = run_django(database_url, FORWARD).splitlines()
        head_tables = run_django(database_url, TO_HEAD).strip()

    assert "api_ratelimitcounter" in tables
    assert "signalsource_ratelimitcounter" not in tables
    assert rows == "[('throttle:burst:key:abc', 123, 7)]"
    # api 0002: fixed-window counters give way to the sliding windows' history (counts restart).
    assert "api_ratelimithit" in head_tables
    assert "api_ratelimitcounter" not in head_tables
