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
from logstream import LogStream
from logstream.metrics import DEFAULT_LAMBDA_NAMESPACE, Datum, report_data
from logstream.parsers.lambda_report import (
    EventKey,
    event_key,
    iter_reports,
    may_be_report,
    parse_killed,
    parse_timeout,
    report_marks,
)

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
        if len(batch) < 2:
            return unit_data
        marked, counted = _across_units(batch)
        marks = _batch_marks(batch) if marked else None
        if marks is None and not counted:
            return unit_data

        def across_unit_data(u: int, streams: list[LogStream]) -> tuple[list[Datum], int]:
            # events an earlier unit holds too are counted there (units are processed in order);
            # Task timed out / signal: killed lines mark reports across the whole batch
            reports = list(iter_reports(streams, seen=set(counted.get(u, ())), marks=marks))
            return [d for r in reports for d in report_data(r, pricing)], len(reports)

        return across_unit_data

    app = MetricsHandler(
        Runtime(config, logger, dead_letters=dead_letters, clock=clock),
        sink or config.metrics_sink(DEFAULT_LAMBDA_NAMESPACE),
        metric_data,
        "reports",
    )

    return with_lambda_context(logger, app)


def _batch_marks(batch: list[list[LogStream]]) -> dict[EventKey, tuple[bool, bool]]:
    """``report_marks`` of the whole batch; a unit that cannot be read is left out (it raises
    again when it is processed, and is dead-lettered then)."""
    try:
        return report_marks(s for streams in batch for s in streams)
    except Exception:  # noqa: BLE001 - find the unit that raises, below
        pass
    readable: list[LogStream] = []
    for streams in batch:
        try:
            report_marks(streams)
        except Exception:  # noqa: BLE001, S112 - its own processing raises it again, and says so
            continue
        readable.extend(streams)
    return report_marks(readable)


def _across_units(batch: list[list[LogStream]]) -> tuple[bool, dict[int, set[EventKey]]]:
    """What a unit needs from the others, each unit being processed on its own:

    - whether the batch has a ``Task timed out`` or ``signal: killed`` line: such a line marks
      a report anywhere in the batch (``report_marks``), as ``iter_reports`` marks it within one;
    - by unit, the keys of its report events that an earlier unit holds too (the same event
      delivered twice: a Kinesis record written twice, two subscription filters into one
      stream), so the event is counted once, in the first unit.

    A unit whose lines cannot be read here raises again when it is processed, and is
    dead-lettered then."""
    marked = False
    first: dict[EventKey, int] = {}
    counted: dict[int, set[EventKey]] = {}
    for u, streams in enumerate(batch):
        try:
            for stream in streams:
                for event in stream.log_events:
                    msg = event.message
                    if may_be_report(msg):
                        key = event_key(stream, event)
                        if key is not None and first.setdefault(key, u) != u:
                            counted.setdefault(u, set()).add(key)
                    elif not marked and ("Task timed out" in msg or "signal: killed" in msg):
                        marked = parse_timeout(msg) is not None or parse_killed(msg) is not None
        except Exception:  # noqa: BLE001, S112 - its own processing raises it again, and says so
            continue
    return marked, counted


handler = build()
