"""`watch_changes`: prints each event once as a JSON line, and after a restart continues with the next
one, from the HTTP feed (cursor in --state-file) and from JetStream (a durable consumer)."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from change_events.models import ChangeEvent
from change_events.services import as_cloudevent
from signalsource import services
from tests.change_events.nats_stream import nats_stream
from tests.change_events.test_relay import seed
from tests.helpers import make_config
from tests.live_server import HANG_GUARD_SECONDS, ROOT, live_service


def printed_ids(output: str) -> list[str]:
    return [json.loads(line)["id"] for line in output.splitlines() if line.strip()]


@pytest.mark.live_server_process
def test_from_the_http_feed_a_restart_continues_with_the_next_event(tmp_path):
    with live_service(tmp_path) as service:
        state = tmp_path / "cursor"

        def watch() -> list[str]:
            command = [sys.executable, "manage.py", "watch_changes", "--project", str(service.project_id)]
            command += ["--base-url", service.base_url, "--key", service.raw_key, "--state-file", str(state), "--once"]
            result = subprocess.run(
                command, cwd=ROOT, env=service.env, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS * 4
            )
            assert result.returncode == 0, result.stderr
            return printed_ids(result.stdout)

        first_ids = seed(service, 150)  # more than one page of 100
        assert watch() == first_ids
        assert watch() == []
        all_ids = seed(service, 30)
        assert watch() == all_ids[len(first_ids) :]


def watch_nats(stream, project_id, durable) -> list[str]:
    out = io.StringIO()
    call_command(
        "watch_changes",
        "--project",
        str(project_id),
        "--nats",
        stream.url,
        "--durable",
        durable,
        "--stream",
        stream.name,
        "--subject-prefix",
        stream.prefix,
        "--once",
        "--poll-interval",
        "2",
        stdout=out,
    )
    return printed_ids(out.getvalue())


@pytest.mark.django_db
def test_from_jetstream_a_durable_consumer_continues_with_the_next_event(tenant, other_tenant):
    with nats_stream() as stream:
        config = make_config(tenant.project)
        elsewhere = make_config(other_tenant.project)
        for enabled in (False, True, False):
            services.update_config(config, enabled=enabled)
            services.update_config(elsewhere, enabled=enabled)
        relay = ["--once", *stream.relay_args()]
        call_command("relay_events", *relay, stdout=io.StringIO())
        mine = [as_cloudevent(e)["id"] for e in ChangeEvent.objects.filter(project=tenant.project).order_by("id")]
        assert watch_nats(stream, tenant.project.id, "watcher") == mine
        assert watch_nats(stream, tenant.project.id, "watcher") == []
        services.update_config(config, enabled=True)
        call_command("relay_events", *relay, stdout=io.StringIO())
        newest = as_cloudevent(ChangeEvent.objects.filter(project=tenant.project).latest("id"))["id"]
        assert watch_nats(stream, tenant.project.id, "watcher") == [newest]
