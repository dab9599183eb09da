"""Decoding that stays linear and bounded (issue #9): a Firehose object as one gzip member vs
the same data in 8,000 members, and peak RSS for one 250 MiB message and for four nested layers
of ~250 MiB each (refused by the cap), each measured in a fresh interpreter."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

from logstream import iter_log_streams
from logstream.testing import document_json, gzip_member, make_document

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "out" / "cache"
MEMBERS = 8_000
MESSAGE_MIB = 250


def firehose_objects() -> tuple[bytes, bytes, int]:
    """(one member, 8,000 members, documents): the same documents, ~7 KB compressed each."""
    rng = random.Random(9)
    docs = []
    for i in range(MEMBERS):
        noise = base64.b64encode(rng.randbytes(6000)).decode()  # ids, traces: what does not compress
        messages = [f"START RequestId: {i}\n", f"REPORT RequestId: {i}\tDuration: 1.00 ms\t"]
        messages += [f"{i} INFO line {j}: {noise[j * 200 : j * 200 + 200]}\n" for j in range(40)]
        docs.append(document_json(make_document(messages, log_stream=f"s{i}")))
    many = b"".join(gzip_member(d) for d in docs)
    one = gzip_member(b"".join(docs))
    return one, many, len(docs)


def time_members(rounds: int) -> dict[str, float]:
    one, many, n = firehose_objects()
    cap = 1 << 30
    for data in (one, many):
        assert sum(1 for _ in iter_log_streams(data, max_size=cap)) == n
    best = {"one": float("inf"), "many": float("inf"), "size": len(many)}
    for _ in range(rounds):
        for name, data in (("one", one), ("many", many)):
            t0 = time.perf_counter()
            for _ in iter_log_streams(data, max_size=cap):
                pass
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _big_payloads() -> tuple[Path, Path]:
    """A gzip member holding one document with one 250 MiB message; four nested gzip layers of
    that document with an incompressible message (each layer expands to ~190-250 MiB)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    message, nested = CACHE / "message-250m.gz", CACHE / "nested-4x250m.gz"
    if not message.exists():
        text = "x" * (MESSAGE_MIB << 20)
        message.write_bytes(gzip_member(document_json(make_document([text]))))
        del text
    if not nested.exists():
        text = base64.b64encode(os.urandom((MESSAGE_MIB << 20) * 3 // 4)).decode()
        data = document_json(make_document([text]))
        del text
        for _ in range(4):
            data = zlib.compress(data, 1)  # zlib layers: gzip/zlib is detected per layer
        nested.write_bytes(data)
    return message, nested


_PROBE = """
import json, sys, time
from logstream import iter_log_streams, SizeLimitError
from logstream.ndjson import event_lines
def hwm():  # VmHWM: peak RSS of this process image (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
data = open(sys.argv[1], "rb").read()
base = hwm()
t0 = time.perf_counter()
outcome = "decoded"
try:
    for stream in iter_log_streams(data):
        lines = event_lines(stream)  # what the forwarder and the transform send on
        del stream
except SizeLimitError:
    outcome = "refused"
peak = hwm()
print(json.dumps({"peak": peak, "base": base, "seconds": time.perf_counter() - t0, "outcome": outcome}))
"""


def peak_rss() -> dict[str, dict[str, float]]:
    message, nested = _big_payloads()
    out = {}
    for name, path in (("message", message), ("nested", nested)):
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        out[name] = json.loads(proc.stdout)
    return out
