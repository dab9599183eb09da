"""The CLI as a hostile user runs it, each case a defect found in review: stderr whose reader
is gone or whose disk is full, help on a full disk, Ctrl-C in a shell loop, options that cannot
go together or hold impossible values, a FIFO under ``-r``, a file whose name starts with '-'."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

import pytest

from logstream import testing as t
from tests.conftest import ROOT, run_cli

CMD = [sys.executable, "-m", "logstream"]
DOC = t.make_document(["one\n", "two\n"], log_group="/aws/lambda/f")
EVENT = json.dumps(t.lambda_event(DOC)).encode()
REPORT = (
    "REPORT RequestId: r1\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 60 MB\t\n"
)


def _messages(stdout: bytes) -> list[str]:
    return [json.loads(line)["message"] for line in stdout.splitlines()]


def _pipe_without_reader() -> int:
    """The write end of a pipe whose reader is already gone: the first write fails with EPIPE."""
    r, w = os.pipe()
    os.close(r)
    return w


# ---------------------------------------------------------------------------------- stderr
def test_given_the_reader_of_stderr_gone_when_an_input_error_is_reported_then_quiet_exit_141(tmp_path):
    """``logstream decode bad 2>&1 | head -1``. Before: a BrokenPipeError traceback (to the
    closed pipe) and exit status 1."""
    bad = tmp_path / "bad.txt"
    bad.write_text("not data\n" * 1000)
    w = _pipe_without_reader()
    try:
        done = subprocess.run(
            [*CMD, "decode", str(bad)], stdout=subprocess.PIPE, stderr=w, cwd=ROOT, timeout=60
        )
    finally:
        os.close(w)
    assert (done.returncode, done.stdout) == (141, b"")


def test_given_the_reader_of_stderr_gone_when_a_usage_error_then_still_exit_2():
    w = _pipe_without_reader()
    try:
        done = subprocess.run(
            [*CMD, "decode", "--messgaes"], stdout=subprocess.PIPE, stderr=w, cwd=ROOT, timeout=60
        )
        top = subprocess.run([*CMD, "decdoe"], stdout=subprocess.PIPE, stderr=w, cwd=ROOT, timeout=60)
    finally:
        os.close(w)
    assert (done.returncode, top.returncode) == (2, 2)


def test_given_stderr_on_a_full_disk_then_the_other_input_still_decoded_and_exit_1(tmp_path):
    """``2>/dev/full``: the error messages are lost, nothing else. Before: the first error
    message raised OSError, a traceback, and the good file after the bad one was never read."""
    bad, good = tmp_path / "bad.txt", tmp_path / "event.json"
    bad.write_text("not data\n")
    good.write_bytes(EVENT)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [*CMD, "decode", str(bad), str(good)], stdout=subprocess.PIPE, stderr=full, cwd=ROOT, timeout=60
        )
    assert done.returncode == 1
    assert _messages(done.stdout) == ["one\n", "two\n"]


# ------------------------------------------------------------------------------------ help
@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["decode", "--help"], ["help", "report"], []], ids=" ".join
)
def test_given_help_or_version_to_a_full_disk_then_one_line_on_stderr_and_exit_1(args):
    """Before: ``--help``/``--version`` a traceback; a subcommand's help lost with exit 0
    (argparse drops write errors)."""
    with open("/dev/full", "wb") as full:
        done = subprocess.run([*CMD, *args], stdout=full, stderr=subprocess.PIPE, cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert done.stderr.decode() == "logstream: cannot write output: No space left on device\n"


def test_given_help_alone_then_the_subcommands_and_exit_0():
    """``logstream help`` was 'unknown subcommand 'help'' (exit 2) while ``help decode`` worked."""
    done = run_cli("help")
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == run_cli("--help").stdout
    assert done.stdout.startswith(b"usage: logstream SUBCOMMAND [options] [FILE ...]\n")


def test_given_help_of_an_unknown_subcommand_then_that_name_in_the_error():
    done = run_cli("help", "decdoe")
    assert done.returncode == 2
    assert "logstream: error: unknown subcommand 'decdoe'; did you mean 'decode'?" in done.stderr.decode()


def test_given_a_file_named_like_an_option_then_the_usage_error_says_how_to_read_it(tmp_path):
    (tmp_path / "-event.json").write_bytes(EVENT)
    done = subprocess.run([*CMD, "decode", "-event.json"], capture_output=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert (
        "logstream decode: error: unrecognized arguments: -event.json; "
        "to read the file '-event.json', write ./-event.json or put -- before it"
    ) in done.stderr.decode().splitlines()
    read = subprocess.run(
        [*CMD, "decode", "--", "-event.json"], capture_output=True, cwd=tmp_path, timeout=60
    )
    assert (read.returncode, _messages(read.stdout)) == (0, ["one\n", "two\n"])


# ------------------------------------------------------------------------- option values
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["decode", "--since", "2024-05-02", "--until", "2024-05-01"],
            "logstream decode: error: --since (2024-05-02T00:00:00.000Z) is not before --until "
            "(2024-05-01T00:00:00.000Z): no event can be in that range",
        ),
        (
            ["report", "--since", "2024-05-01T12:00:00Z", "--until", "2024-05-01T12:00:00Z"],
            "logstream report: error: --since (2024-05-01T12:00:00.000Z) is not before --until "
            "(2024-05-01T12:00:00.000Z): no event can be in that range",
        ),
        (
            ["decode", "--messages", "-o", "text"],
            "logstream decode: error: -o/--output text applies to event lines; "
            "--messages prints the log text as it is",
        ),
        (
            ["decode", "--messages", "-o", "ndjson"],
            "logstream decode: error: -o/--output ndjson applies to event lines; "
            "--messages prints the log text as it is",
        ),
        (
            ["decode", "--documents", "-o", "text"],
            "logstream decode: error: -o/--output text applies to event lines; "
            "--documents prints NDJSON documents",
        ),
        (
            ["report", "--summary", "--price-per-gb-second", "-0.0001"],
            "logstream report: error: argument --price-per-gb-second: not a price in USD: '-0.0001' "
            "(a number, 0 or more)",
        ),
        (
            ["metrics", "--price-per-gb-second", "nan"],
            "logstream metrics: error: argument --price-per-gb-second: not a price in USD: 'nan' "
            "(a number, 0 or more)",
        ),
        (
            ["metrics", "--namespace", "AWS/Lambda"],
            "logstream metrics: error: argument --namespace: a namespace is 1-255 characters, "
            "not starting 'AWS/': 'AWS/Lambda'",
        ),
        (
            ["metrics", "--fluentd-namespace", ""],
            "logstream metrics: error: argument --fluentd-namespace: a namespace is 1-255 characters, "
            "not starting 'AWS/': ''",
        ),
    ],
)
def test_given_options_that_cannot_hold_then_a_precise_usage_error_and_exit_2(args, message):
    """Before: an empty range printed nothing (exit 0), -o was ignored, a negative or NaN price
    gave a negative or 'nan' cost, and the namespace the handlers refuse was used."""
    done = run_cli(*args, stdin=REPORT.encode())
    assert (done.returncode, done.stdout) == (2, b"")
    assert message in done.stderr.decode().splitlines()


def test_given_options_that_do_hold_then_accepted():
    assert run_cli("decode", "--documents", "-o", "ndjson", stdin=EVENT).returncode == 0
    free = run_cli("report", "--summary", "--price-per-gb-second", "0", stdin=REPORT.encode())
    assert free.returncode == 0  # the cost left is the request charge: $0.20 per million
    assert free.stdout.splitlines()[1].endswith(b" 0.00000020")
    named = run_cli("metrics", "--namespace", "Ops/Lambda", stdin=REPORT.encode())
    assert named.returncode == 0
    assert json.loads(named.stdout)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Ops/Lambda"


# ------------------------------------------------------------------------------ -r and FIFOs
def test_given_a_fifo_under_a_recursive_directory_then_skipped_not_waited_for(tmp_path):
    """Before: ``-r`` opened the FIFO and waited for a writer forever."""
    (tmp_path / "a.json").write_bytes(EVENT)
    os.mkfifo(tmp_path / "b.fifo")
    (tmp_path / "c.json").write_bytes(EVENT)
    done = subprocess.run([*CMD, "decode", "-r", str(tmp_path)], capture_output=True, cwd=ROOT, timeout=20)
    assert (done.returncode, done.stderr) == (0, b"")
    assert _messages(done.stdout) == ["one\n", "two\n"] * 2


# --------------------------------------------------------------------------------- Ctrl-C
def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _until(predicate, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def _drain(master: int) -> bytes:
    out = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process on the terminal is gone
            break
        if not chunk:
            break
        out += chunk
    return out


def test_given_a_shell_loop_on_a_terminal_when_ctrl_c_then_the_loop_stops_too():
    """``for f in ...; do logstream decode; done`` and Ctrl-C: bash goes on with the next
    iteration unless the program ended by SIGINT (exit(130) is taken as 'handled'). Before: the
    loop went on to its second iteration."""
    master, slave = pty.openpty()
    loop = f'for i in 1 2; do echo "iteration $i"; {sys.executable} -m logstream decode; done; echo after'

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    with subprocess.Popen(
        ["bash", "-c", loop],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        preexec_fn=controlling_terminal,
    ) as shell:
        os.close(slave)
        seen = b""

        def waiting() -> bool:  # the hint is out and the CLI is blocked reading the terminal
            nonlocal seen
            seen += _drain(master)
            kids = _children(shell.pid)
            return b"press Ctrl-D" in seen and bool(kids) and _state(kids[0]) == "S"

        _until(waiting)
        os.write(master, b"\x03")  # Ctrl-C typed on the terminal: SIGINT to the foreground group
        status = shell.wait(timeout=30)
        seen += _drain(master)
    os.close(master)
    assert status == -signal.SIGINT
    assert b"iteration 1" in seen
    assert b"iteration 2" not in seen and b"after" not in seen
    assert b"Traceback" not in seen


def test_given_ctrl_c_then_the_shell_status_is_130_and_no_traceback():
    """The program ends by SIGINT: a shell reports 128 + 2 = 130 (``$?``)."""
    with subprocess.Popen(
        ["sh", "-c", f'{sys.executable} -m logstream decode; echo "status $?" >&2'],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as shell:
        shell.stdin.write(EVENT + b"\n")
        shell.stdin.flush()
        assert json.loads(shell.stdout.readline())["message"] == "one\n"
        cli = _until(lambda: [p for p in _children(shell.pid) if _state(p) == "S"])[0]
        os.kill(cli, signal.SIGINT)  # to the CLI only: the shell goes on and prints the status
        shell.stdin.close()
        err = shell.stderr.read().decode()
        assert shell.wait(timeout=30) == 0
    assert err == "status 130\n"


# ------------------------------------------------------------------------------- progress
def test_given_the_terminal_gone_when_progress_is_drawn_then_the_work_goes_on_without_it():
    """A hung-up terminal (EIO) under the progress line: before, the OSError ended the run."""
    from logstream.cli.output import Progress

    class HungUp:
        writes = 0

        def write(self, text: str) -> int:
            HungUp.writes += 1
            raise OSError(5, "Input/output error")

        def flush(self) -> None:
            pass

    progress = Progress(enabled=True, stream=HungUp(), after=0)
    progress.read(100)
    progress.add_events(10)
    progress.done()
    assert (HungUp.writes, progress.enabled, progress.shown) == (1, False, False)


# ------------------------------------------------------------------------- error messages
def test_given_file_names_with_a_line_break_or_escapes_then_each_error_is_one_inert_line(tmp_path):
    """Before: a name holding a line break split the error in two lines, and an escape sequence
    in a name (or an S3 key) recoloured the terminal."""
    bad = tmp_path / "bad\nname.txt"
    bad.write_text("not data\n")
    missing = tmp_path / "no\x1b[31mfile"
    done = run_cli("decode", str(bad), str(missing))
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"logstream: {tmp_path}/bad\\nname.txt: line 1: envelope: "
        "neither JSON, a base64 payload nor an 'aws logs tail' line",
        f"logstream: {tmp_path}/no\\x1b[31mfile: No such file or directory",
    ]


@pytest.mark.parametrize("digits", [400, 5000])
def test_given_a_relative_time_too_far_back_then_a_usage_error_not_a_traceback(digits):
    """``--since 999...9w``: an OverflowError traceback (400 digits) or argparse's 'invalid
    parse_time value' (5000 digits: int()'s digit limit)."""
    value = "9" * digits + "w"
    done = run_cli("decode", "--since", value, stdin=EVENT)
    assert (done.returncode, done.stdout) == (2, b"")
    assert f"logstream decode: error: argument --since: not a time: '{value}' (too far back)" in (
        done.stderr.decode().splitlines()
    )


def test_given_a_size_with_more_digits_than_a_float_holds_then_a_usage_error_not_a_traceback():
    value = "1" * 400
    done = run_cli("decode", "--max-size", value, stdin=EVENT)
    assert (done.returncode, done.stdout) == (2, b"")
    assert f"logstream decode: error: argument --max-size: not a size: '{value}' (too large)" in (
        done.stderr.decode().splitlines()
    )


def test_given_a_fifo_named_after_a_file_then_the_files_events_come_out_before_the_fifo_has_a_writer(
    tmp_path,
):
    """`logstream decode first.json /tmp/fifo`: the FIFO is read once a writer comes (and ends
    when it goes). Before: first.json's events stayed in the output buffer until then."""
    (tmp_path / "first.json").write_bytes(EVENT)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(
        [*CMD, "decode", str(tmp_path / "first.json"), str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        first = [proc.stdout.readline(), proc.stdout.readline()]  # no writer yet
        assert _messages(b"".join(first)) == ["one\n", "two\n"]
        with open(fifo, "wb") as writer:
            writer.write(json.dumps(t.lambda_event(t.make_document(["from the fifo\n"]))).encode())
        rest, err = proc.communicate(timeout=60)
    assert (proc.returncode, _messages(rest), err) == (0, ["from the fifo\n"], b"")


def test_given_a_fifo_whose_writer_goes_without_writing_then_empty_input_and_the_next_file_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "last.json").write_bytes(EVENT)
    with subprocess.Popen(
        [*CMD, "decode", str(fifo), str(tmp_path / "last.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        with open(fifo, "wb"):  # (open waits for the reader: the command has opened the FIFO)
            pass
        out, err = proc.communicate(timeout=60)
    assert (proc.returncode, _messages(out), err) == (0, ["one\n", "two\n"], b"")
