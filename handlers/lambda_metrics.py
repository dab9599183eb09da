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
from handlers._sources import DEFAULT, MetricsHandler, Runtime, UnitData, with_lambda_context
from logstream import LogEvent, LogStream, MessageType
from logstream.metrics import DEFAULT_LAMBDA_NAMESPACE, Datum, report_data
from logstream.parsers.lambda_report import iter_reports, parse_killed, parse_timeout

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

    def unit_data(u: int, streams: list[LogStream]) -> tuple[list[Datum], int]:
        reports = list(iter_reports(streams))
        return [d for r in reports for d in report_data(r, pricing)], len(reports)

    def metric_data(batch: list[list[LogStream]]) -> UnitData:
        elsewhere = _timeout_lines(batch) if len(batch) > 1 else None
        if not elsewhere:
            return unit_data

        def marked_unit_data(u: int, streams: list[LogStream]) -> tuple[list[Datum], int]:
            reports = list(iter_reports(streams))
            # a Task timed out / signal: killed line for one of these reports in another unit
            extra = [e for r in reports for k, e in elsewhere.get(r.request_id, ()) if k != u]
            if extra:
                reports = list(iter_reports([*streams, _lines_stream(extra)]))
            return [d for r in reports for d in report_data(r, pricing)], len(reports)

        return marked_unit_data

    app = MetricsHandler(
        Runtime(config, logger, dead_letters=dead_letters, clock=clock),
        sink or config.metrics_sink(DEFAULT_LAMBDA_NAMESPACE),
        metric_data,
        "reports",
    )

    return with_lambda_context(logger, app)


def _timeout_lines(batch: list[list[LogStream]]) -> dict[str, list[tuple[int, LogEvent]]]:
    """The ``Task timed out`` and ``signal: killed`` lines of the batch by request id, with the
    unit each is in: a report is marked by such a line anywhere in the batch (``iter_reports``),
    and each unit is processed on its own. A unit whose lines cannot be read here raises again
    when it is processed, and is dead-lettered then."""
    found: dict[str, list[tuple[int, LogEvent]]] = {}
    for u, streams in enumerate(batch):
        try:
            for stream in streams:
                for event in stream.log_events:
                    msg = event.message
                    if "Task timed out" in msg:
                        rid = parse_timeout(msg)
                    elif "signal: killed" in msg:
                        rid = parse_killed(msg)
                    else:
                        continue
                    if rid is not None:
                        found.setdefault(rid, []).append((u, event))
        except Exception:  # noqa: BLE001, S112 - its own processing raises it again, and says so
            continue
    return found


def _lines_stream(events: list[LogEvent]) -> LogStream:
    """A stream holding only these lines (they make no report: they mark reports)."""
    return LogStream(MessageType.DATA_MESSAGE, "", "", "", (), tuple(events))


handler = build()
