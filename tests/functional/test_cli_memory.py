"""The README's "Everything is streamed: memory holds one line, document or gzip member at a time,
never the input", measured: the command's peak resident memory while it decodes an input
through a pipe that is several times larger than that peak."""

from __future__ import annotations

import base64
import random
import subprocess
import sys
import time

import msgspec
import pytest

from logstream import testing as t
from tests.conftest import ROOT


def _document() -> dict:
    """A document of ~800 KB that gzip cannot shrink much (random text), so the input's size is
    about what is decoded."""
    rng = random.Random(7)
    messages = [base64.b64encode(rng.randbytes(6000)).decode() + "\n" for _ in range(100)]
    return t.make_document(messages, log_group="/aws/lambda/big")


def _peak_while_decoding(unit: bytes, copies: int) -> tuple[int, int, bytes]:
    """Exit status, peak resident bytes and stderr of ``logstream decode --messages`` fed
    ``unit`` ``copies`` times through a pipe (stdout discarded).

    The peak is the process's VmHWM, read once it has decoded everything and waits for more
    input (stdin still open). Not wait4's ru_maxrss: Linux counts in it the memory of the test
    process the command was forked from (pytest's, hundreds of MB in the whole suite)."""
    with subprocess.Popen(
        [sys.executable, "-m", "logstream", "decode", "--messages"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        for _ in range(copies):
            proc.stdin.write(unit)
        proc.stdin.flush()
        _until_waiting_for_input(proc.pid)
        peak = _vm_hwm(proc.pid)
        proc.stdin.close()
        err = proc.stderr.read()
    return proc.returncode, peak, err


def _vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _until_waiting_for_input(pid: int) -> None:
    """Until the command sleeps: with stdout on /dev/null, only the read of the empty pipe
    makes it wait (the input is all in it)."""
    end = time.monotonic() + 120
    while True:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "S":
                return
        assert time.monotonic() < end, "the command never finished the input"
        time.sleep(0.01)


@pytest.mark.parametrize("shape", ["gzip members (an S3 object)", "NDJSON documents"])
def test_given_an_input_far_larger_than_one_document_then_peak_memory_stays_far_below_it(shape):
    doc = _document()
    unit = t.s3_object([doc]) if shape.startswith("gzip") else msgspec.json.encode(doc) + b"\n"
    copies = 200
    status, peak, err = _peak_while_decoding(unit, copies)
    assert (status, err) == (0, b"")
    size = len(unit) * copies
    assert size > 100_000_000
    assert peak < size / 2, f"peak {peak / 1e6:.0f} MB for {size / 1e6:.0f} MB of input"
