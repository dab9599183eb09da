"""Forward decoded events to Kinesis or Firehose (DESTINATION_ARN names which).

Invoked by a subscription (async): after the sink's retries, anything still failed raises so
Lambda retries and the on-failure destination keeps the event. Invoked by a Kinesis event
source: returns batchItemFailures naming exactly the records that failed.
"""

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from logstream import DeliveryError, iter_log_streams
from logstream.envelopes import payload_streams
from logstream.sinks import config, sink_for_destination

logger = Logger(service="logstream-forward")
SINK = sink_for_destination(os.environ["DESTINATION_ARN"])
OWN_GROUP = config.own_log_group()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def _deliver(streams):
    result = SINK.send(s for s in streams if not s.is_control and s.log_group != OWN_GROUP)
    if not result.ok:
        codes = sorted({f.error_code for f in result.failed})
        raise DeliveryError(f"{len(result.failed)} records not delivered: {codes}", result.failed)
    return result


def _record(record):  # one Kinesis record: an undecodable one fails alone
    _deliver(payload_streams(record.kinesis.data))


@logger.inject_lambda_context
def handler(event, context):
    if "Records" in event:
        return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
    result = _deliver(iter_log_streams(event))
    return {"delivered": result.delivered, "requests": result.requests}
