"""`watch_changes`: a consumer of the change events that resumes where it stopped.

From the HTTP feed (default): it keeps the feed's cursor in `--state-file`, written (atomically: a
temp file renamed over it) after each page is printed; Ctrl-C or SIGTERM are only noted and take
effect between pages, so a restart continues with the next event, none repeated, none lost.
From JetStream (`--nats`): a durable pull consumer named `--durable`, filtered on the project's
subjects; each message of a fetched batch is printed, then acked (the ack confirmed by the server), and
the broker keeps the consumer's position, so a restart continues with the next unacked message.
"""

import asyncio
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Prints each change event of a project as one JSON line, from the HTTP feed (--base-url, --key; cursor "
        "kept in --state-file) or from NATS JetStream (--nats, --durable); resumes after a restart."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, required=True, help="The project's id.")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="The service's URL (HTTP feed).")
        parser.add_argument("--key", default=os.environ.get("SIGNALSOURCE_API_KEY", ""), help="A task:read API key.")
        parser.add_argument(
            "--state-file", default="", help="Where the cursor is kept (.watch_changes-<project>.cursor)."
        )
        parser.add_argument("--nats", default="", help="Read from this NATS server's JetStream instead.")
        parser.add_argument("--durable", default="", help="The durable consumer's name (with --nats).")
        parser.add_argument("--stream", default="", help="Stream (default EVENTS_NATS_STREAM).")
        parser.add_argument("--subject-prefix", default="", help="Subject prefix (default EVENTS_NATS_SUBJECT_PREFIX).")
        parser.add_argument("--poll-interval", type=float, default=1.0, help="Seconds between polls when caught up.")
        parser.add_argument("--once", action="store_true", help="Exit when caught up.")

    def handle(self, *args, project, nats, durable, once, poll_interval, **options):
        self.stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        if nats:
            if not durable:
                raise CommandError("--nats needs --durable <name>: the broker keeps that consumer's position.")
            stream = options["stream"] or settings.EVENTS_NATS_STREAM
            prefix = options["subject_prefix"] or settings.EVENTS_NATS_SUBJECT_PREFIX
            asyncio.run(self.from_nats(nats, stream, f"{prefix}.{project}.>", durable, once, poll_interval))
        else:
            if not options["key"]:
                raise CommandError("Give --key (or SIGNALSOURCE_API_KEY): a personal API key with task:read.")
            state = Path(options["state_file"] or f".watch_changes-{project}.cursor")
            self.from_feed(options["base_url"], options["key"], project, state, once, poll_interval)

    def emit(self, event: dict) -> None:
        self.stdout.write(json.dumps(event, separators=(",", ":")))
        self.stdout.flush()

    def from_feed(self, base_url: str, key: str, project: int, state: Path, once: bool, poll_interval: float):
        cursor = state.read_text().strip() if state.exists() else ""
        url = f"{base_url.rstrip('/')}/api/projects/{project}/signals/source_configs/changes/"
        while not self.stop.is_set():
            query = urllib.parse.urlencode({"limit": 100, **({"after": cursor} if cursor else {})})
            headers = {"Authorization": f"Bearer {key}"}
            request = urllib.request.Request(f"{url}?{query}", headers=headers)  # noqa: S310 (the operator's URL)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the operator's URL)
                    page = json.loads(response.read())
            except urllib.error.HTTPError as error:
                body = error.read().decode(errors="replace")
                if error.code == 410:
                    raise CommandError(f"The cursor in {state} is older than the feed's retention: {body}") from None
                raise CommandError(f"The feed answered {error.code}: {body}") from None
            for event in page["results"]:
                self.emit(event)
            if page["cursor"] != cursor:
                cursor = page["cursor"]
                temporary = state.with_name(state.name + ".tmp")
                temporary.write_text(cursor + "\n")
                temporary.replace(state)
            if page["next"] is None:
                if once:
                    return
                self.stop.wait(poll_interval)

    async def from_nats(self, url: str, stream: str, subjects: str, durable: str, once: bool, poll_interval: float):
        import nats

        nc = await nats.connect(url, connect_timeout=10)
        try:
            js = nc.jetstream(timeout=30)
            subscription = await js.pull_subscribe(subjects, durable=durable, stream=stream)
            while not self.stop.is_set():
                try:
                    messages = await subscription.fetch(100, timeout=poll_interval)
                # nats-py raises its own TimeoutError, or asyncio's (the builtin one, which its own
                # subclasses) when the deadline ran out before its lingering pull: both mean "nothing new".
                except TimeoutError:
                    if once:
                        return
                    continue
                for message in messages:  # the whole batch, even when stopping: nothing left unacked
                    self.emit(json.loads(message.data))
                    await message.ack_sync()
        finally:
            await nc.close()
            sys.stdout.flush()
