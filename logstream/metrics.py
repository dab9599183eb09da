"""Records -> metric data (:class:`Datum`): what is measured, not how it is sent.

Metric timestamps come from the log events, never from the clock. The wire formats (PutMetricData
requests, Embedded Metric Format documents) and the checks CloudWatch applies to each datum live
in the sinks (``logstream.sinks.cloudwatch``, ``logstream.sinks.emf``).
"""

from __future__ import annotations

import dataclasses

from .parsers.fluentd import PluginStatus
from .parsers.lambda_report import InvocationReport

__all__ = [
    "Datum",
    "Pricing",
    "DEFAULT_LAMBDA_NAMESPACE",
    "DEFAULT_FLUENTD_NAMESPACE",
    "report_data",
    "fluentd_data",
    "estimated_cost",
]

DEFAULT_LAMBDA_NAMESPACE = "Logstream/Lambda"
DEFAULT_FLUENTD_NAMESPACE = "fluentd"

#: Lambda duration price per GB-second, first tier, by architecture (us-east-1 and most
#: commercial regions; https://aws.amazon.com/lambda/pricing/). Other regions: pass your price.
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
#: $0.20 per 1M requests.
PRICE_PER_REQUEST = 0.20 / 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Pricing:
    """How :func:`estimated_cost` prices an invocation.

    ``price_per_gb_second`` overrides the table (other regions, tiers, Savings Plans).
    """

    architecture: str = "x86_64"
    region: str = "us-east-1"
    price_per_gb_second: float | None = None
    price_per_request: float = PRICE_PER_REQUEST

    @property
    def gb_second(self) -> float:
        if self.price_per_gb_second is not None:
            return self.price_per_gb_second
        try:
            return PRICE_PER_GB_SECOND[self.architecture]
        except KeyError:
            raise ValueError(f"unknown architecture {self.architecture!r} (x86_64 or arm64)") from None


@dataclasses.dataclass(frozen=True, slots=True)
class Datum:
    """One metric sample."""

    name: str
    value: float
    unit: str
    timestamp: int  # epoch ms
    dimensions: tuple[tuple[str, str], ...]


def estimated_cost(report: InvocationReport, pricing: Pricing = Pricing()) -> float | None:
    """Billed Duration x memory (GB) x price per GB-second + the request price, in USD.

    Billed Duration already includes the INIT phase (billed since 2025-08-01), so it is never
    Duration + Init. ``None`` when the report lacks billed duration or memory size, or when
    either is negative (a report built by hand: Lambda writes no such line, and the parser
    refuses one), so no cost is ever negative.

    Example
    -------
    >>> r = InvocationReport("id", 100.0, billed_duration_ms=1000, memory_size_mb=1024)
    >>> round(estimated_cost(r), 10)
    1.68667e-05
    """
    billed, memory = report.billed_duration_ms, report.memory_size_mb
    if billed is None or memory is None or billed < 0 or memory < 0:
        return None
    seconds = billed / 1000.0
    return seconds * (memory / 1024.0) * pricing.gb_second + pricing.price_per_request


def report_data(report: InvocationReport, pricing: Pricing = Pricing()) -> list[Datum]:
    """The per-function metrics of one invocation (dimension ``FunctionName``)."""
    name = report.function_name or report.log_group or "unknown"
    dims = (("FunctionName", name),)
    ts = report.timestamp or 0
    out = [
        Datum("Invocations", 1, "Count", ts, dims),
        Datum("Duration", report.duration_ms, "Milliseconds", ts, dims),
        Datum("ColdStart", 1 if report.cold_start else 0, "Count", ts, dims),
        Datum("Timeout", 1 if report.timeout else 0, "Count", ts, dims),
        Datum("OutOfMemory", 1 if report.out_of_memory else 0, "Count", ts, dims),
    ]
    try:  # odd values (a 400-digit memory size) cannot be derived from: no datum
        utilization = report.memory_utilization
    except (OverflowError, ZeroDivisionError, ValueError):
        utilization = None
    try:
        cost = estimated_cost(report, pricing)
    except (OverflowError, ZeroDivisionError, ValueError):
        cost = None
    for metric, value, unit in (
        ("BilledDuration", report.billed_duration_ms, "Milliseconds"),
        ("InitDuration", report.init_duration_ms, "Milliseconds"),
        ("RestoreDuration", report.restore_duration_ms, "Milliseconds"),
        ("MaxMemoryUsed", report.max_memory_used_mb, "Megabytes"),
        ("MemoryUtilization", utilization, "Percent"),
        ("EstimatedCost", cost, "None"),
    ):
        if value is not None:
            out.append(Datum(metric, value, unit, ts, dims))
    return out


def fluentd_data(status: PluginStatus, dimension: str = "PluginId") -> list[Datum]:
    """Every numeric counter of a plugin status (dimension ``PluginId`` by default)."""
    dims = ((dimension, status.plugin_id),)
    ts = status.timestamp or 0
    return [Datum(k, v, _fluentd_unit(k), ts, dims) for k, v in status.numeric.items()]


#: fluentd keys whose name says count but whose value is a time: ``flush_time_count`` is the
#: total time spent flushing, in milliseconds (fluentd 1.6+).
_FLUENTD_MILLISECONDS = frozenset({"flush_time_count"})


def _fluentd_unit(key: str) -> str:
    if key.endswith(("_size", "_byte_size")):
        return "Bytes"
    if key.endswith("ratios"):
        return "Percent"
    if key in _FLUENTD_MILLISECONDS:
        return "Milliseconds"
    return "Count"
