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

A record whose pieces went in only in part cannot be answered that way without duplicates:
Firehose's error output keeps the record as it was received, so re-driving it (``logstream
replay``) would send the pieces that went in a second time. Its pieces that did not go in are
dead-lettered instead (``DEAD_LETTER_QUEUE_URL``: the record's documents cut down to those
events, gzip, base64) and the record answered ``Dropped``; only when there is no dead-letter
queue or it does not take them is the record answered ``ProcessingFailed`` (nothing lost, the
pieces that went in sent again by a replay).
"""

from __future__ import annotations

import base64
import gzip
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec

from handlers._pace import Pace, TimeLimit
from handlers._selfmetrics import Tally
from logstream import DecodeError, LogEvent, LogStream, limits
from logstream.envelopes import payload_streams
from logstream.ndjson import event_lines
from logstream.process import (
    Pipeline,
    PipelineConfig,
    ProcessedEvent,
    encode_lines,
    from_stream,
    join_multiline,
)
from logstream.sinks import DeadLetter, Deadline, Record
from logstream.sinks.base import SEND_RESERVE_S
from logstream.sinks.records import partition_key

MARKER = "logstreamReingested"
_MARKER_BYTES = MARKER.encode()
#: Largest output (the pipeline's lines) of one re-ingested document: base64 of it fits any
#: response alone; its events' own NDJSON lines are bounded too, so its gzip document fits a
#: Firehose/Kinesis record.
PIECE_BYTES = 900 * 1024
#: Largest output of one joined event re-ingested on its own: base64 of it still fits a response.
GROUP_MAX_BYTES = 4 * 1024 * 1024
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
    on_raise: Callable[[int, str, BaseException], None] | None = None,
    on_late: Callable[[int, int, Pace], None] | None = None,
    dead_letters: Any = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """``(response, counts)`` for a Firehose transformation event.

    ``reingest(event)`` returns the sink that takes records back (``send_raw``); without one,
    records that do not fit are answered ``ProcessingFailed``. ``dead_letters`` (a
    :class:`~logstream.sinks.DeadLetterSink`, or ``None``) takes the pieces of a record that went
    in only in part (see the module docstring). ``pipeline`` (when on) makes the
    event lines; ``tally`` receives the self-metrics (a re-ingested record's pipeline counts are
    left out: they are counted when it is answered ``Ok``).

    A record whose processing raises (``on_raise(index, recordId, exception)``; the exception
    holds its traceback) and the records not processed before the deadline (``on_late(first
    index, how many, pace)``; processing keeps time for re-ingesting as the other handlers keep
    it for sending) are answered ``ProcessingFailed`` with their data as received: Firehose
    keeps them in its error output. The others go on. A record still being processed when that
    time runs out is interrupted (:class:`~handlers._pace.Pace`): with (nearly) the whole time
    spent on it, it is the cause and counts as a record that raised (``on_raise`` with a
    :class:`~handlers._pace.TimeLimit`, ``DecodeErrors``); started later, as the first record
    not processed before the deadline (``FailedEntries``).
    """
    tally = tally if tally is not None else Tally()
    pipeline = pipeline if pipeline is not None and pipeline.enabled else None
    records = event.get("records") or []
    answers: list[dict[str, Any] | None] = [None] * len(records)
    size = 64 + sum(len(str(r.get("recordId", ""))) + _ANSWER_BYTES for r in records)
    decoded: list[tuple[int, list[Part], int, bytes, dict[str, int]]] = []
    pace = Pace(deadline if deadline is not None else Deadline.never())

    def fail(index: int) -> None:  # Firehose keeps the record, as received, in its error output
        nonlocal size
        record = records[index]
        data = record.get("data")
        answer = {"recordId": record.get("recordId", ""), "result": "ProcessingFailed"}
        if isinstance(data, str):
            answer["data"] = data  # every answer holds data (Firehose's response rules)
            size += len(data) + 10
        answers[index] = answer

    def process(
        index: int, record: dict[str, Any]
    ) -> tuple[int, list[LogStream], list[Part], dict[str, int]]:
        streams = payload_streams(record.get("data"))
        wanted = [s for s in streams if not s.is_control and s.log_group not in skip_log_groups]
        stages: dict[str, int] = {}
        if pipeline is None:
            parts = [Part(s, None, event_lines(s)) for s in wanted]
        else:
            parts = []
            for s in wanted:
                events = pipeline.process(s, stages)
                parts.append(Part(s, events, encode_lines(events)))
        return sum(s.is_control for s in streams), wanted, parts, stages

    outcomes = pace.each(process, records)
    late = len(records) - len(outcomes)
    for index, outcome in enumerate(outcomes):
        record = records[index]
        if isinstance(outcome, DecodeError):
            tally.decode_errors += 1
            outcome.locate(record=index)
            if on_error is not None:
                on_error(outcome)
            fail(index)
        elif isinstance(outcome, TimeLimit) and not pace.whole():  # as the records not reached
            late += 1
        elif isinstance(outcome, BaseException):  # raised, or the cause of the time limit
            tally.decode_errors += 1
            if on_raise is not None:
                on_raise(index, str(record.get("recordId", "")), outcome)
            fail(index)
        else:
            control, wanted, parts, stages = outcome
            tally.control_messages += control
            data = b"".join(p.lines for p in parts)
            if not data:
                answers[index] = {"recordId": record.get("recordId", ""), "result": "Dropped"}
                tally.took(wanted)
                _add(tally.stages, stages)
                continue
            again = max((reingested(s) for s in wanted), default=0)
            decoded.append((index, parts, again, data, stages))
    if late:
        tally.failed_entries += late
        for i in range(len(records) - late, len(records)):
            fail(i)
        if on_late is not None:
            on_late(len(records) - late, late, pace)
    decoded.sort(key=lambda d: -d[2])  # re-ingested data first (stable: else in order)
    overflow: list[tuple[int, list[Part], int]] = []
    for index, parts, again, data, stages in decoded:
        n = (len(data) + 2) // 3 * 4
        if size + n <= max_bytes:
            size += n
            tally.took(p.stream for p in parts)  # a re-ingested record is counted when answered Ok
            _add(tally.stages, stages)
            tally.events_out += data.count(b"\n")
            tally.bytes_out += len(data)
            answers[index] = {
                "recordId": records[index].get("recordId", ""),
                "result": "Ok",
                "data": base64.b64encode(data).decode(),
            }
        else:
            overflow.append((index, parts, again))
    counts = {"reingested": 0, "reingestFailed": 0}
    if overflow:
        join = pipeline.config if pipeline is not None and pipeline.config.join_multiline else None
        pieces = [
            Record(doc, partition_key(p.stream), events, index)
            for index, parts, again in overflow
            for p in parts
            for doc, events in _documents(p, again + 1, join)
        ]
        # the pieces of each record that did not go in (all of them without a re-ingest sink)
        missed: dict[Any, list[Record]] = {}
        if reingest is not None:
            # retries of the pieces stop in time for the dead-letter queue to take what a
            # record could not put back (one request and a retry, at most half the time left)
            until = deadline
            if dead_letters is not None and deadline is not None:
                until = deadline.sooner(min(SEND_RESERVE_S, max(0.0, deadline.remaining()) / 2))
            result = reingest(event).send_raw(pieces, until)
            tally.retries += result.retries
            for f in result.failed:
                missed.setdefault(f.entry.tag, []).append(f.entry)
            counts["reingestRequests"] = result.requests
        else:
            for piece in pieces:
                missed.setdefault(piece.tag, []).append(piece)
        made = Counter(piece.tag for piece in pieces)
        partial = {i: m for i, m in missed.items() if len(m) < made[i]}  # some pieces went in
        kept = _dead_letter_rest(partial, records, event, dead_letters, deadline)
        for index, _, _ in overflow:
            rid = records[index].get("recordId", "")
            if index in kept:
                answers[index] = {"recordId": rid, "result": "Dropped"}
                counts["deadLettered"] = counts.get("deadLettered", 0) + 1
                tally.failed_entries += 1
            elif index in missed:
                answers[index] = {"recordId": rid, "result": "ProcessingFailed"}
                counts["reingestFailed"] += 1
                tally.failed_entries += 1
                if index in partial:  # a replay of the error output sends its other pieces again
                    counts["reingestedInPart"] = counts.get("reingestedInPart", 0) + 1
            else:
                answers[index] = {"recordId": rid, "result": "Dropped"}
                counts["reingested"] += 1
    out = [a for a in answers if a is not None]
    for a in out:
        counts[a["result"]] = counts.get(a["result"], 0) + 1
    return {"records": out}, counts


def _dead_letter_rest(
    partial: dict[Any, list[Record]],
    records: list[dict[str, Any]],
    event: dict[str, Any],
    sink: Any,
    deadline: Deadline | None,
) -> set[Any]:
    """Dead-letter the pieces that did not go in of each record whose other pieces did: one
    dead letter per record, its documents cut down to those events (gzip members, base64; the
    re-ingest mark left out). The records whose dead letter the queue took, every part of it."""
    if not partial or sink is None:
        return set()
    letters = []
    for index, missing in partial.items():
        record = records[index]
        letters.append(
            DeadLetter(
                base64.b64encode(b"".join(_unmarked(piece.data) for piece in missing)).decode("ascii"),
                f"record {index + 1}: reingest: {len(missing)} of its re-ingested documents did not "
                "go back into the stream (the others did): these are their events",
                {
                    "source": "firehose",
                    "deliveryStreamArn": event.get("deliveryStreamArn"),
                    "recordId": record.get("recordId", ""),
                    "step": "reingest",
                },
                index,
            )
        )
    result = sink.send(letters, deadline)
    refused = {f.entry.letter.tag for f in result.failed}
    return {letter.tag for letter in letters} - refused


def _unmarked(piece: bytes) -> bytes:
    """A re-ingested gzip document without its re-ingest mark: the events as CloudWatch sent them."""
    doc = msgspec.json.decode(gzip.decompress(piece))
    doc.pop(MARKER, None)
    return gzip.compress(_enc.encode(doc), mtime=0)


#: A record processed: its control messages, its streams to act on, their parts, the pipeline's
#: counts of events removed by stage.
Processed = tuple[int, list[LogStream], list["Part"], dict[str, int]]


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for name, n in counts.items():
        into[name] = into.get(name, 0) + n


def reingested(stream: LogStream) -> int:
    """How many times this transformation has put the stream's document back (0: an original)."""
    if stream.raw is None or _MARKER_BYTES not in stream.raw:
        return 0
    value = stream.to_document().get(MARKER)
    return value if isinstance(value, int) else 0


class Part(NamedTuple):
    """One stream of a record: its events as the pipeline left them (``None``: no pipeline) and
    the NDJSON lines they make, one per event."""

    stream: LogStream
    events: list[ProcessedEvent] | None
    lines: bytes


def _documents(part: Part, attempt: int, join: PipelineConfig | None = None) -> list[tuple[bytes, int]]:
    """The stream's events as gzip documents (with how many events each holds) whose output,
    when they come back, is at most PIECE_BYTES each: sized by the lines the pipeline made of
    them (which can be many times the events' own lines: parsed ``json``, tags). Cut only between
    the events the pipeline keeps apart (``join``: a joined stack trace stays in one document),
    unless one joined event alone is too big for a response or a record."""
    stream = part.stream
    events = stream.log_events
    doc = stream.to_document()
    doc[MARKER] = attempt
    raw = [len(event_lines(stream, (e,))) for e in events]  # bounds the document's gzip
    ends = [i + 1 for i in range(len(events))]  # the end of each group of events kept together
    if join is not None:
        ends, n = [], 0
        for head in join_multiline(from_stream(stream), start=join.multiline_start):
            n += 1 + len(head.joined_ids or ())
            ends.append(n)
    out = _output_sizes(part, ends, raw)
    pieces: list[tuple[bytes, int]] = []
    first, size, raw_size = 0, 0, 0

    def flush(stop: int) -> None:
        if stop > first:
            pieces.append((_gzip(doc, events[first:stop]), stop - first))

    begin = 0
    for end, group_out in zip(ends, out, strict=True):
        group_raw = sum(raw[begin:end])
        if first < begin and (size + group_out > PIECE_BYTES or raw_size + group_raw > PIECE_BYTES):
            flush(begin)
            first, size, raw_size = begin, 0, 0
        if group_out > GROUP_MAX_BYTES or group_raw > PIECE_BYTES:  # too big even alone: cut it
            for i in range(begin, end):
                share = group_out * raw[i] // max(1, group_raw)  # its part of the joined line
                if first < i and (size + share > PIECE_BYTES or raw_size + raw[i] > PIECE_BYTES):
                    flush(i)
                    first, size, raw_size = i, 0, 0
                size += share
                raw_size += raw[i]
        else:
            size += group_out
            raw_size += group_raw
        begin = end
    flush(len(events))
    return pieces


def _output_sizes(part: Part, ends: list[int], raw: list[int]) -> list[int]:
    """The size of the line each group of events makes (0: the pipeline drops it)."""
    lengths = [len(line) + 1 for line in part.lines.split(b"\n")[:-1]]  # one line per event
    if part.events is None or len(lengths) != len(part.events):
        return [sum(raw[a:b]) for a, b in zip([0, *ends], ends, strict=False)]
    events = part.stream.log_events
    sizes, k = [], 0
    for begin in [0, *ends[:-1]]:
        if k < len(part.events) and part.events[k].id == events[begin].id:
            sizes.append(lengths[k])
            k += 1
        else:
            sizes.append(0)
    return sizes


def _gzip(doc: dict[str, Any], events: Sequence[LogEvent]) -> bytes:
    return gzip.compress(_enc.encode({**doc, "logEvents": [e.to_dict() for e in events]}), mtime=0)
