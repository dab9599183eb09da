"""``logstream decode`` vs the jq pipeline it replaces, on ~60 MB of decoded JSON.

The jq side runs per payload, as people do: ``base64 -d | gzip -dc | jq -c '.logEvents[]'``.
Both write to /dev/null; each is run as a whole, alternately, median of the rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from logstream import testing as t

from .payloads import document

PAYLOADS, EVENTS = 250, 1_050  # ~240 KB of JSON each, ~60 MB in all


def write_payloads(directory: Path, payloads: int = PAYLOADS) -> tuple[list[Path], int]:
    paths, raw = [], 0
    for i in range(payloads):
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


# ------------------------------------------------------------------ where the output goes, errors
def _drained(cmd: list[str], kind: str) -> tuple[float, int]:
    """Seconds for ``cmd`` with stdout ``kind``: ``devnull``, ``pipe`` or ``socket`` (a stream
    socket pair), the other end read to the end by this process as fast as it can; and the
    bytes read (0 for /dev/null)."""
    import socket
    import threading

    got = [0]

    def drain(read: Callable[[int], bytes]) -> None:
        while chunk := read(1 << 20):
            got[0] += len(chunk)

    t0 = time.perf_counter()
    if kind == "devnull":
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    elif kind == "pipe":
        with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            drain(lambda n: os.read(proc.stdout.fileno(), n))  # type: ignore[union-attr]
        assert proc.returncode == 0, proc.returncode
    else:
        ours, theirs = socket.socketpair()
        with ours:
            reader = threading.Thread(target=drain, args=(ours.recv,))
            reader.start()
            with theirs:
                code = subprocess.run(cmd, stdout=theirs).returncode
            reader.join()
        assert code == 0, code
    return time.perf_counter() - t0, got[0]


def outputs(rounds: int = 3, payloads: int = PAYLOADS) -> dict[str, float]:
    """Median seconds of ``logstream decode`` on :func:`measure`'s payloads with its output to
    /dev/null, a pipe and a stream socket (each read to the end and checked whole), run
    alternately."""
    with tempfile.TemporaryDirectory() as tmp:
        paths, _ = write_payloads(Path(tmp), payloads)
        cmd = [sys.executable, "-m", "logstream", "decode", *map(str, paths)]
        whole = len(subprocess.run(cmd, check=True, capture_output=True).stdout)
        times: dict[str, list[float]] = {"devnull": [], "pipe": [], "socket": []}
        for _ in range(rounds):
            for kind, secs in times.items():
                took, read = _drained(cmd, kind)
                assert kind == "devnull" or read == whole, (kind, read, whole)
                secs.append(took)
        return {kind: statistics.median(secs) for kind, secs in times.items()}


BROKEN_LINES = 30_000


def errors(rounds: int = 3, lines: int = BROKEN_LINES) -> dict[str, float | int]:
    """``logstream decode`` on input where every line is a broken payload (base64 of a cut gzip
    member, as a truncated copy-paste gives): one error line each on stderr (a pipe read to the
    end), exit 1. Median seconds, and the errors counted in the last run."""
    import base64
    import gzip

    cut = base64.b64encode(gzip.compress(t.document_json(document(20)))[:-40]) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.b64"
        path.write_bytes(cut * lines)
        cmd = [sys.executable, "-m", "logstream", "decode", str(path)]
        secs, lines = [], 0
        for _ in range(rounds):
            t0 = time.perf_counter()
            run = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            secs.append(time.perf_counter() - t0)
            assert run.returncode == 1, run.returncode
            lines = run.stderr.count(b"\n")
        return {"seconds": statistics.median(secs), "errors": lines, "input": len(cut) * lines}


# ------------------------------------------------------------------------ streaming: memory
def _chunk(target: int = 8 << 20) -> bytes:
    """About ``target`` bytes of input: compact documents one per line (distinct streams)."""
    lines, size, i = [], 0, 0
    while size < target:
        line = t.document_json(document(1_000, seed=i, stream=i)) + b"\n"
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)


def peak_rss(args: list[str], total: int, chunk: bytes | None = None) -> dict[str, float]:
    """Peak RSS (bytes) of ``logstream ARGS`` fed ``total`` bytes on stdin by this process, and
    its wall time; output to /dev/null. The input is generated as it is written, never stored."""
    chunk = chunk or _chunk()
    t0 = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", _RSS_PROBE, sys.executable, "-m", "logstream", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        written = 0
        while written < total:
            proc.stdin.write(chunk)
            written += len(chunk)
        proc.stdin.close()
        err = proc.stderr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"logstream {' '.join(args)} failed: {err[-500:]!r}")
    rss = int(err.rsplit(b"maxrss=", 1)[1])
    return {"input": written, "rss": rss * 1024, "seconds": time.perf_counter() - t0}


# A small interpreter starts logstream and reports its peak RSS: forked from this (large) process
# directly, the child's peak would count this process's pages it held until exec.
_RSS_PROBE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write(f"maxrss={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
sys.exit(code)
"""


# ---------------------------------------------------------------- streaming: first output line
EVENTS_PER_DOC = 200


def first_line_latency(kind: str = "base64", documents: int = 6, pause: float = 0.25) -> list[float]:
    """Seconds from writing a document (after a pause with the pipe open) to reading its first
    output line, for each document after the first (the first includes interpreter start-up).

    ``kind``: ``base64`` (one payload per line) or ``gzip`` (members of a Firehose S3 object).
    """
    out = []
    with subprocess.Popen(
        [sys.executable, "-m", "logstream", "decode", "-o", "ndjson"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        for i in range(documents):
            doc = document(EVENTS_PER_DOC, seed=i, stream=i)
            data = t.encode_payload(doc).encode() + b"\n" if kind == "base64" else t.s3_object([doc])
            if i:
                time.sleep(pause)  # the producer pauses with the pipe open
            t0 = time.perf_counter()
            proc.stdin.write(data)
            proc.stdin.flush()
            line = proc.stdout.readline()
            if i:
                out.append(time.perf_counter() - t0)
            assert line.startswith(b'{"owner"'), line[:80]
            for _ in range(EVENTS_PER_DOC - 1):  # the rest of this document's lines
                proc.stdout.readline()
        proc.stdin.close()
        proc.stdout.read()
    return out
