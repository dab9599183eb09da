"""Metric data as the metric sinks take it, and the checks CloudWatch applies to each datum.

A sink takes any object with ``name``, ``value``, ``unit``, ``timestamp`` (epoch ms) and
``dimensions`` (``((name, value), ...)``), such as :class:`logstream.metrics.Datum`. Each datum
is checked on its own before it is sent: one odd value is dropped and counted, never the
request it would have been part of.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, Protocol

from .. import limits

__all__ = ["MetricDatum", "Sample", "problem", "valid_data", "minute", "groups"]


class MetricDatum(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def dimensions(self) -> tuple[tuple[str, str], ...]: ...


class Sample(NamedTuple):
    """One metric sample (what a failed PutMetricData request is expanded back into)."""

    name: str
    value: float
    unit: str
    timestamp: int
    dimensions: tuple[tuple[str, str], ...]


_MIN = 2.0**-360  # the other end of CloudWatch's range (2e-360)


def problem(datum: Any, now_ms: int) -> str | None:
    """Why CloudWatch would refuse ``datum`` (PutMetricData, or EMF extraction), else ``None``.

    Example
    -------
    >>> d = Sample("Duration", float("nan"), "Milliseconds", 0, (("FunctionName", "f"),))
    >>> problem(d, 0), problem(d._replace(value=1.0), 0), problem(d._replace(value=1.0), 30 * 86_400_000)
    ('value not finite', None, 'timestamp outside the accepted window')
    """
    value = datum.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "value not a number"
    try:
        value = float(value)
    except OverflowError:
        return "value out of range"
    if not math.isfinite(value):
        return "value not finite"
    if abs(value) > limits.PUT_METRIC_DATA_VALUE_MAX or 0 < abs(value) < _MIN:
        return "value out of range"
    ts = datum.timestamp
    if not isinstance(ts, int) or not (
        now_ms - limits.PUT_METRIC_DATA_MAX_AGE_S * 1000 + 60_000  # floored to its minute later
        <= ts
        <= now_ms + limits.PUT_METRIC_DATA_MAX_FUTURE_S * 1000
    ):
        return "timestamp outside the accepted window"
    if not isinstance(datum.name, str) or not 0 < len(datum.name) <= limits.METRIC_NAME_MAX_CHARS:
        return "metric name empty or too long"
    dims = datum.dimensions
    if len(dims) > limits.PUT_METRIC_DATA_MAX_DIMENSIONS:
        return "too many dimensions"
    for key, val in dims:
        if not isinstance(key, str) or not 0 < len(key) <= limits.DIMENSION_NAME_MAX_CHARS or key == "_aws":
            return "dimension name empty, too long or reserved"
        if (
            not isinstance(val, str)
            or not val.strip()
            or len(val) > limits.DIMENSION_VALUE_MAX_CHARS
            or not val.isascii()
        ):
            return "dimension value empty, too long or not ASCII"
    return None


def valid_data(data: Iterable[Any], now_ms: int, dropped: dict[str, int]) -> Iterator[Any]:
    """The data CloudWatch accepts; each refused datum is counted in ``dropped`` by reason."""
    for d in data:
        why = problem(d, now_ms)
        if why is None:
            yield d
        else:
            dropped[why] = dropped.get(why, 0) + 1


def minute(ts_ms: int) -> int:
    return ts_ms - ts_ms % 60_000


def groups(data: Iterable[Any]) -> dict[tuple[Any, ...], list[float]]:
    """Values by ``(name, dimensions, unit, minute)``, in first-seen order."""
    out: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for d in data:
        out[(d.name, d.dimensions, d.unit, minute(d.timestamp))].append(float(d.value))
    return out
