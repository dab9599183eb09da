"""The per-event stages in one pass: include/exclude patterns, parse, minimum level, sampling.

:class:`Pipeline` runs these four as one loop over the events instead of four: each event is
looked at once, and its level is read once (from the parse, or detected when parsing is off).
The result is that of :func:`~logstream.process.filters.filter_patterns`,
:func:`~logstream.process.parse.parse_events`,
:func:`~logstream.process.filters.filter_min_level` and
:func:`~logstream.process.filters.sample` applied in that order (the tests hold the two to each
other), with the number each one removed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

from ..parsers.lambda_lines import LEVELS, Fields, app_fields, level_rank, platform_request_id
from .config import PipelineConfig
from .events import ProcessedEvent
from .multiline import is_platform_line

__all__ = ["Selection"]

_WARN_AND_ABOVE = frozenset(LEVELS[level_rank("WARN") :])
_RANK = {name: level_rank(name) for name in LEVELS}


class Selection:
    """Patterns, parse, minimum level and sampling as one stage (each part off when not given).

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> lines = ["[DEBUG]\\tt\\tr\\tx", "[ERROR]\\tt\\tr\\ty"]
    >>> evs = [E("1", "/g", "s", [], str(i), 0, m) for i, m in enumerate(lines)]
    >>> counts = {}
    >>> [e.level for e in Selection(parse=True, min_level="INFO")(evs, counts)], counts
    (['ERROR'], {'min_level': 1})
    """

    def __init__(
        self,
        *,
        include: re.Pattern[str] | None = None,
        exclude: re.Pattern[str] | None = None,
        parse: bool = False,
        min_level: str | None = None,
        sample_rate: float = 1.0,
    ) -> None:
        self.include, self.exclude, self.parse = include, exclude, parse
        self.min_rank = None if min_level is None else level_rank(min_level)
        self.threshold = sample_rate * 4294967296.0 if sample_rate < 1.0 else None

    @classmethod
    def from_config(cls, config: PipelineConfig) -> Selection:
        return cls(
            include=config.include,
            exclude=config.exclude,
            parse=config.parse,
            min_level=config.min_level,
            sample_rate=config.sample_rate,
        )

    @property
    def enabled(self) -> bool:
        return (
            self.include is not None
            or self.exclude is not None
            or self.parse
            or self.min_rank is not None
            or self.threshold is not None
        )

    def __call__(
        self, events: list[ProcessedEvent], counts: dict[str, int] | None = None
    ) -> list[ProcessedEvent]:
        """The events kept, parsed when parsing is on (in place); ``counts`` gains the number
        removed under ``patterns``, ``min_level`` and ``sample`` (only those not zero). The
        events are as :func:`~logstream.process.events.from_stream` (and joining) make them:
        nothing parsed yet."""
        include = None if self.include is None else self.include.search
        exclude = None if self.exclude is None else self.exclude.search
        # a pattern that is plain text (the usual "GET /health") is a substring test: a few
        # times quicker than a regex search per event
        include_text, exclude_text = _literal(self.include), _literal(self.exclude)
        parse, min_rank, threshold = self.parse, self.min_rank, self.threshold
        fields: Callable[[str], Fields | None] = app_fields  # platform lines are taken first
        rank, warn, crc32, platform = _RANK, _WARN_AND_ABOVE, zlib.crc32, is_platform_line
        platform_id = platform_request_id
        per_level = parse or min_rank is not None or threshold is not None
        out: list[ProcessedEvent] = []
        append = out.append
        by_pattern = by_level = by_sample = 0
        for ev in events:
            msg = ev.message
            if include_text is not None:
                if include_text not in msg:
                    by_pattern += 1
                    continue
            elif include is not None and include(msg) is None:
                by_pattern += 1
                continue
            if exclude_text is not None:
                if exclude_text in msg:
                    by_pattern += 1
                    continue
            elif exclude is not None and exclude(msg) is not None:
                by_pattern += 1
                continue
            if per_level:
                rid = platform_id(msg)
                if rid is not None:  # START/END/REPORT (most events): no level, never sampled out
                    if parse:
                        ev.request_id = rid
                    append(ev)
                    continue
            if parse:
                found = fields(msg)
                if found is not None:
                    ev.level, ev.request_id, ev.time, ev.json = found
                level = ev.level
            elif min_rank is not None:
                found = fields(msg)
                level = None if found is None else found[0]
            else:
                level = None  # read below, only when sampling would drop the event
            if min_rank is not None and level is not None and rank[level] < min_rank:
                by_level += 1
                continue
            if (
                threshold is not None
                and level not in warn
                and crc32(ev.id.encode()) >= threshold
                and not platform(msg)
                and (parse or min_rank is not None or _detected(fields, msg) not in warn)
            ):
                by_sample += 1
                continue
            append(ev)
        if counts is not None:
            for name, n in (("patterns", by_pattern), ("min_level", by_level), ("sample", by_sample)):
                if n:
                    counts[name] = counts.get(name, 0) + n
        return out


_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def _literal(pattern: re.Pattern[str] | None) -> str | None:
    """The text a pattern matches when it is plain text (no special character, no flag): then
    ``pattern.search(s)`` finds something exactly when the text is in ``s``."""
    if pattern is None or pattern.flags & ~re.UNICODE or not _SPECIAL.isdisjoint(pattern.pattern):
        return None
    return pattern.pattern


def _detected(fields: Callable[[str], Fields | None], msg: str) -> str | None:
    found = fields(msg)
    return None if found is None else found[0]
