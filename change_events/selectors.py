from typing import NamedTuple

from api.pagination import represent_within_bytes

from .models import ChangeEvent
from .services import CursorExpired, as_cloudevent, cursor_of, position_of, pruned_through


class Page(NamedTuple):
    events: list[dict]  # as CloudEvents (`services.as_cloudevent`)
    cursor: str  # the position after the last event of the page (the one given when it is empty)
    more: bool  # whether more events are waiting after it


def page_after(*, project_id: int, cursor: str | None, limit: int) -> Page:
    """Up to `limit` of the project's events after `cursor` (from the oldest retained without one),
    oldest first, ending early where their JSON passes `PAGE_MAX_BYTES` (an event holds a config).
    `MalformedCursor` for a cursor the feed did not give, `CursorExpired` for one from before the last
    prune. Positions become visible in increasing order (`services`), so nothing committed after this
    read can land before the cursor it returns."""
    horizon = pruned_through()
    after = horizon if cursor is None else position_of(cursor)
    if after < horizon:
        raise CursorExpired(cursor)
    events = ChangeEvent.objects.filter(project_id=project_id, id__gt=after)
    positions = list(events.order_by("id").values_list("id", flat=True)[: limit + 1])
    shown, kept = represent_within_bytes(events, positions[:limit], as_cloudevent)
    return Page(shown, cursor_of(positions[kept - 1] if kept else after), len(positions) > kept)


def unsent(limit: int) -> list[ChangeEvent]:
    """The relay's next batch: the oldest events not yet sent, across projects, in position order."""
    return list(ChangeEvent.objects.filter(sent_at__isnull=True).order_by("id")[:limit])
