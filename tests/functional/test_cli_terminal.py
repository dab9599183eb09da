"""The CLI on a terminal (a real pseudo-terminal): readable lines, colour and NO_COLOR, binary
output refused, a hint when stdin is the terminal, progress on stderr."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time

import msgspec
import pytest

from logstream import testing as t
from tests.conftest import ROOT, corpus_path

LAMBDA = corpus_path("events", "aws-lambda-go__cloudwatch-logs-event.json")
CMD = [sys.executable, "-m", "logstream"]


def _read_all(fd: int) -> bytes:
    out = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side of the terminal is closed
            break
        if not chunk:
            break
        out.append(chunk)
    return b"".join(out)


def run_on_terminal(*args: str, stdin: bytes | None = b"", env: dict | None = None, stderr_tty=False):
    """Run the CLI with stdout (and optionally stderr) on a pseudo-terminal."""
    master, slave = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update({"TERM": "xterm", **(env or {})})
    with subprocess.Popen(
        [*CMD, *args],
        stdin=subprocess.PIPE if stdin is not None else slave,
        stdout=slave,
        stderr=slave if stderr_tty else subprocess.PIPE,
        cwd=ROOT,
        env=environment,
    ) as proc:
        os.close(slave)
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        out = _read_all(master)
        err = b"" if stderr_tty else proc.stderr.read()
        proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out.replace(b"\r\n", b"\n"), err


def test_given_terminal_then_one_readable_line_per_event_without_colour_under_no_color():
    code, out, _ = run_on_terminal("decode", str(LAMBDA), env={"NO_COLOR": "1"})
    assert code == 0
    assert out.decode().splitlines() == [
        "2015-08-24T19:03:07.000Z testLogGroup testLogStream [ERROR] First test message",
        "2015-08-24T19:03:07.001Z testLogGroup testLogStream [ERROR] Second test message",
    ]


def test_given_terminal_then_coloured_and_control_characters_shown_escaped():
    doc = t.make_document(["two\nlines\x1b[31m\n"], log_group="/g", log_stream="s", start_ms=0)
    code, out, _ = run_on_terminal("decode", stdin=msgspec.json.encode(t.lambda_event(doc)))
    assert code == 0
    assert out == (
        b"\x1b[2m1970-01-01T00:00:00.000Z\x1b[0m \x1b[36m/g\x1b[0m \x1b[34ms\x1b[0m two\\nlines\\x1b[31m\n"
    )


@pytest.mark.parametrize(
    ("env", "coloured"),
    [({"NO_COLOR": ""}, True), ({"NO_COLOR": "0"}, False), ({"TERM": "dumb"}, False), ({}, True)],
)
def test_given_terminal_then_colour_unless_no_color_is_set_and_not_empty_or_term_is_dumb(env, coloured):
    """no-color.org: NO_COLOR set to the empty string does not count."""
    code, out, _ = run_on_terminal("decode", str(LAMBDA), env=env)
    assert code == 0
    assert (b"\x1b[" in out) is coloured


def test_given_terminal_and_output_ndjson_then_ndjson_as_in_a_pipe():
    code, out, _ = run_on_terminal("decode", "-o", "ndjson", str(LAMBDA))
    assert code == 0
    assert [json.loads(x)["id"] for x in out.splitlines()] == ["eventId1", "eventId2"]


def test_given_terminal_and_flags_that_add_fields_then_ndjson_that_carries_them():
    """--parse, --enrich and --tag add fields that text lines have no place for. Before: a
    terminal got text lines, the fields silently left out."""
    code, out, err = run_on_terminal("decode", "--tag", "team=payments", "--parse", str(LAMBDA))
    assert (code, err) == (0, b"")
    lines = [json.loads(x) for x in out.splitlines()]
    assert [(x["id"], x["tags"], x["level"]) for x in lines] == [
        ("eventId1", {"team": "payments"}, "ERROR"),
        ("eventId2", {"team": "payments"}, "ERROR"),
    ]
    code, out, _ = run_on_terminal("decode", "--min-level", "ERROR", "--redact", "all", str(LAMBDA))
    assert code == 0 and out.decode().splitlines()[0].endswith(" [ERROR] First test message")  # still text


def test_given_pipe_and_output_text_then_text():
    res = subprocess.run([*CMD, "decode", "-o", "text", str(LAMBDA)], capture_output=True, cwd=ROOT)
    assert res.stdout.decode().splitlines()[0] == (
        "2015-08-24T19:03:07.000Z testLogGroup testLogStream [ERROR] First test message"
    )


def test_given_terminal_then_binary_output_refused_unless_forced():
    stdin = msgspec.json.encode(t.make_document(["x\n"]))
    code, out, err = run_on_terminal("encode", "--to", "s3", stdin=stdin)
    assert code == 2 and out == b""
    assert "refusing to write binary gzip data to a terminal" in err.decode()
    code, out, _ = run_on_terminal("encode", "--to", "s3", "--force", stdin=stdin)
    assert code == 0 and out.startswith(b"\x1f\x8b")


def test_given_stdin_is_the_terminal_then_a_hint_on_stderr():
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*CMD, "decode", "-o", "ndjson"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        os.close(slave)
        os.write(master, t.encode_payload(t.make_document(["typed\n"])).encode() + b"\n\x04")
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["message"] == "typed\n"
    assert err.decode().startswith("logstream: reading stdin from the terminal: paste input and press Ctrl-D")


def test_given_long_work_and_terminal_stderr_then_progress_shown_and_erased():
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*CMD, "decode", "-o", "ndjson"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=ROOT,
    ) as proc:
        os.close(slave)
        proc.stdin.write(t.encode_payload(t.make_document(["first\n"])).encode() + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["message"] == "first\n"
        time.sleep(2.2)  # the work has now taken over two seconds: the next read shows progress
        proc.stdin.write(t.encode_payload(t.make_document(["second\n"])).encode() + b"\n")
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["message"] == "second\n"
        proc.wait(timeout=60)
        err = _read_all(master)
    os.close(master)
    assert proc.returncode == 0
    assert b"\r\x1b[Klogstream: " in err and b" events" in err
    assert err.endswith(b"\r\x1b[K")  # erased at the end


def test_given_no_progress_then_none():
    master, slave = pty.openpty()
    with subprocess.Popen(
        [*CMD, "decode", "--no-progress", "-o", "ndjson"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=ROOT,
    ) as proc:
        os.close(slave)
        proc.stdin.write(t.encode_payload(t.make_document(["first\n"])).encode() + b"\n")
        proc.stdin.flush()
        proc.stdout.readline()
        time.sleep(2.2)
        proc.stdin.write(t.encode_payload(t.make_document(["second\n"])).encode() + b"\n")
        proc.stdin.close()
        proc.stdout.read()
        proc.wait(timeout=60)
        err = _read_all(master)
    os.close(master)
    assert err == b""
