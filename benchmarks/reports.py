"""Order-independent REPORT parsing vs a fixed-order compiled regex (same typed result)."""

from __future__ import annotations

import random
import re

from logstream.parsers.lambda_report import InvocationReport, parse_report

_FIXED = re.compile(
    r"REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\t"
    r"Max Memory Used: (\d+) MB(?:\tInit Duration: ([\d.]+) ms)?"
)


def fixed_order(message: str) -> InvocationReport | None:
    """What most forwarders do: one regex, fields in Lambda's usual order, nothing else."""
    m = _FIXED.match(message)
    if m is None:
        return None
    return InvocationReport(
        request_id=m[1],
        duration_ms=float(m[2]),
        billed_duration_ms=float(m[3]),
        memory_size_mb=int(m[4]),
        max_memory_used_mb=int(m[5]),
        init_duration_ms=float(m[6]) if m[6] else None,
    )


def lines(count: int = 1_000, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        init = f"Init Duration: {rng.uniform(80, 900):.2f} ms\t" if i % 10 == 0 else ""
        out.append(
            f"REPORT RequestId: {rng.getrandbits(128):032x}\tDuration: {rng.uniform(1, 900):.2f} ms\t"
            f"Billed Duration: {rng.randint(1, 900)} ms\tMemory Size: 512 MB\tMax Memory Used: "
            f"{rng.randint(60, 500)} MB\t{init}\n"
        )
    return out


def check() -> None:
    for line in lines(200):
        assert parse_report(line) == fixed_order(line), line
