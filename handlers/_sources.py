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

import time
from collections.abc import Callable, Iterable
from typing import Any

from handlers._config import Config
from logstream import DecodeError, DeliveryError, LogStream, iter_log_streams
from logstream.envelopes import kinesis_batch
from logstream.sinks import DeadLetter, Deadline, DeliveryResult
from logstream.sinks.base import RECORD_TOO_LARGE
from logstream.sinks.sqs import dead_letter_messages

DEFAULT: Any = object()  # "build it from the configuration"
_LOG_PART_BYTES = 200_000  # a log line stays under CloudWatch Logs' event size


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
    and the log lines that say what happened."""

    def __init__(
        self,
        config: Config,
        logger: Any,
        *,
        dead_letters: Any = DEFAULT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.skip = config.skip_log_groups
        self.logger = logger
        self.dead_letters = config.dead_letter_sink() if dead_letters is DEFAULT else dead_letters
        self.clock = clock

    def deadline(self, context: Any) -> Deadline:
        return Deadline.from_context(context, clock=self.clock)

    def wanted(self, stream: LogStream) -> bool:
        """Data from a log group that is not one of the deployment's handlers (no log loops)."""
        return not stream.is_control and stream.log_group not in self.skip

    # ---------------------------------------------------------------------------- decoding
    def kinesis(self, records: list[Any]) -> tuple[list[tuple[str, LogStream]], list[DeadLetter]]:
        """``(sequenceNumber, LogStream)`` pairs to act on, and a dead letter per undecodable record."""
        streams, failures = kinesis_batch(records)
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
        """The data messages of a subscription event, or a dead letter when it cannot be decoded."""
        try:
            return [s for s in iter_log_streams(event) if self.wanted(s)], []
        except DecodeError as err:
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
        deadline = rt.deadline(context)
        kinesis = is_kinesis_batch(event)
        if kinesis:
            tagged, letters = rt.kinesis(event["Records"])
            streams = [s for _, s in tagged]
        else:
            streams, letters = rt.subscription(event)
        rt.dead_letter(letters, deadline)
        data, counts = self.metric_data(streams)
        result = self.sink.send(data, deadline)
        rt.log_failures(result, self.sink, "metric data")
        rt.logger.info(
            "metrics sent", extra={**counts, "metrics": result.delivered, "requests": result.requests}
        )
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

    def __init__(self, runtime: Runtime, sink: Any) -> None:
        self.runtime = runtime
        self.sink = sink

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
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
        """Send; an event that can never fit a record is dead-lettered with its data, not reported."""
        result: DeliveryResult = self.sink.send(streams, deadline)
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
        self.runtime.log_failures(result, self.sink, "records")
        self.runtime.logger.info(
            "records forwarded",
            extra={"delivered": result.delivered, "failed": len(result.failed), "requests": result.requests},
        )
        return result


def _seq(record: Any, index: int) -> str:
    kin = record.get("kinesis") if isinstance(record, dict) else None
    return str(kin.get("sequenceNumber", index)) if isinstance(kin, dict) else str(index)


def _unique(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    seen: dict[int, DeadLetter] = {}
    for letter in letters:
        seen.setdefault(id(letter), letter)
    return list(seen.values())
