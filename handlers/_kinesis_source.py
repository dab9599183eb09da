"""Kinesis event source, shared by the handlers: decode record by record, act on the whole
batch once, answer with Powertools' ``batchItemFailures`` naming exactly the failed records."""

from functools import cache

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
    failures.update(deliver(streams) or {})

    def check(record):
        err = failures.get(record.kinesis.sequence_number)
        if err is not None:
            raise err

    processor, process_partial_response = _batch()
    return process_partial_response(event=event, record_handler=check, processor=processor, context=context)
