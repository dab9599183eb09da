"""Side-by-side timing for a shared, noisy machine: candidates run interleaved (the order
rotates every round), each sample long enough to swamp timer noise, medians over rounds,
results reported as ratios to a baseline measured in the same run."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any


def _loops(fn: Callable[[], Any], min_time: float) -> int:
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_time or n >= 1 << 20:
            return n
        n *= 2


def compare(
    candidates: dict[str, Callable[[], Any]], *, rounds: int = 15, min_time: float = 0.05
) -> dict[str, float]:
    """Median seconds per call for each candidate, measured interleaved."""
    names = list(candidates)
    loops = {name: _loops(candidates[name], min_time) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn, n = candidates[name], loops[name]
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def verdict(value: float, target: float, *, higher_is_better: bool = False) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "ok" if ok else "MISSED"
