"""The relay: publishes every change event to NATS JetStream (`python manage.py relay_events`).

What a consumer can rely on, and why:

- Every event reaches the stream. The relay reads the unsent events (`sent_at` null) in position
  order and marks them sent only after the broker's ack (the ack means the stream stored it). A
  relay killed at any point (even `kill -9` between the ack and the database's UPDATE) leaves the
  event unsent, and the next relay publishes it again.
- Exactly once in the stream. A re-published event is recognised twice over: its `Nats-Msg-Id` is
  the CloudEvent's `id` (`<config id>:<version>`), which the broker drops inside its duplicate window
  (2 minutes by default; the ack then says `duplicate`); and outside that window the per-subject
  check below finds that the subject already holds this version or a later one, and the relay marks
  the event sent without publishing it.
- In order per config. Each config has its own subject (`<prefix>.<project id>.<config id>`), and
  every publish carries `Nats-Expected-Last-Subject-Sequence`: the stream sequence of the last
  message the relay knows on that subject (0 for none). The broker refuses the publish if anything
  else landed there since ("wrong last sequence"). The relay then reads the subject's last message
  from the stream and decides by the config version it carries (the CloudEvent's `sequence`): this
  version or a later one -> already published (a relay before this one got the ack but died before
  marking it), mark sent; an older one -> publish again, expecting that message's sequence. The
  relay learns a subject's last sequence the same way the first time it publishes to it, so a
  restarted relay needs no state of its own but the `sent_at` marks. Events of one config are
  published in their position order, which is their version order (`services`).
- One relay publishes at a time. On PostgreSQL the relay holds the session advisory lock
  `RELAY_LOCK` (`pg_try_advisory_lock`) while it runs; a second relay waits, idle, until the first
  one's session ends (its process stops or dies: PostgreSQL releases the lock with the session).
  On SQLite an exclusive `flock` on a file beside the database does the same (one machine only,
  as SQLite is). Even two relays publishing at once could not reorder a config's events (the
  expected-sequence check) nor store one twice (the two checks above); the lock keeps the second
  from wasting its work and the broker's.

Consumers still get at-least-once delivery from JetStream (a consumer that dies before acking a
message receives it again): they should keep the last `sequence` seen per `subject`, or read
through a durable consumer (`watch_changes --nats`).
"""

import asyncio
import contextlib
import fcntl
import json
import logging
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import ChangeEvent
from .selectors import unsent
from .services import RELAY_LOCK, as_cloudevent, event_id, mark_sent

logger = logging.getLogger("change_events.relay")

# The broker's error code for a refused Nats-Expected-Last-Subject-Sequence ("wrong last sequence").
WRONG_LAST_SEQUENCE = 10071
EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
MSG_ID = "Nats-Msg-Id"


def subject_of(prefix: str, event: ChangeEvent) -> str:
    return f"{prefix}.{event.project_id}.{event.subject}"


class RelayLock:
    """Held while this relay publishes: the PostgreSQL session advisory lock `RELAY_LOCK`, or on
    SQLite an exclusive flock on `<database>.relay.lock`."""

    def __init__(self):
        self._file = None

    def try_acquire(self) -> bool:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK])
                return bool(cursor.fetchone()[0])
        name = str(connection.settings_dict["NAME"])
        path = Path(name + ".relay.lock") if name and ":memory:" not in name and "mode=memory" not in name else None
        if path is None:
            return True  # a database in memory: no other process can see it
        self._file = open(path, "a")  # noqa: SIM115 (held open while the relay runs)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            return False
        return True

    def release(self) -> None:
        if connection.vendor == "postgresql":
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RELAY_LOCK])
        elif self._file is not None:
            self._file.close()
            self._file = None


def lag_seconds() -> float | None:
    """The age of the oldest unsent event, or None when every event is sent."""
    oldest = ChangeEvent.objects.filter(sent_at__isnull=True).order_by("id").values_list("time", flat=True).first()
    return None if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


class Relay:
    """Publishes unsent events in batches. The database is read and written outside the event loop
    (Django's ORM is synchronous); the loop runs only the NATS calls."""

    def __init__(self, *, url: str, stream: str, prefix: str, batch_size: int = 500, timeout: float = 10.0):
        self.url, self.stream, self.prefix = url, stream, prefix
        self.batch_size, self.timeout = batch_size, timeout
        self.loop = asyncio.new_event_loop()
        self.nc = None
        self.js = None
        # (stream sequence, config version) of the last message on each subject, as this relay knows it.
        self.last_on_subject: dict[str, tuple[int, int]] = {}
        self.stop = threading.Event()

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def connect(self) -> None:
        import nats

        self.nc = self.run(nats.connect(self.url, connect_timeout=self.timeout, max_reconnect_attempts=-1))
        self.js = self.nc.jetstream(timeout=self.timeout)
        self.run(self._ensure_stream())

    async def _ensure_stream(self) -> None:
        from nats.js.api import StorageType
        from nats.js.errors import NotFoundError

        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            await self.js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"], storage=StorageType.FILE)
            logger.info("created stream %s on subjects %s.>", self.stream, self.prefix)

    def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                self.run(self.nc.drain())
        self.loop.close()

    def relay_batch(self) -> int:
        """Publishes the next batch of unsent events; marks sent those the broker acked (or already
        held); returns how many it marked. An error stops the batch where it happened (so that no
        later event of a config overtakes it) after marking what was acked before it."""
        events = unsent(self.batch_size)
        if not events:
            return 0
        done: list[int] = []
        try:
            self.run(self._publish(events, done))
        finally:
            if done:
                mark_sent(done)
        return len(done)

    async def _publish(self, events: list[ChangeEvent], done: list[int]) -> None:
        for event in events:
            subject = subject_of(self.prefix, event)
            body = json.dumps(as_cloudevent(event), separators=(",", ":"), default=str).encode()
            for _attempt in range(5):
                if subject not in self.last_on_subject:
                    self.last_on_subject[subject] = await self._last_on(subject)
                last_sequence, last_version = self.last_on_subject[subject]
                if last_version >= event.sequence:
                    break  # already in the stream: published by a relay that died before marking it
                headers = {MSG_ID: event_id(event), EXPECTED_LAST_SUBJECT_SEQUENCE: str(last_sequence)}
                try:
                    ack = await self.js.publish(subject, body, headers=headers, stream=self.stream)
                except Exception as error:
                    if getattr(error, "err_code", None) != WRONG_LAST_SEQUENCE:
                        raise
                    del self.last_on_subject[subject]  # read the subject again, then decide
                    continue
                # A duplicate's ack (inside the broker's window) names the stored copy, which is still
                # the subject's last: a later version is published only after this one is known stored.
                self.last_on_subject[subject] = (ack.seq, event.sequence)
                break
            else:
                raise RuntimeError(f"{subject}: the expected sequence kept changing; another publisher?")
            done.append(event.id)

    async def _last_on(self, subject: str) -> tuple[int, int]:
        """(stream sequence, config version) of the subject's last message; (0, 0) for none."""
        from nats.js.errors import NotFoundError

        try:
            message = await self.js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return 0, 0
        return message.seq, int(json.loads(message.data)["sequence"])


def configured_relay(**overrides) -> Relay:
    return Relay(
        url=overrides.pop("url", None) or settings.EVENTS_NATS_URL,
        stream=overrides.pop("stream", None) or settings.EVENTS_NATS_STREAM,
        prefix=overrides.pop("prefix", None) or settings.EVENTS_NATS_SUBJECT_PREFIX,
        **overrides,
    )
