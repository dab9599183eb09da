"""Subscription target for a fluentd log group, or Kinesis consumer: monitor_agent status ->
metrics (namespace fluentd, dimension PluginId by default).

Configuration: handlers/_config.py (METRICS_OUTPUT, METRICS_NAMESPACE default fluentd,
METRICS_DIMENSION default PluginId, DEAD_LETTER_QUEUE_URL, SKIP_LOG_GROUPS).
"""

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._sources import DEFAULT, MetricsHandler, Runtime, UnitData, with_lambda_context
from logstream import LogStream, ParseError
from logstream.metrics import DEFAULT_FLUENTD_NAMESPACE, Datum, fluentd_data
from logstream.parsers.fluentd import iter_statuses
from logstream.parsers.lambda_report import EventKey, event_key

CONFIG = Config.load()  # a bad variable is an init error, not a failure of every invocation
logger = Logger(service="logstream-fluentd-metrics")


def build(
    config: Config = CONFIG,
    *,
    sink: Any = None,
    dead_letters: Any = DEFAULT,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler, with its sinks built from ``config`` unless given (tests inject them)."""

    def unreadable(err: ParseError) -> None:
        logger.warning("unreadable status line", extra={"error": str(err)})

    def unit_data(u: int, streams: list[LogStream]) -> tuple[list[Datum], int]:
        statuses = list(iter_statuses(streams, on_error=unreadable))
        return [d for s in statuses for d in fluentd_data(s, config.metrics_dimension)], len(statuses)

    def metric_data(batch: list[list[LogStream]]) -> UnitData:
        counted = _counted_before(batch) if len(batch) > 1 else None
        if not counted:
            return unit_data  # each unit's statuses stand alone

        def across_unit_data(u: int, streams: list[LogStream]) -> tuple[list[Datum], int]:
            # a status event an earlier unit holds too is counted there (units run in order)
            statuses = list(iter_statuses(streams, on_error=unreadable, seen=set(counted.get(u, ()))))
            return [d for s in statuses for d in fluentd_data(s, config.metrics_dimension)], len(statuses)

        return across_unit_data

    app = MetricsHandler(
        Runtime(config, logger, dead_letters=dead_letters, clock=clock),
        sink or config.metrics_sink(DEFAULT_FLUENTD_NAMESPACE),
        metric_data,
        "statuses",
    )

    return with_lambda_context(logger, app)


def _counted_before(batch: list[list[LogStream]]) -> dict[int, set[EventKey]]:
    """By unit, the keys of its events that may be status and that an earlier unit holds too
    (the same event delivered twice: a Kinesis record written twice, two subscription filters
    into one stream), so the event is counted once, in the first unit."""
    first: dict[EventKey, int] = {}
    counted: dict[int, set[EventKey]] = {}
    for u, streams in enumerate(batch):
        for stream in streams:
            for event in stream.log_events:
                if "plugin_id" in event.message:  # every status names its plugin
                    key = event_key(stream, event)
                    if key is not None and first.setdefault(key, u) != u:
                        counted.setdefault(u, set()).add(key)
    return counted


handler = build()
