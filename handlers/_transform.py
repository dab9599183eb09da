"""The Firehose transformation response: every ``recordId`` answered once, in order.

Data -> ``Ok`` with NDJSON event lines; control messages and the deployment's own log groups ->
``Dropped``; undecodable -> ``ProcessingFailed`` (Firehose keeps those in its error output).

Decoded NDJSON is ~6x the compressed input, so a 1-3 MB buffer of records decodes to far more
than the 6 MB a Lambda response may hold. Records that do not fit are re-ingested: their events
go back to the delivery stream (PutRecordBatch; PutRecords to the source stream for a
Kinesis-sourced delivery stream) as new gzip documents small enough to fit in any later
response on their own, and are answered ``Dropped`` here. Each event is therefore transformed
exactly once: a record is either answered ``Ok`` or re-ingested, never both. Re-ingested
documents carry ``logstreamReingested`` (how many times) and are answered first in the next
invocation, so the oldest data leaves first. If re-ingesting fails, the record is answered
``ProcessingFailed`` and its data stays in Firehose's error output.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

import msgspec

from handlers._selfmetrics import Tally
from logstream import DecodeError, LogStream, limits
from logstream.envelopes import payload_streams
from logstream.ndjson import event_lines
from logstream.process import Pipeline
from logstream.sinks import Deadline, Record
from logstream.sinks.records import partition_key

MARKER = "logstreamReingested"
#: Largest NDJSON output of one re-ingested document: base64 of it fits any response alone,
#: and its gzip document fits a Firehose/Kinesis record.
PIECE_BYTES = 900 * 1024
_ANSWER_BYTES = 80  # {"recordId": "", "result": "ProcessingFailed"} around the id
_enc = msgspec.json.Encoder()


def transform_response(
    event: dict[str, Any],
    *,
    skip_log_groups: frozenset[str] = frozenset(),
    reingest: Callable[[dict[str, Any]], Any] | None = None,
    deadline: Deadline | None = None,
    max_bytes: int = limits.LAMBDA_SYNC_MAX_PAYLOAD_BYTES,
    on_error: Callable[[DecodeError], None] | None = None,
    pipeline: Pipeline | None = None,
    tally: Tally | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """``(response, counts)`` for a Firehose transformation event.

    ``reingest(event)`` returns the sink that takes records back (``send_raw``); without one,
    records that do not fit are answered ``ProcessingFailed``. ``pipeline`` (when on) makes the
    event lines; ``tally`` receives the self-metrics (a re-ingested record's pipeline counts are
    left out: they are counted when it is answered ``Ok``).
    """
    tally = tally if tally is not None else Tally()
    pipeline = pipeline if pipeline is not None and pipeline.enabled else None
    records = event.get("records") or []
    answers: list[dict[str, Any] | None] = [None] * len(records)
    size = 64 + sum(len(str(r.get("recordId", ""))) + _ANSWER_BYTES for r in records)
    decoded: list[tuple[int, list[LogStream], int, bytes, dict[str, int]]] = []
    for index, record in enumerate(records):
        rid = record.get("recordId", "")
        try:
            streams = payload_streams(record.get("data"))
        except DecodeError as err:
            tally.decode_errors += 1
            err.locate(record=index)
            if on_error is not None:
                on_error(err)
            answers[index] = {"recordId": rid, "result": "ProcessingFailed"}
            continue
        tally.control_messages += sum(s.is_control for s in streams)
        wanted = [s for s in streams if not s.is_control and s.log_group not in skip_log_groups]
        tally.took(wanted)
        stages: dict[str, int] = {}
        if pipeline is None:
            data = b"".join(event_lines(s) for s in wanted)
        else:
            data = b"".join(pipeline.lines(s, stages) for s in wanted)
        if not data:
            answers[index] = {"recordId": rid, "result": "Dropped"}
            _add(tally.stages, stages)
            continue
        again = max((reingested(s) for s in wanted), default=0)
        decoded.append((index, wanted, again, data, stages))
    decoded.sort(key=lambda d: -d[2])  # re-ingested data first (stable: else in order)
    overflow: list[tuple[int, list[LogStream], int]] = []
    for index, wanted, again, data, stages in decoded:
        n = (len(data) + 2) // 3 * 4
        if size + n <= max_bytes:
            size += n
            _add(tally.stages, stages)
            tally.events_out += data.count(b"\n")
            tally.bytes_out += len(data)
            answers[index] = {
                "recordId": records[index].get("recordId", ""),
                "result": "Ok",
                "data": base64.b64encode(data).decode(),
            }
        else:
            overflow.append((index, wanted, again))
    counts = {"reingested": 0, "reingestFailed": 0}
    if overflow:
        pieces = [
            Record(doc, partition_key(s), len(s.log_events), index)
            for index, wanted, again in overflow
            for s in wanted
            for doc in _documents(s, again + 1)
        ]
        failed: set[Any] = {index for index, _, _ in overflow}
        if reingest is not None:
            result = reingest(event).send_raw(pieces, deadline)
            tally.retries += result.retries
            failed = {f.entry.tag for f in result.failed}
            counts["reingestRequests"] = result.requests
        for index, _, _ in overflow:
            rid = records[index].get("recordId", "")
            if index in failed:
                answers[index] = {"recordId": rid, "result": "ProcessingFailed"}
                counts["reingestFailed"] += 1
                tally.failed_entries += 1
            else:
                answers[index] = {"recordId": rid, "result": "Dropped"}
                counts["reingested"] += 1
    out = [a for a in answers if a is not None]
    for a in out:
        counts[a["result"]] = counts.get(a["result"], 0) + 1
    return {"records": out}, counts


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for name, n in counts.items():
        into[name] = into.get(name, 0) + n


def reingested(stream: LogStream) -> int:
    """How many times this transformation has put the stream's document back (0: an original)."""
    if stream.raw is None or MARKER.encode() not in stream.raw:
        return 0
    value = stream.to_document().get(MARKER)
    return value if isinstance(value, int) else 0


def _documents(stream: LogStream, attempt: int) -> list[bytes]:
    """The stream's events as gzip documents whose NDJSON output is at most PIECE_BYTES each."""
    doc = stream.to_document()
    doc[MARKER] = attempt
    pieces: list[bytes] = []
    events: list[Any] = []
    size = 0
    for event in stream.log_events:
        n = len(event_lines(stream, (event,)))
        if events and size + n > PIECE_BYTES:
            pieces.append(_gzip(doc, events))
            events, size = [], 0
        events.append(event)
        size += n
    if events:
        pieces.append(_gzip(doc, events))
    return pieces


def _gzip(doc: dict[str, Any], events: list[Any]) -> bytes:
    return gzip.compress(_enc.encode({**doc, "logEvents": [e.to_dict() for e in events]}), mtime=0)
