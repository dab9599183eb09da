"""Subscription target for /aws/lambda/* groups: REPORT and platform.report -> metrics.

Environment: METRICS_OUTPUT (emf|cloudwatch), METRICS_NAMESPACE (default Logstream/Lambda),
LAMBDA_ARCHITECTURE, LAMBDA_PRICE_PER_GB_SECOND.
"""

from aws_lambda_powertools import Logger

from logstream import DeliveryError, iter_log_streams
from logstream.metrics import DEFAULT_LAMBDA_NAMESPACE, report_data
from logstream.parsers.lambda_report import iter_reports
from logstream.sinks import config

logger = Logger(service="logstream-lambda-metrics")
SINK = config.metrics_sink(DEFAULT_LAMBDA_NAMESPACE)
PRICING = config.pricing()
OWN_GROUP = config.own_log_group()


@logger.inject_lambda_context
def handler(event, context):
    streams = [s for s in iter_log_streams(event) if not s.is_control and s.log_group != OWN_GROUP]
    reports = list(iter_reports(streams))
    result = SINK.send(d for r in reports for d in report_data(r, PRICING))
    logger.info("reports processed", extra={"reports": len(reports), "requests": result.requests})
    if not result.ok:  # raise: Lambda retries, then the on-failure destination keeps the event
        codes = sorted({f.error_code for f in result.failed})
        raise DeliveryError(f"{len(result.failed)} metric data not delivered: {codes}", result.failed)
    return {"reports": len(reports), "metrics": result.delivered}
