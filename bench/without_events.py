"""The service with its writes as they were before change events, for measuring what the events
cost: no event built or written, no order lock taken, the rest of each request unchanged.

`make bench` serves it beside the service (`bench.without_events:application`, PATCH side by side);
`bench/profile_requests.py --without-events` and `--events-cost` switch it in process. Only the
benchmark runs this: a server of it writes no change events, so its feed misses its changes.
"""

from common import sql
from config.wsgi import application  # sets Django up; the application the benchmark serves
from signalsource import events, services

_WITH_EVENTS = (services._write, events.event_of, events.after_change)


def _write_without_event(change, record, event) -> bool:
    """`services._write` before change events: the row and its activity record, no order lock."""
    return bool(sql.write_then_insert(change, record) if record is not None else sql.execute(change))


def set_events(on: bool) -> None:
    """On: the service as it runs. Off: its writes as they were before change events."""
    if on:
        services._write, events.event_of, events.after_change = _WITH_EVENTS
    else:
        services._write = _write_without_event
        events.event_of = lambda *args, **kwargs: None
        events.after_change = lambda instance, fields: instance


set_events(False)

__all__ = ["application", "set_events"]
