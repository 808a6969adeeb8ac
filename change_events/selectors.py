from typing import NamedTuple

from .models import ChangeEvent
from .services import CursorExpired, cursor_of, position_of, pruned_through


class Page(NamedTuple):
    events: list[ChangeEvent]
    cursor: str  # the position after the last event of the page (the one given when it is empty)
    more: bool  # whether more events are waiting after it


def page_after(*, project_id: int, cursor: str | None, limit: int) -> Page:
    """Up to `limit` of the project's events after `cursor` (from the oldest retained without one),
    oldest first. `MalformedCursor` for a cursor the feed did not give, `CursorExpired` for one from
    before the last prune. Positions become visible in increasing order (`services`), so nothing
    committed after this read can land before the cursor it returns."""
    horizon = pruned_through()
    after = horizon if cursor is None else position_of(cursor)
    if after < horizon:
        raise CursorExpired(cursor)
    rows = list(ChangeEvent.objects.filter(project_id=project_id, id__gt=after).order_by("id")[: limit + 1])
    events = rows[:limit]
    return Page(events, cursor_of(events[-1].id if events else after), len(rows) > limit)


def unsent(limit: int) -> list[ChangeEvent]:
    """The relay's next batch: the oldest events not yet sent, across projects, in position order."""
    return list(ChangeEvent.objects.filter(sent_at__isnull=True).order_by("id")[:limit])
