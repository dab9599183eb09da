"""Subscription target for a fluentd log group: monitor_agent status -> metrics.

Environment: METRICS_OUTPUT (emf|cloudwatch), METRICS_NAMESPACE (default fluentd),
METRICS_DIMENSION (default PluginId). Also consumes a Kinesis event source: undecodable
records come back in batchItemFailures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from handlers import _sources
from logstream import LogStream
from logstream.metrics import DEFAULT_FLUENTD_NAMESPACE, fluentd_data
from logstream.parsers.fluentd import iter_statuses
from logstream.sinks import config

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="logstream-fluentd-metrics")
SINK = config.metrics_sink(DEFAULT_FLUENTD_NAMESPACE)
DIMENSION = os.environ.get("METRICS_DIMENSION", "PluginId")
OWN_GROUP = config.own_log_group()


def _send(streams: Iterable[LogStream]) -> dict[str, int]:
    # raises when data is still undelivered: Lambda retries, then OnFailure
    statuses = list(
        iter_statuses(
            streams, on_error=lambda err: logger.warning("unreadable status line", extra={"error": str(err)})
        )
    )
    result = SINK.send(d for s in statuses for d in fluentd_data(s, DIMENSION)).raise_if_failed("metric data")
    return {"statuses": len(statuses), "metrics": result.delivered}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return _sources.dispatch_metrics(event, context, _send, OWN_GROUP)
