"""Per-function summary of Lambda invocation reports: the table of ``logstream report --summary``.

:class:`Summary` accumulates reports one at a time in memory bounded by the number of distinct
durations (kept as counts at the 0.01 ms resolution Lambda prints), not by the number of
reports, so a summary over any amount of input stays small and its percentiles stay exact.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable

from .metrics import Pricing, estimated_cost
from .parsers.lambda_report import InvocationReport

__all__ = ["Summary", "FunctionSummary", "summary_table"]

_HEADER = (
    "function",
    "invocations",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max MB",
    "mem %",
    "cold",
    "timeouts",
    "OOMs",
    "est. cost $",
)


@dataclasses.dataclass(slots=True)
class FunctionSummary:
    """Running totals of one function's reports."""

    invocations: int = 0
    durations: Counter[float] = dataclasses.field(default_factory=Counter)
    max_memory_mb: int | None = None
    max_utilization: float | None = None
    cold_starts: int = 0
    timeouts: int = 0
    out_of_memory: int = 0
    cost: float | None = None

    def add(self, report: InvocationReport, pricing: Pricing) -> None:
        self.invocations += 1
        if math.isfinite(report.duration_ms):  # "Duration: nan ms" loses its duration only
            self.durations[report.duration_ms] += 1
        if report.max_memory_used_mb is not None:
            self.max_memory_mb = max(self.max_memory_mb or 0, report.max_memory_used_mb)
        util = report.memory_utilization
        if util is not None:
            self.max_utilization = util if self.max_utilization is None else max(self.max_utilization, util)
        self.cold_starts += report.cold_start
        self.timeouts += report.timeout
        self.out_of_memory += report.out_of_memory
        cost = estimated_cost(report, pricing)
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    def percentiles(self, *qs: float) -> list[float]:
        """Nearest-rank percentiles of the durations (exact); empty when no duration was a number."""
        total = sum(self.durations.values())
        if not total:
            return []
        ranks = [max(1, math.ceil(q / 100 * total)) for q in qs]
        out: list[float | None] = [None] * len(qs)
        seen = 0
        for value in sorted(self.durations):
            seen += self.durations[value]
            for i, rank in enumerate(ranks):
                if out[i] is None and seen >= rank:
                    out[i] = value
            if all(v is not None for v in out):
                break
        return [v for v in out if v is not None]


class Summary:
    """Accumulates :class:`InvocationReport` values per function; :meth:`table` renders them.

    Example
    -------
    >>> s = Summary()
    >>> s.add(InvocationReport("a", 10.0, billed_duration_ms=10, memory_size_mb=128,
    ...                        max_memory_used_mb=64, function_name="f"))
    >>> print(s.table(), end="")  # doctest: +NORMALIZE_WHITESPACE
    function  invocations  p50 ms  p95 ms  p99 ms  max MB  mem %  cold  timeouts  OOMs  est. cost $
    f                   1   10.00   10.00   10.00      64     50     0         0     0   0.00000022
    """

    def __init__(self, pricing: Pricing | None = None) -> None:
        self.pricing = pricing or Pricing()
        self.functions: dict[str, FunctionSummary] = {}

    def add(self, report: InvocationReport) -> None:
        key = report.function_name or report.log_group or "(unknown)"
        fs = self.functions.get(key)
        if fs is None:
            fs = self.functions[key] = FunctionSummary()
        fs.add(report, self.pricing)

    def update(self, reports: Iterable[InvocationReport]) -> Summary:
        for r in reports:
            self.add(r)
        return self

    def rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for fn in sorted(self.functions):
            fs = self.functions[fn]
            pct = [f"{v:.2f}" for v in fs.percentiles(50, 95, 99)] or ["-"] * 3
            rows.append(
                (
                    fn,
                    str(fs.invocations),
                    *pct,
                    "-" if fs.max_memory_mb is None else str(fs.max_memory_mb),
                    "-" if fs.max_utilization is None else f"{fs.max_utilization:.0f}",
                    str(fs.cold_starts),
                    str(fs.timeouts),
                    str(fs.out_of_memory),
                    "-" if fs.cost is None else f"{fs.cost:.8f}",
                )
            )
        return rows

    def table(self) -> str:
        """The table as text (one line per function, sorted by name), newline-terminated."""
        rows = self.rows()
        if not rows:
            return "no invocation reports found\n"
        widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(len(_HEADER))]

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        return "\n".join([fmt(_HEADER), *(fmt(r) for r in rows)]) + "\n"


def summary_table(reports: Iterable[InvocationReport], pricing: Pricing | None = None) -> str:
    """The per-function table of ``logstream report --summary`` for ``reports``.

    Columns: invocations, nearest-rank p50/p95/p99 duration, max memory used and utilization,
    cold starts, timeouts, OOMs and the estimated cost (:func:`logstream.metrics.estimated_cost`).

    Example
    -------
    >>> print(summary_table([]), end="")
    no invocation reports found
    """
    return Summary(pricing).update(reports).table()
