"""Event sources and failure handling shared by the handlers.

A Kinesis batch is decoded record by record and answered with ``batchItemFailures`` built here
(never an exception for records that failed). A subscription event is decoded whole. What can
never be decoded is not retried: it goes to the dead-letter queue with its data
(``DEAD_LETTER_QUEUE_URL``), or to the log with its data when there is none or the queue refuses
it, and is acknowledged. Every send ends before the Lambda deadline (less a safety margin).

Metrics handlers never ask for a batch to be run again (that would count it twice): odd data
are dropped per datum by the sinks, PutMetricData refusals fall back to EMF on stdout. The
forwarder reports what it could not deliver: Kinesis -> ``batchItemFailures``, subscription ->
an exception (Lambda retries, then the on-failure destination keeps the event).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from handlers._config import Config
from handlers._selfmetrics import SelfMetrics, Tally
from handlers._transform import reingested
from logstream import DecodeError, DeliveryError, LogEvent, LogStream, iter_log_streams
from logstream.decode import fast_payload
from logstream.envelopes import kinesis_batch
from logstream.process import Pipeline
from logstream.sinks import DeadLetter, Deadline, DeliveryResult
from logstream.sinks.base import RECORD_TOO_LARGE
from logstream.sinks.records import CLOUDWATCH
from logstream.sinks.sqs import dead_letter_messages

DEFAULT: Any = object()  # "build it from the configuration"
_LOG_PART_BYTES = 200_000  # a log line stays under CloudWatch Logs' event size
_enc = msgspec.json.Encoder()


def with_lambda_context(logger: Any, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``handler`` whose log lines carry the keys of Powertools' ``inject_lambda_context``
    (``function_name``, ``function_memory_size``, ``function_arn``, ``function_request_id``,
    ``cold_start``), set once per execution environment and the request id per invocation: the
    decorator rebuilds them on every call, a cost that pays nothing on invocations that log
    nothing (the self-metrics document says what each one did)."""
    state = {"invocations": 0}

    def wrapped(event: Any, context: Any) -> Any:
        state["invocations"] += 1
        if state["invocations"] <= 2:
            logger.append_keys(
                cold_start=state["invocations"] == 1,
                function_name=getattr(context, "function_name", None),
                function_memory_size=getattr(context, "memory_limit_in_mb", None),
                function_arn=getattr(context, "invoked_function_arn", None),
            )
        logger.append_keys(function_request_id=getattr(context, "aws_request_id", None))
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
        return Deadline.from_context(context, clock=self.clock)

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
                record = by_seq.get(seq, {})
                kin = record.get("kinesis") if isinstance(record, dict) else None
                kin = kin if isinstance(kin, dict) else {}
                data = kin.get("data")
                source = {
                    "eventSourceARN": record.get("eventSourceARN") if isinstance(record, dict) else None,
                    "sequenceNumber": seq,
                    "partitionKey": kin.get("partitionKey"),
                    "step": err.step,
                }
                letters.append(
                    DeadLetter(data if isinstance(data, str) else repr(record), str(err), source, seq)
                )
        return [(seq, s) for seq, s in streams if self.wanted(s)], letters

    def subscription(self, event: Any) -> tuple[list[LogStream], list[DeadLetter]]:
        """The data messages of a subscription event, or a dead letter when it cannot be decoded.

        The usual event (base64 of one gzip member holding one document) is decoded in one pass
        (``decode_log_stream``'s fast path); anything else takes the general path."""
        if isinstance(event, dict) and len(event) == 1:
            awslogs = event.get("awslogs")
            data = awslogs.get("data") if isinstance(awslogs, dict) else None
            if isinstance(data, str) and (stream := fast_payload(data)) is not None:
                return ([stream] if self.wanted(stream) else []), []
        try:
            return [s for s in iter_log_streams(event) if self.wanted(s)], []
        except DecodeError as err:
            self.tally.decode_errors += 1
            awslogs = event.get("awslogs") if isinstance(event, dict) else None
            data = awslogs.get("data") if isinstance(awslogs, dict) else None
            data = data if isinstance(data, str) else repr(event)
            return [], [DeadLetter(data, str(err), {"source": "subscription", "step": err.step})]

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


class MetricsHandler:
    """A metrics handler: streams -> metric data -> sink; never asks for a batch to run again."""

    def __init__(
        self,
        runtime: Runtime,
        sink: Any,
        metric_data: Callable[[list[LogStream]], tuple[list[Any], dict[str, int]]],
    ) -> None:
        self.runtime = runtime
        self.sink = sink
        self.metric_data = metric_data

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
        if kinesis:
            tagged, letters = rt.kinesis(event["Records"])
            streams = [s for _, s in tagged]
        else:
            streams, letters = rt.subscription(event)
        tally.took(streams)
        rt.dead_letter(letters, deadline)
        data, counts = self.metric_data(streams)
        result = self.sink.send(data, deadline)
        tally.sent(result)
        tally.events_out = result.delivered
        if result.failed or result.dropped or result.rerouted:
            rt.log_failures(result, self.sink, "metric data")
        if kinesis:
            return batch_response(())
        return {
            **counts,
            "metrics": result.delivered,
            "dropped": sum(result.dropped.values()),
            "deadLettered": len(letters),
        }


class ForwardHandler:
    """The forwarder: streams -> records -> Kinesis or Firehose; undelivered records reported."""

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
        if is_kinesis_batch(event):
            tagged, letters = rt.kinesis(event["Records"])
            rt.dead_letter(letters, deadline)
            result = self.send(tagged, deadline)
            failed = {f.entry.tag for f in result.failed}
            order = [_seq(r, i) for i, r in enumerate(event["Records"])]
            return batch_response(seq for seq in order if seq in failed)
        streams, letters = rt.subscription(event)
        rt.dead_letter(letters, deadline)
        result = self.send(streams, deadline)
        if result.failed:
            raise DeliveryError(
                f"{len(result.failed)} records not delivered to {self.sink.destination}: "
                f"{sorted({f.error_code for f in result.failed})}",
                result.failed,
            )
        return {"delivered": result.delivered, "requests": result.requests, "deadLettered": len(letters)}

    def send(self, streams: list[Any], deadline: Deadline) -> DeliveryResult:
        """Send through the pipeline (when on); an event that can never fit a record is
        dead-lettered with its data, not reported."""
        tally = self.runtime.tally
        tally.took(s[1] if isinstance(s, tuple) else s for s in streams)
        pipeline = self.pipeline
        if pipeline is None:
            result: DeliveryResult = self.sink.send(streams, deadline)
        elif self.documents:
            kept = [(s[0], kept_document(pipeline, s[1], tally.stages)) for s in _tagged(streams)]
            result = self.sink.send(kept, deadline)  # (None, stream) pairs: untagged, as before
        else:
            result = self.sink.send(streams, deadline, lines=lambda s: pipeline.lines(s, tally.stages))
        tally.sent(result)
        tally.events_out += result.events
        tally.bytes_out += result.bytes
        too_large = [f for f in result.failed if f.error_code == RECORD_TOO_LARGE]
        if too_large:
            result.failed = [f for f in result.failed if f.error_code != RECORD_TOO_LARGE]
            self.runtime.dead_letter(
                [
                    DeadLetter(
                        f.entry.line.decode("utf-8", "replace"),
                        f"{RECORD_TOO_LARGE}: one log event over the record limit of {self.sink.destination}",
                        {"partitionKey": f.entry.partition_key, "sequenceNumber": f.entry.tag},
                    )
                    for f in too_large
                ],
                deadline,
            )
        if result.failed:
            self.runtime.log_failures(result, self.sink, "records")
        return result


def kept_document(pipeline: Pipeline, stream: LogStream, counts: dict[str, int]) -> LogStream:
    """The stream's document with only the events the pipeline keeps, their messages as it left
    them (redacted): every other key of the document as CloudWatch sent it."""
    events = pipeline.process(stream, counts)
    kept = tuple(LogEvent(e.id, e.timestamp, e.message, e.extracted_fields) for e in events)
    doc = stream.to_document()
    doc["logEvents"] = [e.to_dict() for e in kept]
    return dataclasses.replace(stream, log_events=kept, raw=_enc.encode(doc))


def _tagged(streams: list[Any]) -> list[tuple[Any, LogStream]]:
    return [s if isinstance(s, tuple) else (None, s) for s in streams]


def _seq(record: Any, index: int) -> str:
    kin = record.get("kinesis") if isinstance(record, dict) else None
    return str(kin.get("sequenceNumber", index)) if isinstance(kin, dict) else str(index)


def _unique(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    seen: dict[int, DeadLetter] = {}
    for letter in letters:
        seen.setdefault(id(letter), letter)
    return list(seen.values())
