"""Change events: how they are built, numbered, shown (CloudEvents 1.0, structured JSON), paged by
an opaque cursor, marked sent and pruned.

The order of the feed. A reader that pages by "position > the last I saw" loses an event for good
if a position can become visible after a higher one: PostgreSQL numbers a row (`nextval`) before
its transaction commits, so two writers can commit out of the order of their numbers, and a reader
between the two commits sees the higher one first. Here every write of an object that has events
takes the transaction-level advisory lock `ORDER_LOCK` first, in the same statement as the write
(`common.sql.execute` / `write_then_insert` with `lock`), and holds it to its commit: the event is
numbered and committed while no other writer can number one, and PostgreSQL makes a commit visible
before it releases its locks. So positions become visible in increasing order, and "position > the
last I saw" misses nothing (`tests/change_events/test_feed.py` holds 4 writers x 50 PATCHes to it
while a reader polls). The lock is taken before the write locks its row, in every write, so it
cannot deadlock with a row lock. The price is that writes of these objects commit one at a time per
database (config changes are rare, and each holds the lock for one statement). SQLite writes one
at a time anyway (IMMEDIATE transactions): no lock there.
"""

import base64
import binascii
import datetime

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max
from django.utils import timezone

from .models import ChangeEvent, FeedHorizon

# An advisory lock number of the database (`pg_advisory_xact_lock`), for the feed's order: "chev"
# and a 1. The relay's lock (`RELAY_LOCK`) is another: it is held by a session, not a transaction.
ORDER_LOCK = 0x63686576_00000001
RELAY_LOCK = 0x63686576_00000002

SPECVERSION = "1.0"
SEQUENCE_DIGITS = 20
MAX_PAGE = 1000
DEFAULT_PAGE = 100


def take_order_lock(using: str) -> None:
    """Takes the feed's order lock for the rest of the caller's transaction (PostgreSQL; nothing on
    SQLite). For a transaction that locks an object's row by other means (SELECT ... FOR UPDATE)
    before it writes through the services: taken first, it keeps every writer's lock order the same
    (the order lock, then rows), so that the two cannot deadlock."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ORDER_LOCK])


def build_event(*, project_id: int, type: str, subject, sequence: int, source: str, data: dict) -> ChangeEvent:
    """The event of one change, unsaved: the service that makes the change writes the two together."""
    return ChangeEvent(
        project_id=project_id, type=type, subject=str(subject), sequence=sequence, source=source, data=data
    )


def event_id(event: ChangeEvent) -> str:
    """The CloudEvent's `id`: the same every time the event is delivered (the relay's `Nats-Msg-Id`)."""
    return f"{event.subject}:{event.sequence}"


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def as_cloudevent(event: ChangeEvent) -> dict:
    """The event as a structured CloudEvents 1.0 JSON object, with the extensions `sequence` (zero-
    padded, so that it sorts as a string), `partitionkey` and `projectid`."""
    return {
        "specversion": SPECVERSION,
        "id": event_id(event),
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": _rfc3339(event.time),
        "datacontenttype": "application/json",
        "sequence": str(event.sequence).zfill(SEQUENCE_DIGITS),
        "partitionkey": event.subject,
        "projectid": str(event.project_id),
        "data": event.data,
    }


class MalformedCursor(ValueError):
    """A cursor this feed did not give."""


class CursorExpired(Exception):
    """A cursor from before the last prune: events after it may be gone."""


_CURSOR_PREFIX = "p"


def cursor_of(position: int) -> str:
    """The opaque cursor for "after `position`"."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def position_of(cursor: str) -> int:
    """The position a cursor names, or `MalformedCursor`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise MalformedCursor(cursor) from None
    digits = text.removeprefix(_CURSOR_PREFIX)
    if text == digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise MalformedCursor(cursor)
    return int(digits)


def pruned_through() -> int:
    return FeedHorizon.objects.filter(pk=1).values_list("pruned_through", flat=True).first() or 0


def mark_sent(ids, when: datetime.datetime | None = None) -> int:
    return ChangeEvent.objects.filter(id__in=list(ids), sent_at__isnull=True).update(sent_at=when or timezone.now())


def relay_configured() -> bool:
    return bool(getattr(settings, "EVENTS_NATS_URL", ""))


def prunable(before: datetime.datetime, *, keep_unsent: bool):
    """The events older than `before`; with `keep_unsent`, only those the relay has sent."""
    events = ChangeEvent.objects.filter(time__lt=before)
    return events.filter(sent_at__isnull=False) if keep_unsent else events


def prune_batches(before: datetime.datetime, batch_size: int, *, keep_unsent: bool):
    """Deletes the events older than `before`, `batch_size` at a time, each batch with the horizon
    moved past it in one short transaction; yields each batch's count. With `keep_unsent`, events
    the relay has not sent stay (they are pruned once sent)."""
    while True:
        ids = list(prunable(before, keep_unsent=keep_unsent).order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return
        with transaction.atomic():
            deleted, _ = ChangeEvent.objects.filter(id__in=ids).delete()
            highest = max(ids)
            horizon, _ = FeedHorizon.objects.select_for_update().get_or_create(pk=1)
            if highest > horizon.pruned_through:
                horizon.pruned_through = highest
                horizon.save(update_fields=["pruned_through"])
        yield deleted


def newest_position() -> int:
    return ChangeEvent.objects.aggregate(newest=Max("id"))["newest"] or 0
