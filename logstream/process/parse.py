"""The parse stage: what each line's runtime prefix and JSON body say (``PARSE_MESSAGES``)."""

from __future__ import annotations

from ..parsers.lambda_lines import parse_fields
from .events import ProcessedEvent

__all__ = ["parse_events"]


def parse_events(events: list[ProcessedEvent]) -> list[ProcessedEvent]:
    """Set ``level``, ``request_id``, ``time`` and ``json`` from
    :func:`~logstream.parsers.lambda_lines.parse_line`, in place; the message stays as it is.

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> ev = E("1", "/g", "s", [], "1", 0, '{"level":"ERROR","requestId":"r-9"}')
    >>> e = parse_events([ev])[0]
    >>> e.level, e.request_id, e.json
    ('ERROR', 'r-9', {'level': 'ERROR', 'requestId': 'r-9'})
    """
    fields = parse_fields
    for ev in events:
        found = fields(ev.message)
        if found is not None:
            ev.level, ev.request_id, ev.time, ev.json = found
    return events
