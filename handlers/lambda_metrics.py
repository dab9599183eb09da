"""Subscription target for /aws/lambda/* groups, or Kinesis consumer: REPORT and
platform.report -> per-function metrics (EMF on stdout, or PutMetricData with EMF fallback).

Configuration: handlers/_config.py (METRICS_OUTPUT, METRICS_NAMESPACE default Logstream/Lambda,
LAMBDA_ARCHITECTURE, LAMBDA_PRICE_PER_GB_SECOND, DEAD_LETTER_QUEUE_URL, SKIP_LOG_GROUPS).
"""

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._sources import DEFAULT, MetricsHandler, Runtime, with_lambda_context
from logstream import LogStream
from logstream.metrics import DEFAULT_LAMBDA_NAMESPACE, Datum, report_data
from logstream.parsers.lambda_report import iter_reports

CONFIG = Config.load()  # a bad variable is an init error, not a failure of every invocation
logger = Logger(service="logstream-lambda-metrics")


def build(
    config: Config = CONFIG,
    *,
    sink: Any = None,
    dead_letters: Any = DEFAULT,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler, with its sinks built from ``config`` unless given (tests inject them)."""
    pricing = config.pricing()

    def metric_data(streams: list[LogStream]) -> tuple[list[Datum], dict[str, int]]:
        reports = list(iter_reports(streams))
        return [d for r in reports for d in report_data(r, pricing)], {"reports": len(reports)}

    app = MetricsHandler(
        Runtime(config, logger, dead_letters=dead_letters, clock=clock),
        sink or config.metrics_sink(DEFAULT_LAMBDA_NAMESPACE),
        metric_data,
    )

    return with_lambda_context(logger, app)


handler = build()
