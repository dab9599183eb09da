"""Records -> metric data -> PutMetricData requests or Embedded Metric Format documents.

Metric timestamps come from the log events, never from the clock. PutMetricData requests
aggregate samples per metric, dimensions and minute into ``Values``/``Counts`` (exact values,
so percentiles stay exact); EMF documents keep every sample in value arrays.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from . import limits
from .parsers.fluentd import PluginStatus
from .parsers.lambda_report import InvocationReport

__all__ = [
    "Datum",
    "Pricing",
    "DEFAULT_LAMBDA_NAMESPACE",
    "DEFAULT_FLUENTD_NAMESPACE",
    "report_data",
    "fluentd_data",
    "put_metric_data_requests",
    "emf_documents",
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
    Duration + Init. ``None`` when the report lacks billed duration or memory size.

    Example
    -------
    >>> r = InvocationReport("id", 100.0, billed_duration_ms=1000, memory_size_mb=1024)
    >>> round(estimated_cost(r), 10)
    1.68667e-05
    """
    if report.billed_duration_ms is None or report.memory_size_mb is None:
        return None
    seconds = report.billed_duration_ms / 1000.0
    return seconds * (report.memory_size_mb / 1024.0) * pricing.gb_second + pricing.price_per_request


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
    for metric, value, unit in (
        ("BilledDuration", report.billed_duration_ms, "Milliseconds"),
        ("InitDuration", report.init_duration_ms, "Milliseconds"),
        ("RestoreDuration", report.restore_duration_ms, "Milliseconds"),
        ("MaxMemoryUsed", report.max_memory_used_mb, "Megabytes"),
        ("MemoryUtilization", report.memory_utilization, "Percent"),
        ("EstimatedCost", estimated_cost(report, pricing), "None"),
    ):
        if value is not None:
            out.append(Datum(metric, value, unit, ts, dims))
    return out


def fluentd_data(status: PluginStatus, dimension: str = "PluginId") -> list[Datum]:
    """Every numeric counter of a plugin status (dimension ``PluginId`` by default)."""
    dims = ((dimension, status.plugin_id),)
    ts = status.timestamp or 0
    return [Datum(k, v, _fluentd_unit(k), ts, dims) for k, v in status.numeric.items()]


def _fluentd_unit(key: str) -> str:
    if key.endswith(("_size", "_byte_size")):
        return "Bytes"
    if key.endswith("ratios"):
        return "Percent"
    return "Count"


# ------------------------------------------------------------------------------ aggregation
def _minute(ts_ms: int) -> int:
    return ts_ms - ts_ms % 60_000


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _groups(data: Iterable[Datum]) -> dict[tuple[Any, ...], list[float]]:
    groups: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for d in data:
        groups[(d.name, d.dimensions, d.unit, _minute(d.timestamp))].append(d.value)
    return groups


def _metric_datums(data: Iterable[Datum]) -> Iterator[dict[str, Any]]:
    for (name, dims, unit, minute), values in _groups(data).items():
        counted = sorted(Counter(values).items())
        step = limits.PUT_METRIC_DATA_MAX_VALUES
        for i in range(0, len(counted), step):
            chunk = counted[i : i + step]
            yield {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                "Timestamp": _iso(minute),
                "Values": [float(v) for v, _ in chunk],
                "Counts": [float(c) for _, c in chunk],
                "Unit": unit,
            }


_enc = msgspec.json.Encoder()


def _datum_bytes(datum: dict[str, Any]) -> int:
    """Upper estimate of a datum's size on the wire, whatever the protocol botocore picks
    (query encoding repeats ``MetricData.member.N.Values.member.M=`` for every value)."""
    fields = 6 + 2 * len(datum["Dimensions"]) + 2 * len(datum["Values"])
    return len(_enc.encode(datum)) + 48 * fields


def put_metric_data_requests(namespace: str, data: Iterable[Datum]) -> list[dict[str, Any]]:
    """PutMetricData parameters (``Namespace``, ``MetricData``), cut at 1000 datums and 1 MB.

    Example
    -------
    >>> d = [Datum("Duration", v, "Milliseconds", 0, (("FunctionName", "f"),)) for v in (1, 2, 2)]
    >>> req, = put_metric_data_requests("ns", d)
    >>> req["MetricData"][0]["Values"], req["MetricData"][0]["Counts"]
    ([1.0, 2.0], [1.0, 2.0])
    """
    requests: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    budget = limits.PUT_METRIC_DATA_MAX_BYTES - 200 - len(namespace)
    for datum in _metric_datums(data):
        n = _datum_bytes(datum)
        if batch and (len(batch) >= limits.PUT_METRIC_DATA_MAX_DATUMS or size + n > budget):
            requests.append({"Namespace": namespace, "MetricData": batch})
            batch, size = [], 0
        batch.append(datum)
        size += n
    if batch:
        requests.append({"Namespace": namespace, "MetricData": batch})
    return requests


def emf_documents(namespace: str, data: Iterable[Datum]) -> list[dict[str, Any]]:
    """Embedded Metric Format documents keeping every sample: one timestamp per document,
    at most 100 metrics per document and 100 values per metric array."""
    by_dims: dict[tuple[Any, ...], dict[tuple[str, str], list[float]]] = defaultdict(dict)
    for (name, dims, unit, minute), values in _groups(data).items():
        by_dims[(dims, minute)][(name, unit)] = values
    docs: list[dict[str, Any]] = []
    for (dims, minute), metrics in by_dims.items():
        names = list(metrics)
        for m0 in range(0, len(names), limits.EMF_MAX_METRICS):
            chunk = names[m0 : m0 + limits.EMF_MAX_METRICS]
            longest = max(len(metrics[k]) for k in chunk)
            for v0 in range(0, longest, limits.EMF_MAX_VALUES):
                present = [k for k in chunk if len(metrics[k]) > v0]
                doc: dict[str, Any] = {
                    "_aws": {
                        "Timestamp": minute,
                        "CloudWatchMetrics": [
                            {
                                "Namespace": namespace,
                                "Dimensions": [[k for k, _ in dims]],
                                "Metrics": [{"Name": n, "Unit": u} for n, u in present],
                            }
                        ],
                    }
                }
                for k, v in dims:
                    doc[k] = v
                for name, unit in present:
                    vals = metrics[(name, unit)][v0 : v0 + limits.EMF_MAX_VALUES]
                    doc[name] = vals if len(vals) > 1 else vals[0]
                docs.append(doc)
    return docs
