"""Self-metrics: one Embedded Metric Format document on stdout per handler invocation.

Namespace ``Logstream/Pipeline``, one dimension ``FunctionName`` (the handler's own function:
the Lambda context's ``function_name``, else ``AWS_LAMBDA_FUNCTION_NAME``). ``SELF_METRICS=false``
turns it off. CloudWatch Logs turns the line into metrics: no API call, no throttling, nothing
that can fail the invocation. What each metric counts is in the README ("Self-metrics").
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

import msgspec

from logstream import LogStream

NAMESPACE = "Logstream/Pipeline"
DIMENSION = "FunctionName"
#: (metric name, EMF unit), in the order they are written.
METRICS = (
    ("EventsIn", "Count"),
    ("EventsOut", "Count"),
    ("ControlMessages", "Count"),
    ("DroppedFiltered", "Count"),
    ("DroppedSampled", "Count"),
    ("JoinedEvents", "Count"),
    ("DecodeErrors", "Count"),
    ("Retries", "Count"),
    ("FailedEntries", "Count"),
    ("BytesOut", "Bytes"),
    ("DeliveryLatency", "Milliseconds"),
)
#: Pipeline stages whose dropped events count as DroppedFiltered / DroppedSampled; events joined
#: into another (multi-line joining) count as JoinedEvents.
FILTER_STAGES = ("patterns", "min_level")
SAMPLE_STAGES = ("sample",)
JOIN_STAGE = "join"

_enc = msgspec.json.Encoder()


@dataclasses.dataclass(slots=True)
class Tally:
    """What one invocation did, counted as it goes; ``stages`` receives the pipeline's
    per-stage counts of events removed (``Pipeline.lines(stream, counts)``)."""

    events_in: int = 0
    events_out: int = 0
    control_messages: int = 0
    decode_errors: int = 0
    retries: int = 0
    failed_entries: int = 0
    bytes_out: int = 0
    oldest_ms: int | None = None  # oldest CloudWatch timestamp among the events taken in
    stages: dict[str, int] = dataclasses.field(default_factory=dict)

    def took(self, streams: Iterable[LogStream]) -> None:
        """Count the events of ``streams`` in, and remember the oldest timestamp."""
        for stream in streams:
            events = stream.log_events
            self.events_in += len(events)
            if events:
                oldest = min(e.timestamp for e in events) if len(events) > 1 else events[0].timestamp
                if self.oldest_ms is None or oldest < self.oldest_ms:
                    self.oldest_ms = oldest

    def sent(self, result: Any) -> None:
        """Add a sink's :class:`~logstream.sinks.DeliveryResult` (retries and what still failed)."""
        self.retries += result.retries
        self.failed_entries += len(result.failed)

    def staged(self) -> tuple[int, int, int]:
        """``(DroppedFiltered, DroppedSampled, JoinedEvents)`` from the pipeline's counts."""
        stages = self.stages
        if not stages:
            return 0, 0, 0
        return (
            sum(stages.get(s, 0) for s in FILTER_STAGES),
            sum(stages.get(s, 0) for s in SAMPLE_STAGES),
            stages.get(JOIN_STAGE, 0),
        )

    def values(self, now_ms: int) -> dict[str, float]:
        """The metrics of the invocation's document, by name."""
        filtered, sampled, joined = self.staged()
        values: dict[str, float] = {
            "EventsIn": self.events_in,
            "EventsOut": self.events_out,
            "ControlMessages": self.control_messages,
            "DroppedFiltered": filtered,
            "DroppedSampled": sampled,
            "JoinedEvents": joined,
            "DecodeErrors": self.decode_errors,
            "Retries": self.retries,
            "FailedEntries": self.failed_entries,
            "BytesOut": self.bytes_out,
        }
        if self.oldest_ms is not None and self.events_out:
            values["DeliveryLatency"] = max(0, now_ms - self.oldest_ms)
        return values


def _directive(with_latency: bool) -> bytes:
    names = [(n, u) for n, u in METRICS if with_latency or n != "DeliveryLatency"]
    metrics = [{"Name": n, "Unit": u} for n, u in names]
    return _enc.encode([{"Namespace": NAMESPACE, "Dimensions": [[DIMENSION]], "Metrics": metrics}])


#: The document's fixed part, encoded once (with and without DeliveryLatency).
_DIRECTIVES = {True: msgspec.Raw(_directive(True)), False: msgspec.Raw(_directive(False))}


class _Aws(msgspec.Struct, gc=False):
    Timestamp: int  # noqa: N815 - EMF's key
    CloudWatchMetrics: msgspec.Raw  # noqa: N815 - EMF's key


class _Document(
    msgspec.Struct,
    gc=False,
    omit_defaults=True,
    rename={"aws": "_aws", "function_name": DIMENSION, **{n.lower(): n for n, _ in METRICS}},
):
    """The document, encoded by msgspec (its keys in METRICS' order, DeliveryLatency only when
    set): a third of the work of formatting it as text, a dict half again as much."""

    aws: _Aws
    function_name: str
    eventsin: int
    eventsout: int
    controlmessages: int
    droppedfiltered: int
    droppedsampled: int
    joinedevents: int
    decodeerrors: int
    retries: int
    failedentries: int
    bytesout: int
    deliverylatency: int | None = None


def emf_document(tally: Tally, function_name: str, now_ms: int) -> str:
    """The invocation's EMF document, one line.

    Example
    -------
    >>> import json
    >>> doc = json.loads(emf_document(Tally(events_in=3, events_out=2, oldest_ms=1000), "fwd", 1500))
    >>> doc["FunctionName"], doc["EventsIn"], doc["DeliveryLatency"]
    ('fwd', 3, 500)
    >>> doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    ('Logstream/Pipeline', [['FunctionName']])
    """
    oldest = tally.oldest_ms if tally.events_out else None  # DeliveryLatency: of what went out
    filtered, sampled, joined = tally.staged()
    line = bytearray()
    _enc.encode_into(
        _Document(  # Tally.values, without building its dict
            _Aws(now_ms, _DIRECTIVES[oldest is not None]),
            function_name,
            tally.events_in,
            tally.events_out,
            tally.control_messages,
            filtered,
            sampled,
            joined,
            tally.decode_errors,
            tally.retries,
            tally.failed_entries,
            tally.bytes_out,
            None if oldest is None else max(0, now_ms - oldest),
        ),
        line,
    )
    line += b"\n"
    return line.decode()


class SelfMetrics:
    """Writes one document per invocation (or nothing when off)."""

    def __init__(
        self,
        enabled: bool,
        function_name: str | None,
        *,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.function_name = function_name
        self.stream = stream
        self.clock = clock

    def emit(self, tally: Tally, context: Any) -> None:
        if not self.enabled:
            return
        name = getattr(context, "function_name", None) or self.function_name or "unknown"
        out = self.stream or sys.stdout
        out.write(emf_document(tally, str(name), int(self.clock() * 1000)))
        out.flush()
