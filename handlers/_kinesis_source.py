"""Kinesis event source, shared by the handlers: decode record by record, act on the whole
batch once, answer with Powertools' ``batchItemFailures`` naming exactly the failed records."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from logstream.envelopes import kinesis_batch

_processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


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

    return process_partial_response(event=event, record_handler=check, processor=_processor, context=context)
