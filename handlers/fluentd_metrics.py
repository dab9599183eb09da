"""Subscription target for a fluentd log group: monitor_agent status -> metrics.

Environment: METRICS_OUTPUT (emf|cloudwatch), METRICS_NAMESPACE (default fluentd),
METRICS_DIMENSION (default PluginId).
"""

import os

from aws_lambda_powertools import Logger

from logstream import DeliveryError, iter_log_streams
from logstream.metrics import DEFAULT_FLUENTD_NAMESPACE, fluentd_data
from logstream.parsers.fluentd import iter_statuses
from logstream.sinks import config

logger = Logger(service="logstream-fluentd-metrics")
SINK = config.metrics_sink(DEFAULT_FLUENTD_NAMESPACE)
DIMENSION = os.environ.get("METRICS_DIMENSION", "PluginId")
OWN_GROUP = config.own_log_group()


@logger.inject_lambda_context
def handler(event, context):
    streams = [s for s in iter_log_streams(event) if not s.is_control and s.log_group != OWN_GROUP]
    bad = []
    statuses = list(iter_statuses(streams, on_error=bad.append))
    for err in bad:
        logger.warning("unreadable status line", extra={"error": str(err)})
    result = SINK.send(d for s in statuses for d in fluentd_data(s, DIMENSION))
    if not result.ok:
        codes = sorted({f.error_code for f in result.failed})
        raise DeliveryError(f"{len(result.failed)} metric data not delivered: {codes}", result.failed)
    return {"statuses": len(statuses), "metrics": result.delivered}
