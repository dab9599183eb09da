"""``logstream decode`` vs the jq pipeline it replaces, on ~60 MB of decoded JSON.

The jq side runs per payload, as people do: ``base64 -d | gzip -dc | jq -c '.logEvents[]'``.
Both write to /dev/null; each is run as a whole, alternately, median of the rounds.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logstream import testing as t

from .payloads import document

PAYLOADS, EVENTS = 250, 1_050  # ~240 KB of JSON each, ~60 MB in all


def write_payloads(directory: Path) -> tuple[list[Path], int]:
    paths, raw = [], 0
    for i in range(PAYLOADS):
        doc = document(EVENTS, seed=i, stream=i)
        raw += len(t.document_json(doc))
        path = directory / f"{i:04d}.b64"
        path.write_text(t.encode_payload(doc) + "\n")
        paths.append(path)
    return paths, raw


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def measure(rounds: int = 3) -> dict[str, float | int | None]:
    with tempfile.TemporaryDirectory() as tmp:
        paths, raw = write_payloads(Path(tmp))
        logstream_cmd = [sys.executable, "-m", "logstream", "decode", *map(str, paths)]
        jq = shutil.which("jq")
        loop = 'for f in "$@"; do base64 -d "$f" | gzip -dc | jq -c ".logEvents[]"; done'
        jq_cmd = ["sh", "-c", loop, "sh", *map(str, paths)]
        check = subprocess.run(logstream_cmd, check=True, capture_output=True).stdout.count(b"\n")
        assert check == PAYLOADS * EVENTS, check
        ls, jqs = [], []
        for _ in range(rounds):
            ls.append(_run(logstream_cmd))
            if jq:
                jqs.append(_run(jq_cmd))
        return {
            "bytes": raw,
            "events": PAYLOADS * EVENTS,
            "logstream": statistics.median(ls),
            "jq": statistics.median(jqs) if jqs else None,
        }
