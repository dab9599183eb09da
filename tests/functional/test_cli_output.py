"""Output as the CLI delivers it: every byte through a stopped and continued pipe, write errors,
a closed pipe, Ctrl-C, binary output kept byte-exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from logstream import testing as t
from tests.conftest import ROOT, run_cli

CMD = [sys.executable, "-m", "logstream"]


def _expected_lines(docs: list[dict]) -> bytes:
    """decode's NDJSON, written out with the standard library (not the code under test)."""
    out = []
    for d in docs:
        ctx = {k: d[k] for k in ("owner", "logGroup", "logStream", "subscriptionFilters")}
        for e in d["logEvents"]:
            out.append(json.dumps({**ctx, **e}, separators=(",", ":")) + "\n")
    return "".join(out).encode()


def _big_input(tmp_path, docs_n=20, events=750):
    docs = [
        t.make_document([f"message {i}-{j} " + "x" * (j % 97) for j in range(events)], log_stream=f"s{i}")
        for i in range(docs_n)
    ]
    path = tmp_path / "object.gz"
    path.write_bytes(t.s3_object(docs))
    return docs, path


def test_given_reader_stopped_and_continued_mid_write_then_every_byte_arrives(tmp_path):
    docs, path = _big_input(tmp_path)
    expected = _expected_lines(docs)
    assert expected.count(b"\n") == 15_000
    with subprocess.Popen([*CMD, "decode", str(path)], stdout=subprocess.PIPE, cwd=ROOT) as proc:
        fd = proc.stdout.fileno()
        got = [os.read(fd, 1)]  # the writer has started and will now fill the pipe
        while True:
            os.kill(proc.pid, signal.SIGSTOP)
            os.kill(proc.pid, signal.SIGCONT)
            chunk = os.read(fd, 32_768)
            if not chunk:
                break
            got.append(chunk)
    assert proc.returncode == 0
    assert b"".join(got) == expected


def test_given_reader_closes_pipe_then_exit_141_quietly(tmp_path):
    _, path = _big_input(tmp_path)
    with subprocess.Popen(
        [*CMD, "decode", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        first = proc.stdout.readline()
        proc.stdout.close()  # like `| head -1`; megabytes are still to be written
        assert proc.wait(timeout=60) == 141
        assert json.loads(first)["message"] == "message 0-0 "
        assert proc.stderr.read() == b""


def test_given_full_disk_then_one_line_on_stderr_and_exit_1(tmp_path):
    _, path = _big_input(tmp_path, docs_n=2)
    with open("/dev/full", "wb") as full:
        res = subprocess.run([*CMD, "decode", str(path)], stdout=full, stderr=subprocess.PIPE, cwd=ROOT)
    assert res.returncode == 1
    assert res.stderr.decode() == "logstream: cannot write output: No space left on device\n"


def test_given_ctrl_c_then_ended_by_sigint_without_traceback():
    """Ended by SIGINT, like cat: the shell's status is 130 (test_cli_hostile checks ``$?``)."""
    with subprocess.Popen(
        [*CMD, "decode"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        proc.stdin.write(t.encode_payload(t.make_document(["one\n"])).encode() + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["message"] == "one\n"  # running, waiting for input
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == -signal.SIGINT
        assert b"Traceback" not in proc.stderr.read()


def test_given_encode_to_s3_then_bytes_exactly_as_built_and_decodable():
    docs = [t.make_document([f"m{i}\u2028x\u2029y\x85z\n"], log_stream=f"s{i}") for i in range(3)]
    stdin = "".join(json.dumps(d) + "\n" for d in docs).encode()
    res = run_cli("encode", "--to", "s3", stdin=stdin)
    assert res.returncode == 0, res.stderr
    assert res.stdout == t.s3_object(docs)  # no byte rewritten inside the gzip data
    outer = run_cli("encode", "--to", "s3", "--outer-gzip", stdin=stdin)
    assert outer.stdout == t.s3_object(docs, outer_gzip=True)
    back = run_cli("decode", "--messages", stdin=res.stdout)
    assert back.stdout == "".join(f"m{i}\u2028x\u2029y\x85z\n" for i in range(3)).encode()


def test_given_line_separators_in_messages_then_messages_print_them_as_they_are():
    doc = t.make_document(["line\u2028sep\n", "tab\there", "nel\x85"])
    res = run_cli("decode", "--messages", stdin=json.dumps(t.lambda_event(doc)).encode())
    assert res.stdout == "line\u2028sep\ntab\there\nnel\x85\n".encode()


def test_given_a_non_blocking_stdout_and_a_reader_that_pauses_then_every_byte_arrives(tmp_path):
    """A stdout inherited non-blocking (some process managers and Node.js set O_NONBLOCK on the
    pipe): writes to the full pipe fail with EAGAIN and are waited for, never dropped."""
    docs, path = _big_input(tmp_path, docs_n=4)
    expected = _expected_lines(docs)
    r, w = os.pipe()
    os.set_blocking(w, False)
    with subprocess.Popen([*CMD, "decode", str(path)], stdout=w, cwd=ROOT) as proc:
        os.close(w)
        got = []
        while chunk := os.read(r, 4096):
            got.append(chunk)
            if len(got) % 64 == 0:  # the pipe fills while the reader stops
                os.kill(proc.pid, signal.SIGSTOP)
                os.kill(proc.pid, signal.SIGCONT)
    os.close(r)
    assert proc.returncode == 0
    assert b"".join(got) == expected


def test_given_a_named_fifo_as_stdout_then_every_byte_arrives(tmp_path):
    """`logstream decode obj.gz > /tmp/fifo`: the writer's own open of the FIFO is another pipe
    writer; the reader still gets every byte and its end of input."""
    docs, path = _big_input(tmp_path, docs_n=4)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(
        ["bash", "-c", f'exec {sys.executable} -m logstream decode "$0" > "$1"', str(path), str(fifo)],
        cwd=ROOT,
    ) as proc:
        with open(fifo, "rb") as reader:
            got = reader.read()
    assert proc.returncode == 0
    assert got == _expected_lines(docs)
