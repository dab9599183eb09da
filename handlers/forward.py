"""Forward decoded events to Kinesis or Firehose (DESTINATION_ARN names which).

Invoked by a subscription (async): after the sink's retries, anything still failed raises so
Lambda retries and the on-failure destination keeps the event. Invoked by a Kinesis event
source: the whole batch goes out in as few requests as the limits allow, and batchItemFailures
names exactly the records that failed (undecodable, or not delivered after the retries).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from handlers import _sources
from logstream import DeliveryError, LogStream
from logstream.sinks import config, sink_for_destination

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="logstream-forward")
SINK = sink_for_destination(os.environ["DESTINATION_ARN"])
OWN_GROUP = config.own_log_group()


def _deliver_batch(tagged: list[tuple[str, LogStream]]) -> dict[str, BaseException]:
    # [(sequenceNumber, LogStream)] -> {sequenceNumber: error}
    result = SINK.send(tagged)
    logger.info("batch forwarded", extra={"delivered": result.delivered, "failed": len(result.failed)})
    return {f.entry.tag: DeliveryError(f"{f.error_code}: {f.error_message}", [f]) for f in result.failed}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if _sources.is_kinesis_batch(event):
        return _sources.handle(event, context, _deliver_batch, OWN_GROUP)
    result = SINK.send(_sources.subscription_streams(event, OWN_GROUP)).raise_if_failed("records")
    return {"delivered": result.delivered, "requests": result.requests}
