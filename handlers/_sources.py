"""Event sources shared by the handlers. A Kinesis batch is decoded record by record, acted on
once as a whole, and answered with Powertools' ``batchItemFailures`` naming exactly the failed
records; a subscription event is decoded whole (an undecodable one raises)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from logstream import LogStream, iter_log_streams
from logstream.envelopes import kinesis_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

Event = dict[str, Any]
Tagged = list[tuple[str, LogStream]]
Deliver = Callable[[Tagged], dict[str, BaseException]]


@cache
def _batch() -> tuple[BatchProcessor, Callable[..., Any]]:
    # imported on the first Kinesis batch only: subscription targets never pay for it
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return BatchProcessor(event_type=EventType.KinesisDataStreams), process_partial_response


def is_kinesis_batch(event: Any) -> bool:
    records: Any = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(isinstance(r, dict) and "kinesis" in r for r in records)


def handle(event: Event, context: LambdaContext, deliver: Deliver, own_group: str | None) -> Any:
    """``deliver([(sequenceNumber, LogStream), ...])`` returns ``{sequenceNumber: error}`` for what
    it could not deliver (or raises, failing the whole batch)."""
    streams, failures = kinesis_batch(event["Records"], ignore_log_group=own_group)
    failed: dict[str, BaseException] = {**failures, **deliver(streams)}

    def check(record: KinesisStreamRecord) -> None:
        err = failed.get(record.kinesis.sequence_number)
        if err is not None:
            raise err

    processor, process_partial_response = _batch()
    return process_partial_response(event=event, record_handler=check, processor=processor, context=context)


def subscription_streams(event: Event, own_group: str | None) -> Iterator[LogStream]:
    """The data messages of a subscription event, never our own log group's (log recursion)."""
    return (s for s in iter_log_streams(event) if not s.is_control and s.log_group != own_group)


def dispatch_metrics(
    event: Event, context: LambdaContext, send: Callable[[Iterable[LogStream]], Any], own_group: str | None
) -> Any:
    """``send(streams)`` for a metrics handler. Metrics are aggregated across a Kinesis batch, so
    a delivery failure (``send`` raising) fails the whole batch; undecodable records fail alone."""
    if is_kinesis_batch(event):

        def deliver(tagged: Tagged) -> dict[str, BaseException]:
            send(s for _, s in tagged)  # raises when undelivered
            return {}

        return handle(event, context, deliver, own_group)
    return send(subscription_streams(event, own_group))
