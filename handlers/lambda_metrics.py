"""Subscription target for /aws/lambda/* groups: REPORT and platform.report -> metrics.

Environment: METRICS_OUTPUT (emf|cloudwatch), METRICS_NAMESPACE (default Logstream/Lambda),
LAMBDA_ARCHITECTURE, LAMBDA_PRICE_PER_GB_SECOND. Also consumes a Kinesis event source
(account-level subscription): undecodable records come back in batchItemFailures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from handlers import _sources
from logstream import LogStream
from logstream.metrics import DEFAULT_LAMBDA_NAMESPACE, report_data
from logstream.parsers.lambda_report import iter_reports
from logstream.sinks import config

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="logstream-lambda-metrics")
SINK = config.metrics_sink(DEFAULT_LAMBDA_NAMESPACE)
PRICING = config.pricing()
OWN_GROUP = config.own_log_group()


def _send(streams: Iterable[LogStream]) -> dict[str, int]:
    # raises when data is still undelivered: Lambda retries, then OnFailure
    reports = list(iter_reports(streams))
    result = SINK.send(d for r in reports for d in report_data(r, PRICING))
    logger.info("reports processed", extra={"reports": len(reports), "requests": result.requests})
    result.raise_if_failed("metric data")
    return {"reports": len(reports), "metrics": result.delivered}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return _sources.dispatch_metrics(event, context, _send, OWN_GROUP)
