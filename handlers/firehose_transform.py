"""Firehose data transformation: CloudWatch Logs documents -> NDJSON events.

Every recordId is answered: data Ok, control messages and the deployment's log groups Dropped,
undecodable records, records whose processing raised or was interrupted at the time limit and
records not processed before the deadline ProcessingFailed with their data (kept in Firehose's
error output). What does not fit in the 6 MB response is re-ingested into the delivery stream
(handlers/_transform.py), never failed for size. A record re-ingested only in part is answered
Dropped once its pieces that did not go in are in the dead-letter queue (DEAD_LETTER_QUEUE_URL),
else ProcessingFailed.

Configuration: handlers/_config.py (SKIP_LOG_GROUPS, SELF_METRICS, DEAD_LETTER_QUEUE_URL, the
pipeline's variables: PARSE_MESSAGES ... TAGS).
"""

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._pace import Pace, TimeLimit
from handlers._selfmetrics import SelfMetrics, Tally
from handlers._sources import DEFAULT, with_lambda_context
from handlers._transform import transform_response
from logstream.process import Pipeline
from logstream.sinks import Deadline, FirehoseSink, KinesisSink
from logstream.sinks.base import DEADLINE_EXCEEDED

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
    self_metrics: SelfMetrics | None = None,
    dead_letters: Any = DEFAULT,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler; ``reingest(event)`` returns the sink that takes records back, ``dead_letters``
    the pieces of a record re-ingested only in part (tests inject them)."""
    pipeline = Pipeline(config.pipeline)
    letters = config.dead_letter_sink() if dead_letters is DEFAULT else dead_letters
    metrics = self_metrics or SelfMetrics(config.self_metrics, config.function_name)

    def raised(index: int, record_id: str, exc: BaseException) -> None:
        limit = isinstance(exc, TimeLimit)
        what = f"time limit: {exc}" if limit else f"processing raised {type(exc).__name__}: {exc}"[:1000]
        logger.exception(
            f"record {index + 1} (recordId {record_id}): {what}; answered ProcessingFailed with "
            "its data (Firehose's error output keeps it), the other records go on",
            exc_info=exc,
            extra={"step": "time limit" if limit else "process", "recordId": record_id},
        )

    def late(index: int, count: int, pace: Pace) -> None:
        logger.warning(
            f"records {index + 1}-{index + count} ({count}) not processed before the deadline "
            f"(slowest took {pace.slowest:.3f} s, {max(0.0, pace.left()):.3f} s left for processing): "
            f"answered ProcessingFailed ({DEADLINE_EXCEEDED})",
            extra={"notProcessed": count, "slowestSeconds": round(pace.slowest, 3)},
        )

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        tally = Tally()
        try:
            response, counts = transform_response(
                event,
                skip_log_groups=config.skip_log_groups,
                reingest=reingest,
                deadline=Deadline.from_context(context, clock=clock),
                on_error=lambda err: logger.error(f"record not decodable: {err}", extra={"step": err.step}),
                pipeline=pipeline,
                tally=tally,
                on_raise=raised,
                on_late=late,
                dead_letters=letters,
            )
        finally:
            metrics.emit(tally, context)
        if counts.get("reingestFailed"):
            logger.error("records could not be re-ingested: answered ProcessingFailed", extra=counts)
        if counts.get("reingestedInPart"):
            logger.error(
                f"{counts['reingestedInPart']} of them were re-ingested in part and no dead-letter queue "
                "took the rest: Firehose's error output keeps them whole, so a replay of it sends the "
                "events that did go back in a second time",
                extra=counts,
            )
        if counts.get("deadLettered"):
            logger.error(
                f"{counts['deadLettered']} records were re-ingested in part: the events that did not go "
                f"back in are in {letters.destination} (answered Dropped)",
                extra=counts,
            )
        logger.info("records transformed", extra=counts)
        return response

    return with_lambda_context(logger, handler)


handler = build()
