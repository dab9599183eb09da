"""Event sources and failure handling shared by the handlers.

A Kinesis batch is decoded record by record and answered with ``batchItemFailures`` built here
(never an exception for records that failed). A subscription event is decoded whole. What can
never be decoded (or, in the forwarder, processed) is not retried: it goes to the dead-letter
queue with its data
(``DEAD_LETTER_QUEUE_URL``), or to the log with its data when there is none or the queue refuses
it, and is acknowledged. Every send ends before the Lambda deadline (less a safety margin).

Metrics handlers never ask for anything whose metrics went out to be run again (that would
count it twice): odd data are dropped per datum by the sinks, PutMetricData refusals fall back
to EMF on stdout, a record whose processing raises is dead-lettered, and only records not
processed before the deadline (none of their metrics sent) are reported for retry. A unit
still running when the time for processing runs out is interrupted (``handlers._pace``). The
forwarder reports what it could not deliver: Kinesis -> ``batchItemFailures``, subscription ->
an exception (Lambda retries, then the on-failure destination keeps the event).
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from handlers._config import Config, misspelt
from handlers._pace import Pace, TimeLimit
from handlers._selfmetrics import SelfMetrics, Tally
from handlers._transform import reingested
from logstream import DecodeError, DeliveryError, LogEvent, LogStream, iter_log_streams
from logstream.decode import fast_payload
from logstream.envelopes import kinesis_batch
from logstream.process import Pipeline
from logstream.sinks import DeadLetter, Deadline, DeliveryResult, FailedEntry
from logstream.sinks.base import DEADLINE_EXCEEDED, RECORD_TOO_LARGE
from logstream.sinks.records import CLOUDWATCH
from logstream.sinks.sqs import dead_letter_messages

DEFAULT: Any = object()  # "build it from the configuration"
_LOG_PART_BYTES = 200_000  # a log line stays under CloudWatch Logs' event size
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


def with_lambda_context(logger: Any, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``handler`` whose log lines carry the keys of Powertools' ``inject_lambda_context``
    (``function_name``, ``function_memory_size``, ``function_arn``, ``function_request_id``,
    ``cold_start``), set once per execution environment and the request id per invocation: the
    decorator rebuilds them on every call, a cost that pays nothing on invocations that log
    nothing (the self-metrics document says what each one did)."""
    invocations = 0
    formatter: Any = None  # the logger's formatter: its keys, without the properties that find it
    keys: Any = None  # its keys as a dict (Powertools' ``log_format``, what append_keys updates)

    def wrapped(event: Any, context: Any) -> Any:
        nonlocal invocations, formatter, keys
        invocations += 1
        if invocations <= 2:
            logger.append_keys(
                cold_start=invocations == 1,
                function_name=getattr(context, "function_name", None),
                function_memory_size=getattr(context, "memory_limit_in_mb", None),
                function_arn=getattr(context, "invoked_function_arn", None),
            )
            formatter = logger.registered_formatter
            keys = getattr(formatter, "log_format", None)
        if type(keys) is dict:  # set in place: no call, no keyword dict
            keys["function_request_id"] = getattr(context, "aws_request_id", None)
        else:
            formatter.append_keys(function_request_id=getattr(context, "aws_request_id", None))
        return handler(event, context)

    return wrapped


def is_kinesis_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and "kinesis" in r for r in records)
    )


def batch_response(failed: Iterable[str]) -> dict[str, Any]:
    """The partial batch response naming exactly the ``failed`` sequence numbers."""
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}


class Runtime:
    """What every handler shares: the log groups to skip, the dead-letter path, the deadline,
    the log lines that say what happened and the invocation's self-metrics (``tally``)."""

    def __init__(
        self,
        config: Config,
        logger: Any,
        *,
        dead_letters: Any = DEFAULT,
        clock: Callable[[], float] = time.monotonic,
        self_metrics: SelfMetrics | None = None,
    ) -> None:
        self.skip = config.skip_log_groups
        self.logger = logger
        for name, known in misspelt():  # changes nothing: said once, at cold start
            logger.warning(
                f"environment variable {name} is not one logstream reads (did you mean {known}?): ignored",
                extra={"variable": name, "suggestion": known},
            )
        self.dead_letters = config.dead_letter_sink() if dead_letters is DEFAULT else dead_letters
        self.clock = clock
        self.self_metrics = self_metrics or SelfMetrics(config.self_metrics, config.function_name)
        self.tally = Tally()

    def begin(self) -> Tally:
        """A fresh tally for an invocation (Lambda runs one invocation at a time per process)."""
        self.tally = Tally()
        return self.tally

    def finish(self, context: Any) -> None:
        """Write the invocation's self-metrics document."""
        self.self_metrics.emit(self.tally, context)

    def deadline(self, context: Any) -> Deadline:
        return Deadline.from_context(context, None, self.clock)  # positional: the quick call

    def wanted(self, stream: LogStream) -> bool:
        """Data from a log group that is not one of the deployment's handlers (no log loops),
        and not a document the Firehose transformation put back into a Kinesis stream this
        handler also reads (its events were taken when they first arrived: taking them again
        would forward them twice and count their REPORT lines twice)."""
        if stream.is_control:
            self.tally.control_messages += 1
            return False
        if reingested(stream):
            self.tally.stages["reingested"] = self.tally.stages.get("reingested", 0) + len(stream.log_events)
            return False
        return stream.log_group not in self.skip

    # ---------------------------------------------------------------------------- decoding
    def kinesis(self, records: list[Any]) -> tuple[list[tuple[str, LogStream]], list[DeadLetter]]:
        """``(sequenceNumber, LogStream)`` pairs to act on, and a dead letter per undecodable record."""
        streams, failures = kinesis_batch(records)
        self.tally.decode_errors += len(failures)
        letters = []
        if failures:
            by_seq = {_seq(r, i): r for i, r in enumerate(records)}
            for seq, err in failures.items():
                data, source = _record_origin(by_seq.get(seq, {}), seq)
                letters.append(DeadLetter(data, str(err), {**source, "step": err.step}, seq))
        return [(seq, s) for seq, s in streams if self.wanted(s)], letters

    def subscription(self, event: Any) -> tuple[list[LogStream], list[DeadLetter]]:
        """The data messages of a subscription event, or a dead letter when it cannot be decoded."""
        documents, _, letters = self.subscription_documents(event)
        return [s for _, s in documents], letters

    def subscription_documents(self, event: Any) -> tuple[list[tuple[int, LogStream]], int, list[DeadLetter]]:
        """``(document number, LogStream)`` for the data messages of a subscription event (1-based
        among all its documents), how many documents it holds, and a dead letter when it cannot
        be decoded.

        The usual event (base64 of one gzip member holding one document) is decoded in one pass
        (``decode_log_stream``'s fast path); anything else takes the general path."""
        if isinstance(event, dict) and len(event) == 1:
            awslogs = event.get("awslogs")
            data = awslogs.get("data") if isinstance(awslogs, dict) else None
            if isinstance(data, str) and (stream := fast_payload(data)) is not None:
                return ([(1, stream)] if self.wanted(stream) else []), 1, []
        try:
            streams = list(iter_log_streams(event))
        except DecodeError as err:
            self.tally.decode_errors += 1
            awslogs = event.get("awslogs") if isinstance(event, dict) else None
            data = awslogs.get("data") if isinstance(awslogs, dict) else None
            data = data if isinstance(data, str) else repr(event)
            return [], 0, [DeadLetter(data, str(err), {"source": "subscription", "step": err.step})]
        return [(n, s) for n, s in enumerate(streams, 1) if self.wanted(s)], len(streams), []

    # ------------------------------------------------------------------------- dead letters
    def dead_letter(self, letters: list[DeadLetter], deadline: Deadline) -> None:
        """Hand ``letters`` to the dead-letter queue; what it does not take is logged with its data.
        Never raises: dead letters are acknowledged either way."""
        if not letters:
            return
        for letter in letters:
            self.logger.error(
                f"cannot be processed, never retried: {letter.reason}",
                extra={"deadLetter": letter.source, "reason": letter.reason},
            )
        unsent = letters
        if self.dead_letters is not None:
            result = self.dead_letters.send(letters, deadline)
            self.log_failures(result, self.dead_letters, "dead-letter messages")
            unsent = _unique(f.entry.letter for f in result.failed)
            if result.delivered:
                self.logger.warning(
                    f"{len(letters) - len(unsent)} dead letters sent to {self.dead_letters.destination}",
                    extra={"deadLetters": len(letters) - len(unsent)},
                )
        for letter in unsent:
            for body in dead_letter_messages(letter, _LOG_PART_BYTES):
                self.logger.error(
                    "dead letter logged with its data (no dead-letter queue took it)",
                    extra={"deadLetterBody": body},
                )

    # ----------------------------------------------------------------------------- logging
    def log_failures(self, result: DeliveryResult, sink: Any, what: str) -> None:
        """One line per distinct error: what failed, where, why and whether it was retried."""
        for code, kind, count, message in result.errors():
            self.logger.error(
                f"{count} {what} not delivered to {sink.destination}: {code} ({kind}): {message}",
                extra={"error": code, "errorClass": kind, "entries": count, "destination": sink.destination},
            )
        if result.dropped:
            self.logger.warning(
                f"{sum(result.dropped.values())} metric data dropped: {dict(result.dropped)}",
                extra={"dropped": dict(result.dropped)},
            )
        for code, count in result.rerouted.items():
            self.logger.warning(
                f"{sink.destination} refused {count} metric data ({code}): written as EMF on stdout instead",
                extra={"error": code, "rerouted": count},
            )


#: One unit's metric data: ``(unit number, its streams) -> (data, reports or statuses found)``.
UnitData = Callable[[int, list[LogStream]], tuple[list[Any], int]]


class MetricsHandler:
    """A metrics handler: streams -> metric data -> sink, one unit at a time (a Kinesis record,
    a document of a subscription event), never counting anything twice.

    ``metric_data(batch)`` is called once per invocation with every unit's streams and returns
    the function that makes one unit's metric data: ``(unit number, streams) -> (data, how
    many reports or statuses)`` (what a unit needs from the rest of the batch, it takes from
    ``batch``). A unit whose processing raises is dead-lettered with its data as received,
    logged with its traceback and counted (``DecodeErrors``); the others' metrics go out.
    Processing stops in time to send before the deadline, and what it did not reach never had
    its metrics sent: Kinesis reports those records for retry (``batchItemFailures``: the batch
    from the first of them on, so Lambda's retry counts nothing twice); a subscription event
    raises when no document was processed yet (a retry counts nothing twice), else its late
    documents are dead-lettered (a retry of the event would count the others twice). A unit
    still running when the time for processing runs out is interrupted: dead-lettered (step
    ``time limit``) when it started with (nearly) the whole time, else left with those not
    reached (``handlers._pace.Pace``)."""

    def __init__(
        self,
        runtime: Runtime,
        sink: Any,
        metric_data: Callable[[list[list[LogStream]]], UnitData],
        counted: str = "reports",
    ) -> None:
        self.runtime = runtime
        self.sink = sink
        self.metric_data = metric_data
        self.counted = counted

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        rt = self.runtime
        tally = rt.begin()
        try:
            return self.run(event, context, tally)
        finally:
            rt.finish(context)

    def run(self, event: Any, context: Any, tally: Tally) -> dict[str, Any]:
        rt = self.runtime
        deadline = rt.deadline(context)
        kinesis = is_kinesis_batch(event)
        units: list[Unit] = []
        if kinesis:
            tagged, letters = rt.kinesis(event["Records"])
            units = kinesis_units(event["Records"], tagged)
            batch = [u.streams for u in units]
        else:
            documents, count, letters = rt.subscription_documents(event)
            batch = [[s] for _, s in documents]  # its units are made only when one is needed
        if letters:
            rt.dead_letter(letters, deadline)
        for streams in batch:
            tally.took(streams)
        per_unit = self.metric_data(batch)
        data: list[Any] = []
        found = 0
        poisoned: list[DeadLetter] = []
        # no time limit: nothing user-supplied runs here, only logstream's parsers (linear in the
        # input, hostile lines included), and the alarm would cost ~2.5 us of the 1-event path
        pace = Pace(deadline, time_limit=False)
        outcomes = pace.each(per_unit, batch)
        late = len(batch) - len(outcomes)  # units at the end not processed for lack of time
        interrupted = None
        for u, outcome in enumerate(outcomes):
            if not isinstance(outcome, BaseException):
                data += outcome[0]
                found += outcome[1]
                continue
            units = units or subscription_units(event, documents, count)
            if isinstance(outcome, TimeLimit) and not pace.whole():  # may fit with the whole time
                interrupted, late = outcome, late + 1
            else:  # raised, or the cause of the time limit: never retried
                poisoned.append(poisoned_unit(rt, units[u], outcome))
        if late:
            units = units or subscription_units(event, documents, count)
            late_units = units[len(units) - late :]
            _log_late(rt.logger, pace, late_units, len(units), kinesis, interrupted)
            tally.failed_entries += late
            if not kinesis and late == len(units):  # nothing sent: Lambda's retry counts nothing twice
                raise DeliveryError(
                    f"{late} documents not processed before the deadline ({DEADLINE_EXCEEDED}): "
                    "no metric data sent, so Lambda's retry counts nothing twice",
                    [FailedEntry(u, DEADLINE_EXCEEDED, "not processed") for u in late_units],
                )
        result = self.sink.send(data, deadline)
        tally.sent(result)
        tally.events_out = result.delivered
        if result.failed or result.dropped or result.rerouted:
            rt.log_failures(result, self.sink, "metric data")
        if late and not kinesis:  # the others' metrics went out: a retry would count them twice
            poisoned += [_late_letter(u) for u in units[len(units) - late :]]
        if poisoned:
            rt.dead_letter(poisoned, deadline)
        if kinesis:
            return batch_response(u.seq for u in units[len(units) - late :] if late and u.seq is not None)
        return {
            self.counted: found,
            "metrics": result.delivered,
            "dropped": sum(result.dropped.values()),
            "deadLettered": len(letters) + len(poisoned),
        }


def _log_late(
    logger: Any, pace: Pace, late: list[Unit], total: int, kinesis: bool, interrupted: TimeLimit | None = None
) -> None:
    what = "records" if kinesis else "documents"
    left = pace.left()
    cut = ""
    if interrupted is not None and not pace.whole():  # the first of them: it may fit with more time
        where = late[0].place or "the event"
        cut = f"{where} interrupted at the time limit after {interrupted.seconds:.3f} s, "
    logger.warning(
        f"{len(late)} of {total} {what} not processed before the deadline "
        f"({cut}slowest took {pace.slowest:.3f} s, {max(0.0, left):.3f} s left for processing): "
        + ("reported for retry" if kinesis or len(late) == total else "dead-lettered"),
        extra={"notProcessed": len(late), "slowestSeconds": round(pace.slowest, 3)},
    )


def _late_letter(unit: Unit) -> DeadLetter:
    """The dead letter of a document of a subscription event not processed before the deadline
    when others were (Lambda's retry of the event would count their metrics twice)."""
    reason = (
        f"deadline: not processed before the deadline ({DEADLINE_EXCEEDED}); the event's other "
        "documents were counted or dead-lettered, so it is not retried"
    )
    return DeadLetter(unit.received(), unit.where(reason), {**unit.source, "step": "deadline"})


def poisoned_unit(rt: Runtime, unit: Unit, exc: BaseException) -> DeadLetter:
    """The dead letter of a unit whose processing raised (step ``process``) or was interrupted
    at the time limit with the whole processing time spent on it (step ``time limit``), logged
    with the traceback (where it was) and counted."""
    rt.tally.decode_errors += 1
    step = "time limit" if isinstance(exc, TimeLimit) else "process"
    text = str(exc) if isinstance(exc, TimeLimit) else f"{type(exc).__name__}: {exc}"[:1000]
    rt.logger.exception(
        f"{unit.place or 'the event'}"
        + (f" (sequenceNumber {unit.seq})" if unit.seq is not None else "")
        + (f": {step}: {text}" if step != "process" else f": processing raised {text}")
        + "; dead-lettered with its data, the other "
        + ("records" if unit.seq is not None else "documents")
        + " go on",
        exc_info=exc,
        extra={"deadLetter": {**unit.source, "step": step}},
    )
    return DeadLetter(unit.received(), unit.where(f"{step}: {text}"), {**unit.source, "step": step})


@dataclasses.dataclass(slots=True)
class Unit:
    """What the forwarder processes as one and what a failure costs: a Kinesis record, or one
    document of a subscription event. ``data`` is it as received (for its dead letter),
    ``place`` names it in messages (``record 3``, ``document 2``; empty for an event of one
    document) and ``seq`` is the Kinesis sequence number to report. ``data`` is ``None`` for a
    document of a subscription event of several: it is made (base64 of gzip) only when needed."""

    streams: list[LogStream]
    data: str | None
    place: str
    source: dict[str, Any]
    seq: str | None = None

    def where(self, text: str) -> str:
        return f"{self.place}: {text}" if self.place else text

    def received(self) -> str:
        """The unit as received, for its dead letter."""
        if self.data is None:
            stream = self.streams[0]
            self.data = _payload(stream.raw if stream.raw is not None else _enc.encode(stream.to_document()))
        return self.data


class ForwardHandler:
    """The forwarder: streams -> records -> Kinesis or Firehose; undelivered records reported.

    Each unit (a Kinesis record, a document of a subscription event) is processed on its own:
    an exception while processing one (a failing stage, a bug) dead-letters that unit with its
    data as received, logs it with the traceback and counts it (``DecodeErrors``); the others
    go on. Processing stops in time to send before the deadline: the units not processed are
    reported for retry (``batchItemFailures``, or a raised ``DeliveryError``; the documents of a
    subscription event whose others were delivered are dead-lettered instead when the queue
    takes them: :meth:`dead_letter_late`). A unit still
    running when the time for processing runs out (a catastrophic ``REDACT_PATTERNS`` regex) is
    interrupted: dead-lettered (step ``time limit``) when it started with (nearly) the whole
    time, else reported for retry with the units after it (the retry starts with it)."""

    def __init__(self, runtime: Runtime, sink: Any, pipeline: Pipeline | None = None) -> None:
        self.runtime = runtime
        self.sink = sink
        self.pipeline = pipeline if pipeline is not None and pipeline.enabled else None
        self.documents = getattr(sink, "record_format", None) == CLOUDWATCH

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        self.runtime.begin()
        try:
            return self.run(event, context)
        finally:
            self.runtime.finish(context)

    def run(self, event: Any, context: Any) -> dict[str, Any]:
        rt = self.runtime
        deadline = rt.deadline(context)
        kinesis = is_kinesis_batch(event)
        if kinesis:
            tagged, letters = rt.kinesis(event["Records"])
            units = kinesis_units(event["Records"], tagged)
        else:
            documents, count, letters = rt.subscription_documents(event)
            units = subscription_units(event, documents, count)
        rt.dead_letter(letters, deadline)
        result, late, dead = self.forward(units, deadline)
        dead_lettered = len(letters) + dead
        if kinesis:
            failed = {units[f.entry.tag[0]].seq for f in result.failed} | {u.seq for u in late}
            order = [_seq(r, i) for i, r in enumerate(event["Records"])]
            return batch_response(seq for seq in order if seq in failed)
        # the others delivered (or dead-lettered): a retry of the event would send them twice
        if (
            late
            and not result.failed
            and (result.delivered or dead_lettered)
            and self.dead_letter_late(late, deadline)
        ):
            dead_lettered += len(late)
            late = []
        if result.failed or late:
            failures = [*result.failed, *(FailedEntry(u, DEADLINE_EXCEEDED, "not processed") for u in late)]
            message = f"{len(result.failed)} records not delivered to {self.sink.destination}: " + (
                f"{sorted({f.error_code for f in result.failed})}" if result.failed else "none"
            )
            if late:
                message += f"; {len(late)} documents not processed before the deadline ({DEADLINE_EXCEEDED})"
            raise DeliveryError(message, failures)
        return {"delivered": result.delivered, "requests": result.requests, "deadLettered": dead_lettered}

    def dead_letter_late(self, late: list[Unit], deadline: Deadline) -> bool:
        """Hand the documents of a subscription event not processed before the deadline to the
        dead-letter queue, when its others were delivered (Lambda's retry of the event would send
        those a second time); whether it took them all, every part. Not without a queue, nor
        when it refuses one: the event is then retried whole (nothing lost, the others sent
        twice)."""
        sink = self.runtime.dead_letters
        if sink is None:
            return False
        reason = (
            f"deadline: not processed before the deadline ({DEADLINE_EXCEEDED}); the event's other "
            "documents were delivered, so it is not retried"
        )
        letters = [DeadLetter(u.received(), u.where(reason), {**u.source, "step": "deadline"}) for u in late]
        result = sink.send(letters, deadline)
        if result.failed:
            self.runtime.log_failures(result, sink, "dead-letter messages")
            return False
        self.runtime.logger.warning(
            f"{len(late)} documents not processed before the deadline dead-lettered to "
            f"{sink.destination}: the others were delivered, so the event is not retried",
            extra={"deadLetters": len(late)},
        )
        return True

    def forward(self, units: list[Unit], deadline: Deadline) -> tuple[DeliveryResult, list[Unit], int]:
        """Process each unit, send what they make; ``(result, units not processed in time,
        dead letters sent)``. ``result.failed`` holds only what Lambda should retry."""
        rt = self.runtime
        tally = rt.tally
        tally.took(s for u in units for s in u.streams)
        made, late, letters = self.process(units, deadline)
        result: DeliveryResult = self.sink.send_records(made, deadline)
        tally.sent(result)
        tally.failed_entries += len(late)
        tally.events_out += result.events
        tally.bytes_out += result.bytes
        too_large = [f for f in result.failed if f.error_code == RECORD_TOO_LARGE]
        if too_large:
            result.failed = [f for f in result.failed if f.error_code != RECORD_TOO_LARGE]
            letters += [self.too_large(units, f.entry) for f in too_large]
        if result.failed:
            rt.log_failures(result, self.sink, "records")
        rt.dead_letter(letters, deadline)
        return result, late, len(letters)

    def process(
        self, units: list[Unit], deadline: Deadline
    ) -> tuple[list[Any], list[Unit], list[DeadLetter]]:
        """The records the units make, the units left for lack of time, a dead letter per unit
        whose processing raised.

        Processing keeps time for sending (``SEND_RESERVE_S``, at most half of what is left) and
        starts no unit when less time is left than the slowest unit so far took. A unit still
        running when that time runs out is interrupted (:class:`~handlers._pace.Pace`): with
        (nearly) the whole time spent on it, it is dead-lettered (step ``time limit``); started
        later, it is left for lack of time with the units after it."""
        rt = self.runtime
        pace = Pace(deadline)
        outcomes = pace.each(self.records, units)
        made: list[Any] = []
        letters: list[DeadLetter] = []
        late = units[len(outcomes) :]
        interrupted = None
        stages = rt.tally.stages
        for unit, outcome in zip(units, outcomes, strict=False):
            if not isinstance(outcome, BaseException):
                made += outcome[0]
                for stage, n in outcome[1].items():
                    stages[stage] = stages.get(stage, 0) + n
            elif isinstance(outcome, TimeLimit) and not pace.whole():  # may fit with the whole time
                interrupted, late = outcome, [unit, *late]
            else:  # raised, or the cause of the time limit: never retried
                letters.append(poisoned_unit(rt, unit, outcome))
        if late:
            _log_late(rt.logger, pace, late, len(units), late[0].seq is not None, interrupted)
        return made, late, letters

    def records(self, u: int, unit: Unit) -> tuple[list[Any], dict[str, int]]:
        """The records one unit makes, through the pipeline when on, tagged ``(unit, stream)``;
        and the pipeline's counts of events it removed, by stage."""
        tagged = [((u, k), s) for k, s in enumerate(unit.streams)]
        pipeline = self.pipeline
        counts: dict[str, int] = {}
        if pipeline is None:
            made = self.sink.records(tagged)
        elif self.documents:
            made = self.sink.records([(tag, kept_document(pipeline, s, counts)) for tag, s in tagged])
        else:
            made = self.sink.records(tagged, lines=lambda s: pipeline.lines(s, counts))
        return list(made), counts

    def too_large(self, units: list[Unit], entry: Any) -> DeadLetter:
        """The dead letter of an event that fits no record even in parts: the event (with those
        joined into it) as received, in a document of its own with its document's other keys."""
        u, k = entry.tag
        unit = units[u]
        ids = _event_ids(entry.line)
        doc = unit.streams[k].to_document()
        events = doc.get("logEvents")
        if isinstance(events, list) and ids:
            kept = [e for e in events if isinstance(e, dict) and e.get("id") in ids]
            doc["logEvents"] = kept or events
        first = next(iter(ids), "?")
        joined = f" (and {len(ids) - 1} joined into it)" if len(ids) > 1 else ""
        reason = (
            f"record limit: {RECORD_TOO_LARGE}: event {first}{joined} does not fit one record of "
            f"{self.sink.destination}, even in parts"
        )
        return DeadLetter(
            _payload(_enc.encode(doc)), unit.where(reason), {**unit.source, "step": "record limit"}
        )


def kinesis_units(records: list[Any], tagged: list[tuple[str, LogStream]]) -> list[Unit]:
    """One unit per Kinesis record holding streams to act on, in record order."""
    by_seq: dict[str, list[LogStream]] = {}
    for seq, stream in tagged:
        by_seq.setdefault(seq, []).append(stream)
    units = []
    for i, record in enumerate(records):
        seq = _seq(record, i)
        if (streams := by_seq.pop(seq, None)) is None:
            continue
        data, source = _record_origin(record, seq)
        units.append(Unit(streams, data, f"record {i + 1}", source, seq))
    return units


def _record_origin(record: Any, seq: str) -> tuple[str, dict[str, Any]]:
    """A Kinesis record's data as received (its ``data``, else the record's repr) and where it
    came from, for a dead letter: ``eventSourceARN``, ``sequenceNumber``, ``partitionKey``."""
    kin = record.get("kinesis") if isinstance(record, dict) else None
    kin = kin if isinstance(kin, dict) else {}
    data = kin.get("data")
    source = {
        "eventSourceARN": record.get("eventSourceARN") if isinstance(record, dict) else None,
        "sequenceNumber": seq,
        "partitionKey": kin.get("partitionKey"),
    }
    return (data if isinstance(data, str) else repr(record)), source


def subscription_units(event: Any, documents: list[tuple[int, LogStream]], count: int) -> list[Unit]:
    """One unit per document to act on; its data is ``awslogs.data`` when the event holds that
    one document, else the document in a payload of its own (base64 of gzip)."""
    awslogs = event.get("awslogs") if isinstance(event, dict) else None
    whole = awslogs.get("data") if isinstance(awslogs, dict) else None
    units = []
    for n, stream in documents:
        if count == 1 and isinstance(whole, str):
            data, place = whole, ""
        else:
            data, place = None, f"document {n}"  # its own payload, made only for a dead letter
        units.append(Unit([stream], data, place, {"source": "subscription"}))
    return units


def _payload(document: bytes) -> str:
    """base64 of gzip of a document, as CloudWatch Logs sends one."""
    return base64.b64encode(gzip.compress(document, mtime=0)).decode("ascii")


def _event_ids(line: bytes) -> list[str]:
    """The CloudWatch ids behind an event line (``id`` then ``joinedIds``) or a one-event document."""
    try:
        obj = _dec.decode(line)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return []
    if not isinstance(obj, dict):
        return []
    events = obj.get("logEvents")
    if isinstance(events, list):
        return [e["id"] for e in events if isinstance(e, dict) and isinstance(e.get("id"), str)]
    ids = [obj.get("id"), *(obj.get("joinedIds") or [])]
    return [i for i in ids if isinstance(i, str)]


def kept_document(pipeline: Pipeline, stream: LogStream, counts: dict[str, int]) -> LogStream:
    """The stream's document with only the events the pipeline keeps, their messages as it left
    them (redacted): every other key of the document as CloudWatch sent it."""
    events = pipeline.process(stream, counts)
    kept = tuple(LogEvent(e.id, e.timestamp, e.message, e.extracted_fields) for e in events)
    doc = stream.to_document()
    doc["logEvents"] = [e.to_dict() for e in kept]
    return dataclasses.replace(stream, log_events=kept, raw=_enc.encode(doc))


def _seq(record: Any, index: int) -> str:
    kin = record.get("kinesis") if isinstance(record, dict) else None
    return str(kin.get("sequenceNumber", index)) if isinstance(kin, dict) else str(index)


def _unique(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    seen: dict[int, DeadLetter] = {}
    for letter in letters:
        seen.setdefault(id(letter), letter)
    return list(seen.values())
