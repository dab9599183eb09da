"""The processing pipeline: the configured stages, in order, over one stream's events."""

from __future__ import annotations

import functools
from collections.abc import Callable

from ..models import LogStream
from ..ndjson import event_lines
from . import enrichment, multiline
from .config import PipelineConfig
from .events import ProcessedEvent, encode_lines, from_stream
from .redact import Redactor, redact_events
from .select import Selection

__all__ = ["Pipeline", "Stage"]

#: A stage: one stream's events in, the events to pass on out (it may update them in place).
Stage = Callable[[list[ProcessedEvent]], list[ProcessedEvent]]


class Pipeline:
    """The stages a :class:`PipelineConfig` turns on, in this order: join multi-line events,
    include/exclude patterns, parse Lambda lines, minimum level, sampling, redaction, enrichment,
    tags. The four from patterns to sampling run as one pass over the events, the ``select``
    stage (:class:`~logstream.process.select.Selection`). Stages that are off are not in the
    list and cost nothing; with none on, :meth:`lines` is ``logstream decode``'s output, byte
    for byte.

    Filters run before the stages that add to events (less to parse and redact); joining runs
    first so a stack trace is filtered, sampled and redacted as the one event it is.

    Example
    -------
    >>> from logstream.testing import make_document
    >>> from logstream import decode_log_stream
    >>> stream = decode_log_stream(make_document(["[WARNING]\\t2024-05-01T12:00:00.123Z\\tr-1\\tslow\\n"]))
    >>> p = Pipeline(PipelineConfig(parse=True, enrich=False))
    >>> [(e.level, e.request_id) for e in p.process(stream)]
    [('WARN', 'r-1')]
    """

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config = config if config is not None else PipelineConfig()
        stages: list[tuple[str, Stage]] = []
        if config.join_multiline:
            stages.append(("join", functools.partial(multiline.join_multiline, start=config.multiline_start)))
        select = Selection.from_config(config)
        if select.enabled:
            # patterns, parse, minimum level and sampling: one pass (see select.py); it counts
            # what each part removed itself
            stages.append(("select", select))
        redactor = Redactor(config.redact, config.redact_patterns)
        if redactor:
            stages.append(("redact", functools.partial(redact_events, redactor=redactor)))
        if config.enriches:
            stages.append(("enrich", functools.partial(enrichment.enrich, region=config.region)))
        if config.tags:
            stages.append(("tags", functools.partial(enrichment.add_tags, tags=config.tags)))
        self.stages: tuple[tuple[str, Stage], ...] = tuple(stages)

    @property
    def enabled(self) -> bool:
        """Any stage is on."""
        return bool(self.stages)

    def process(self, stream: LogStream, counts: dict[str, int] | None = None) -> list[ProcessedEvent]:
        """One stream's events through every stage that is on.

        ``counts``, when given, gains for each stage the number of events it removed (dropped by a
        filter or sampling, or joined into another event), under the stage's name: ``join``,
        ``patterns``, ``min_level``, ``sample``.
        """
        events = from_stream(stream)
        for name, stage in self.stages:
            if not events:
                break
            if isinstance(stage, Selection):
                events = stage(events, counts)
                continue
            before = len(events)
            events = stage(events)
            if counts is not None and len(events) != before:
                counts[name] = counts.get(name, 0) + before - len(events)
        return events

    def lines(self, stream: LogStream, counts: dict[str, int] | None = None) -> bytes:
        """The processed events as NDJSON lines (``logstream decode``'s lines plus the new keys);
        ``counts`` as for :meth:`process`."""
        if not self.stages:
            return event_lines(stream)
        return encode_lines(self.process(stream, counts))
