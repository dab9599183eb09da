"""Peak memory while decoding the 10,000-event payload, and what stays alive afterwards
(tracemalloc, each candidate in a fresh interpreter so nothing is shared or cached)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PROBE = """
import gc, json, sys, tracemalloc
from benchmarks import decode
from benchmarks.payloads import lambda_event
fn = {name!r}
event = lambda_event(10_000)
fn = decode.CANDIDATES[fn]
fn(lambda_event(1))  # warm caches and lazy imports outside the measurement
gc.collect()
tracemalloc.start()
result = fn(event)
retained, peak = tracemalloc.get_traced_memory()
print(json.dumps({{"peak": peak, "retained": retained}}))
"""


def measure() -> dict[str, dict[str, int]]:
    from .decode import CANDIDATES

    out = {}
    for name in CANDIDATES:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE.format(name=name)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        out[name] = json.loads(proc.stdout)
    return out
