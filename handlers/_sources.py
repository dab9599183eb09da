"""Event sources shared by the handlers. A Kinesis batch is decoded record by record, acted on
once as a whole, and answered with Powertools' ``batchItemFailures`` naming exactly the failed
records; a subscription event is decoded whole (an undecodable one raises)."""

from functools import cache

from logstream import iter_log_streams
from logstream.envelopes import kinesis_batch


@cache
def _batch():  # imported on the first Kinesis batch only: subscription targets never pay for it
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return BatchProcessor(event_type=EventType.KinesisDataStreams), process_partial_response


def is_kinesis_batch(event) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(isinstance(r, dict) and "kinesis" in r for r in records)


def handle(event, context, deliver, own_group):
    """``deliver([(sequenceNumber, LogStream), ...])`` returns ``{sequenceNumber: error}`` for what
    it could not deliver (or raises, failing the whole batch)."""
    streams, failures = kinesis_batch(event["Records"], ignore_log_group=own_group)
    failures.update(deliver(streams))

    def check(record):
        err = failures.get(record.kinesis.sequence_number)
        if err is not None:
            raise err

    processor, process_partial_response = _batch()
    return process_partial_response(event=event, record_handler=check, processor=processor, context=context)


def subscription_streams(event, own_group):
    """The data messages of a subscription event, never our own log group's (log recursion)."""
    return (s for s in iter_log_streams(event) if not s.is_control and s.log_group != own_group)


def dispatch_metrics(event, context, send, own_group):
    """``send(streams)`` for a metrics handler. Metrics are aggregated across a Kinesis batch, so
    a delivery failure (``send`` raising) fails the whole batch; undecodable records fail alone."""
    if is_kinesis_batch(event):

        def deliver(tagged):
            send(s for _, s in tagged)  # raises when undelivered
            return {}

        return handle(event, context, deliver, own_group)
    return send(subscription_streams(event, own_group))
