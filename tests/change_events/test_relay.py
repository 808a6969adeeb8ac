"""`relay_events`: every change event reaches the JetStream stream once, in order per config, marked
sent after the broker's ack; a re-publish (a relay killed between the ack and its mark) is dropped;
a relay killed with SIGKILL mid-burst and restarted loses and repeats nothing; two relays at once
publish nothing twice. Against the real nats-server on 127.0.0.1:4222."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from change_events.models import ChangeEvent
from change_events.services import as_cloudevent
from signalsource import services
from tests.change_events.nats_stream import assert_each_event_once_in_order, nats_stream
from tests.helpers import make_config
from tests.live_server import HANG_GUARD_SECONDS, ROOT, live_database


def relay_once(stream, *extra) -> str:
    out = io.StringIO()
    call_command("relay_events", "--once", *stream.relay_args(), *extra, stdout=out)
    return out.getvalue()


def changes(tenant, configs=3, updates=4):
    for n in range(configs):
        config = make_config(
            tenant.project, source_type=("issue", "pull_request", "release")[n % 3] if n < 3 else "issue"
        )
        for i in range(updates):
            services.update_config(config, enabled=bool(i % 2))
    return [as_cloudevent(event)["id"] for event in ChangeEvent.objects.order_by("id")]


@pytest.mark.django_db
def test_events_arrive_in_the_stream_in_order_and_are_marked_sent(tenant):
    with nats_stream() as stream:
        ids = changes(tenant, configs=1, updates=6)
        assert "Relayed 6 event(s)." in relay_once(stream, "--batch-size", "4")
        messages = stream.messages()
        assert [event["id"] for _, event, _ in messages] == ids
        assert_each_event_once_in_order(messages, ids)
        assert not ChangeEvent.objects.filter(sent_at__isnull=True).exists()
        assert relay_once(stream).strip() == "Relayed 0 event(s)."


@pytest.mark.django_db
def test_a_republish_after_a_lost_mark_is_dropped_inside_and_outside_the_duplicate_window(tenant):
    with nats_stream() as stream:
        # A duplicate window so short that it is over by the second run: only the relay's own check
        # (the subject already holds this version) keeps the events from being stored twice.
        stream.create(duplicate_window=0.1)
        ids = changes(tenant, configs=1, updates=3)
        relay_once(stream)
        time.sleep(0.5)  # not a timing assertion: lets the tiny duplicate window pass
        ChangeEvent.objects.update(sent_at=None)  # as if the relay died after the acks, before marking
        relay_once(stream)
        assert_each_event_once_in_order(stream.messages(), ids)
        assert not ChangeEvent.objects.filter(sent_at__isnull=True).exists()


SEED = """
import os
from projects.models import Project
from signalsource import services
from tests.helpers import make_config
project = Project.objects.get(pk=int(os.environ["SEED_PROJECT"]))
from signalsource.models import SignalSourceConfig
configs = [
    SignalSourceConfig.objects.filter(project=project, source_type=t).first() or make_config(project, source_type=t)
    for t in ("issue", "pull_request", "release")
]
for i in range(int(os.environ["SEED_UPDATES"])):
    services.update_config(configs[i % 3], enabled=bool(i % 2))
"""


def seed(service, updates: int) -> list[str]:
    env = {**service.env, "SEED_PROJECT": str(service.project_id), "SEED_UPDATES": str(updates)}
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True
    )
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from change_events.models import ChangeEvent\n"
            "from change_events.services import as_cloudevent\n"
            "print(' '.join(as_cloudevent(e)['id'] for e in ChangeEvent.objects.order_by('id')))",
        ],
        cwd=ROOT,
        env=service.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1].split()  # after the shell's "objects imported" line


def unsent_count(service) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from change_events.models import ChangeEvent\n"
            "print(ChangeEvent.objects.filter(sent_at__isnull=True).count())",
        ],
        cwd=ROOT,
        env=service.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[-1])


def start_relay(service, stream, log_path, *extra) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "relay_events", *stream.relay_args(), *extra],
            cwd=ROOT,
            env={**service.env, "LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(condition, what: str, log_path=None):
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} within {HANG_GUARD_SECONDS}s" + (f":\n{log_path.read_text()}" if log_path else "")
            )
        time.sleep(0.05)


def stop(process: subprocess.Popen, signum=signal.SIGTERM) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signum)
    try:
        return process.wait(timeout=HANG_GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError("the relay did not stop on SIGTERM") from None


@pytest.mark.live_server_process
def test_a_relay_killed_mid_burst_and_restarted_leaves_every_event_once_in_order(tmp_path):
    with live_database(tmp_path) as service, nats_stream() as stream:
        ids = seed(service, 600)
        log_path = tmp_path / "relay.log"
        relay = start_relay(service, stream, log_path, "--batch-size", "7")
        wait_for(lambda: stream.count() >= 30 or relay.poll() is not None, "the relay published", log_path)
        stop(relay, signal.SIGKILL)
        assert stream.count() < len(ids), "the kill came after the burst: nothing tested"
        restarted = start_relay(service, stream, log_path, "--once")
        assert restarted.wait(timeout=HANG_GUARD_SECONDS * 4) == 0, log_path.read_text()
        assert_each_event_once_in_order(stream.messages(), ids)
        assert unsent_count(service) == 0


@pytest.mark.live_server_process
def test_two_relays_started_at_once_publish_nothing_twice_and_stop_on_sigterm(tmp_path):
    with live_database(tmp_path) as service, nats_stream() as stream:
        ids = seed(service, 300)
        logs = [tmp_path / "relay-a.log", tmp_path / "relay-b.log"]
        relays = [start_relay(service, stream, log, "--batch-size", "5") for log in logs]
        try:
            wait_for(lambda: unsent_count(service) == 0, "every event sent", logs[0])
        finally:
            codes = [stop(relay) for relay in relays]
        assert codes == [0, 0], [log.read_text() for log in logs]
        assert_each_event_once_in_order(stream.messages(), ids)
        texts = [log.read_text() for log in logs]
        assert sum("another relay holds the relay lock" in text for text in texts) == 1, texts
