"""Firehose data transformation: CloudWatch Logs documents -> NDJSON events.

Every recordId is answered: data Ok, control messages Dropped, undecodable ProcessingFailed;
the response stays under Firehose's 6 MB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from logstream.sinks import config, transform_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="logstream-firehose-transform")
OWN_GROUP = config.own_log_group()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = transform_response(
        event,
        ignore_log_group=OWN_GROUP,
        on_error=lambda err: logger.warning("record not decodable", extra={"error": str(err)}),
    )
    counts: dict[str, int] = {}
    for rec in response["records"]:
        counts[rec["result"]] = counts.get(rec["result"], 0) + 1
    logger.info("records transformed", extra=counts)
    return response
