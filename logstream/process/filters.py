"""Filters: include/exclude patterns on the message, a minimum level, deterministic sampling."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

from ..parsers.lambda_lines import LEVELS, level_rank, parse_fields
from .events import ProcessedEvent
from .multiline import is_platform_line

__all__ = ["filter_patterns", "filter_min_level", "sample", "parsed_level", "detected_level", "sample_keeps"]

#: How a filter learns an event's level: :func:`parsed_level` after the parse stage, else
#: :func:`detected_level` (reads the prefix without adding anything to the event).
LevelOf = Callable[[ProcessedEvent], "str | None"]

_WARN = level_rank("WARN")
_WARN_AND_ABOVE = frozenset(LEVELS[_WARN:])


def parsed_level(event: ProcessedEvent) -> str | None:
    """The level the parse stage set."""
    return event.level


def detected_level(event: ProcessedEvent) -> str | None:
    """The level the message's prefix or JSON says, when the parse stage is off."""
    found = parse_fields(event.message)
    return None if found is None else found[0]


def filter_patterns(
    events: list[ProcessedEvent],
    include: re.Pattern[str] | None = None,
    exclude: re.Pattern[str] | None = None,
) -> list[ProcessedEvent]:
    """Keep events whose message matches ``include`` (``re.search``) and does not match ``exclude``.

    Patterns apply to every event, Lambda's START/END/REPORT lines too: they are what the user
    asked for.

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> evs = [E("1", "/g", "s", [], str(i), 0, m) for i, m in enumerate(["GET /health", "POST /orders"])]
    >>> [e.message for e in filter_patterns(evs, exclude=re.compile("/health"))]
    ['POST /orders']
    """
    if include is not None:
        search = include.search
        events = [e for e in events if search(e.message) is not None]
    if exclude is not None:
        search = exclude.search
        events = [e for e in events if search(e.message) is None]
    return events


def filter_min_level(
    events: list[ProcessedEvent], min_level: str, level_of: LevelOf = parsed_level
) -> list[ProcessedEvent]:
    """Drop events whose level is below ``min_level``. Events without a level (Lambda's platform
    lines, plain text) are kept: nothing says they are below.

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> evs = [E("1", "/g", "s", [], "1", 0, "x", level=l) for l in ("DEBUG", "WARN", None)]
    >>> [e.level for e in filter_min_level(evs, "INFO")]
    ['WARN', None]
    """
    floor = level_rank(min_level)
    out = []
    for e in events:
        level = level_of(e)
        if level is None or level_rank(level) >= floor:
            out.append(e)
    return out


def sample_keeps(event_id: str, rate: float) -> bool:
    """Whether sampling at ``rate`` keeps this event id: the same answer on every run, machine and
    retry (CRC-32 of the id against ``rate``), so a retried batch forwards the same events."""
    return zlib.crc32(event_id.encode()) < rate * 4294967296.0


def sample(
    events: list[ProcessedEvent], rate: float, level_of: LevelOf = parsed_level
) -> list[ProcessedEvent]:
    """Keep about ``rate`` (0 < rate <= 1) of the events, chosen by event id. Never drops Lambda's
    platform lines (START/END/REPORT, ``platform.*``) or events at WARN and above.

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> evs = [E("1", "/g", "s", [], str(i), 0, "x") for i in range(1000)]
    >>> 400 < len(sample(evs, 0.5)) < 600
    True
    """
    if rate >= 1.0:
        return events
    threshold = rate * 4294967296.0
    crc32, platform, warn = zlib.crc32, is_platform_line, _WARN_AND_ABOVE
    out: list[ProcessedEvent] = []
    append = out.append
    if level_of is parsed_level:  # the level is on the event: no call per event
        for e in events:
            if crc32(e.id.encode()) < threshold or platform(e.message) or e.level in warn:
                append(e)
    else:
        for e in events:
            if crc32(e.id.encode()) < threshold or platform(e.message) or level_of(e) in warn:
                append(e)
    return out
