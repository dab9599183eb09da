"""Firehose data transformation: CloudWatch Logs documents -> NDJSON events.

Every recordId is answered: data Ok, control messages and the deployment's log groups Dropped,
undecodable ProcessingFailed (kept in Firehose's error output). What does not fit in the 6 MB
response is re-ingested into the delivery stream (handlers/_transform.py), never failed for size.

Configuration: handlers/_config.py (SKIP_LOG_GROUPS).
"""

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._transform import transform_response
from logstream.sinks import Deadline, FirehoseSink, KinesisSink

CONFIG = Config.load()  # a bad variable is an init error, not a failure of every invocation
logger = Logger(service="logstream-firehose-transform")


@cache
def _sink(arn: str) -> KinesisSink:  # one sink (and client) per delivery stream or source stream
    _, _, service, region, _, name = arn.split(":", 5)
    return (FirehoseSink if service == "firehose" else KinesisSink)(name.split("/", 1)[1], region=region)


def reingest_sink(event: dict[str, Any]) -> KinesisSink:
    """PutRecordBatch back into the delivery stream; PutRecords to its source stream if it has one."""
    return _sink(event.get("sourceKinesisStreamArn") or event["deliveryStreamArn"])


def build(
    config: Config = CONFIG,
    *,
    reingest: Callable[[dict[str, Any]], Any] = reingest_sink,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler; ``reingest(event)`` returns the sink that takes records back (tests inject it)."""

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response, counts = transform_response(
            event,
            skip_log_groups=config.skip_log_groups,
            reingest=reingest,
            deadline=Deadline.from_context(context, clock=clock),
            on_error=lambda err: logger.error(f"record not decodable: {err}", extra={"step": err.step}),
        )
        if counts.get("reingestFailed"):
            logger.error("records could not be re-ingested: answered ProcessingFailed", extra=counts)
        logger.info("records transformed", extra=counts)
        return response

    return handler


handler = build()
