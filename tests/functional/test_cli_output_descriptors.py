"""What the CLI's writer does with the descriptors it is given as stdout and stderr, whatever
they are: the read end of a pipe, a stream socket, a pipe it cannot open again, a kernel without
non-blocking single writes. Every byte arrives in order or the run says why; the descriptions it
shares with other processes keep their mode; one Ctrl-C ends a wait for room.

The paths the writer picks by kernel and permissions are forced here in a process of its own (a
script that sets them, then writes), so every path is tested on any kernel."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys

import pytest

from logstream import testing as t
from tests.conftest import ROOT
from tests.functional.test_cli_interrupt import _until_waiting  # the main thread asleep

CMD = [sys.executable, "-m", "logstream"]


def _docs(n: int, events: int = 50) -> list[dict]:
    return [
        t.make_document(
            [f"message {i}-{j} " + "z" * (j % 61) + "\n" for j in range(events)], log_stream=f"s{i}"
        )
        for i in range(n)
    ]


def _expected_lines(docs: list[dict]) -> bytes:
    """decode's NDJSON, written out with the standard library (not the code under test)."""
    out = []
    for d in docs:
        ctx = {k: d[k] for k in ("owner", "logGroup", "logStream", "subscriptionFilters")}
        out += [json.dumps({**ctx, **e}, separators=(",", ":")) + "\n" for e in d["logEvents"]]
    return "".join(out).encode()


def _pending(fd: int) -> bytes:
    """What a pipe holds now, without waiting."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


# ------------------------------------------------------------------- the read end of a pipe
def test_given_stdout_the_read_end_of_a_pipe_then_cannot_write_output_and_nothing_goes_into_the_pipe(
    tmp_path,
):
    """A parent that hands over the wrong end (or ``>&0`` with stdin a pipe). Before: the writer
    opened the pipe again for writing through /proc, so the NDJSON went into the pipe the
    command was meant to read (exit 0, the output lost); more than the pipe holds and it waited
    forever. As before that writer: 'cannot write output: Bad file descriptor', exit 1."""
    path = tmp_path / "in.json"
    path.write_text(json.dumps(t.lambda_event(_docs(1, events=3)[0])))
    r, w = os.pipe()
    try:
        res = subprocess.run(
            [*CMD, "decode", str(path)], stdout=r, stderr=subprocess.PIPE, cwd=ROOT, timeout=60
        )
        assert (res.returncode, res.stderr) == (1, b"logstream: cannot write output: Bad file descriptor\n")
        assert _pending(r) == b""
    finally:
        os.close(r)
        os.close(w)


def test_given_stderr_the_read_end_of_a_pipe_when_many_errors_then_they_are_lost_and_the_run_ends(tmp_path):
    """Errors to a stderr that cannot be written are lost, the exit status still says 1. Before:
    they went into the pipe, and 300 KB of them (more than it holds) made the run wait forever."""
    bad = tmp_path / "app.log"
    bad.write_text("a plain line is not data\n" * 3_000)
    r, w = os.pipe()
    try:
        try:
            res = subprocess.run(
                [*CMD, "decode", str(bad)], stdout=subprocess.PIPE, stderr=r, cwd=ROOT, timeout=60
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                "the run waited for room in a pipe nobody reads (its errors went into its own stderr pipe)"
            )
        assert (res.returncode, res.stdout) == (1, b"")
        assert _pending(r) == b""
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------ every way of writing, forced
# The command run by a script that first takes ways away from the writer (as a kernel before
# 6.4, a Python without pwritev2, no /proc, a pipe of another user or macOS do), then runs main().
# SIGINT_ELSEWHERE: another thread takes SIGINT, which is what a signal landing just before the
# main thread's write amounts to (see test_cli_interrupt).
FORCED = """\
import os, signal, sys, threading
from logstream.cli import main, output

how = sys.argv[1]
if how in ("reopen", "poll", "blocking"):
    output._NOWAIT = 0  # a kernel before 6.4 (pipes take no RWF_NOWAIT), macOS
if how == "no-pwritev2":
    def _flags_unavailable(*args):
        raise NotImplementedError("pwritev2")
    os.pwritev = _flags_unavailable
if how in ("poll", "blocking"):
    output._reopen_nonblocking = lambda fd: -1  # no /proc, a pipe of another user, macOS
if how == "blocking":
    output._PIPE_CHUNK = 0  # PIPE_BUF is 512: macOS, the BSDs
if os.environ.get("SIGINT_ELSEWHERE"):
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
sys.exit(main(sys.argv[2:]))
"""
WAYS = ["nowait", "no-pwritev2", "reopen", "poll"]


def _forced(how: str, *args: str, elsewhere: bool = False, **popen) -> subprocess.Popen:
    env = {**os.environ, "SIGINT_ELSEWHERE": "1"} if elsewhere else None
    return subprocess.Popen([sys.executable, "-c", FORCED, how, *args], cwd=ROOT, env=env, **popen)


def _big(tmp_path, docs_n: int = 8, events: int = 600) -> tuple[list[dict], str]:
    """An S3 object whose NDJSON is far more than a pipe or a socket buffer holds."""
    docs = _docs(docs_n, events)
    path = tmp_path / "object.gz"
    path.write_bytes(t.s3_object(docs))
    return docs, str(path)


def _read_slowly(fd: int, proc: subprocess.Popen) -> bytes:
    """Everything until the end, in odd sizes, stopping and continuing the writer as it goes
    (it finds the pipe full, waits and resumes again and again)."""
    got = []
    while chunk := os.read(fd, 1000):
        got.append(chunk)
        if len(got) % 50 == 0:
            os.kill(proc.pid, signal.SIGSTOP)
            os.kill(proc.pid, signal.SIGCONT)
    return b"".join(got)


@pytest.mark.parametrize("how", [*WAYS, "blocking"])
def test_given_each_way_of_writing_a_pipe_when_the_reader_is_slow_then_every_byte_in_order(how, tmp_path):
    docs, path = _big(tmp_path)
    with _forced(how, "decode", path, stdout=subprocess.PIPE) as proc:
        got = _read_slowly(proc.stdout.fileno(), proc)
    assert proc.returncode == 0
    assert got == _expected_lines(docs)


def _blocking_while_it_waits(pid: int, fd: int = 1) -> bool:
    """Whether the command's ``fd`` (shared with whoever gave it) is still blocking as it waits."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        flags = next(int(line.split()[1], 8) for line in f if line.startswith("flags:"))
    return not flags & os.O_NONBLOCK


def _ended_by_one_ctrl_c(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("one Ctrl-C did not end the write: it still waits for the reader")


@pytest.mark.parametrize("how", WAYS)
def test_given_each_way_of_writing_a_pipe_when_ctrl_c_lands_just_before_a_write_to_it_full_then_it_ends(
    how, tmp_path
):
    _, path = _big(tmp_path)
    with _forced(how, "decode", path, elsewhere=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert os.read(proc.stdout.fileno(), 1) == b"{"  # it writes, then the pipe fills
        _until_waiting(proc.pid)
        assert _blocking_while_it_waits(proc.pid)
        status = _ended_by_one_ctrl_c(proc)
        assert proc.stderr.read() == b""
    assert status == 130  # (main() called with arguments returns it; the command ends by SIGINT)


# ------------------------------------------------------------------------------- sockets
def test_given_stdout_and_stderr_one_stream_socket_when_the_reader_is_slow_then_every_line_in_order(tmp_path):
    """Node.js's child_process and systemd's journal give a socket as stdout. Before: written
    in PIPE_BUF pieces, each after a poll() (400 MB took a third longer than with blocking writes)."""
    docs, path = _big(tmp_path)
    first = tmp_path / "first.json"
    first.write_text(json.dumps(t.lambda_event(docs[0])))
    bad = tmp_path / "bad.txt"
    bad.write_text("not data\n")
    mine, theirs = socket.socketpair()
    with mine, theirs:
        with subprocess.Popen(
            [*CMD, "decode", str(first), str(bad), path], stdout=theirs, stderr=theirs, cwd=ROOT
        ) as proc:
            theirs.close()
            got = _read_slowly(mine.fileno(), proc)
    assert proc.returncode == 1
    error = f"logstream: {bad}: line 1: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line"
    # (the output held is written before each read of input: in the order of the input)
    assert got == _expected_lines(docs[:1]) + (error + "\n").encode() + _expected_lines(docs)


def test_given_a_packet_socket_as_stdout_then_every_byte_in_messages_of_at_most_pipe_buf(tmp_path):
    """A datagram or packet socket takes a write as one message: they stay small enough for it."""
    docs, path = _big(tmp_path, docs_n=2)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with mine, theirs:
        with subprocess.Popen([*CMD, "decode", path], stdout=theirs, cwd=ROOT) as proc:
            theirs.close()
            messages = list(iter(lambda: mine.recv(1 << 20), b""))
    assert proc.returncode == 0
    assert b"".join(messages) == _expected_lines(docs)
    assert max(map(len, messages)) <= select.PIPE_BUF


def test_given_a_stream_socket_as_stdout_when_ctrl_c_lands_just_before_a_write_to_it_full_then_it_ends(
    tmp_path,
):
    _, path = _big(tmp_path, docs_n=20)  # (a socket buffers more than a pipe)
    mine, theirs = socket.socketpair()
    with mine, theirs:
        with _forced("nowait", "decode", path, elsewhere=True, stdout=theirs, stderr=subprocess.PIPE) as proc:
            theirs.close()
            assert mine.recv(1) == b"{"
            _until_waiting(proc.pid)
            assert _blocking_while_it_waits(proc.pid)
            status = _ended_by_one_ctrl_c(proc)
            assert proc.stderr.read() == b""
    assert status == 130


# ---------------------------------------------------------- the shared descriptions' mode
def _nonblocking(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)


def _drain_until_exit(fd: int, proc: subprocess.Popen) -> None:
    """Read our end of the pipe until the command has exited and all it wrote is read (we hold
    a write end too, to look at it afterwards: no end of input comes)."""
    os.set_blocking(fd, False)  # (our own read end: no one else has it)
    while True:
        exited = proc.poll() is not None
        try:
            while os.read(fd, 1 << 16):
                pass
        except BlockingIOError:
            pass
        if exited:
            return
        select.select([fd], [], [], 0.1)


@pytest.mark.parametrize("end", ["done", "reader gone", "ctrl-c"])
@pytest.mark.parametrize("how", WAYS)
def test_given_stdin_stdout_and_stderr_pipes_shared_with_the_shell_then_they_stay_blocking(
    how, end, tmp_path
):
    """The open file descriptions are the shell's and other programs' too (``a | logstream |
    b``): a mode changed there (O_NONBLOCK) would make their reads and writes fail with EAGAIN."""
    _, path = _big(tmp_path)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        with _forced(
            how, "decode", "-", path, elsewhere=end == "ctrl-c", stdin=in_r, stdout=out_w, stderr=out_w
        ) as proc:
            os.write(in_w, b"not data\n")  # an error on stderr first, then the output
            os.close(in_w)
            in_w = -1
            assert os.read(out_r, 1) == b"l"
            if end == "done":
                _drain_until_exit(out_r, proc)
            elif end == "reader gone":
                os.close(out_r)
                out_r = -1
            else:
                _until_waiting(proc.pid)
                _ended_by_one_ctrl_c(proc)
            proc.wait(timeout=60)
        assert proc.returncode == {"done": 1, "reader gone": 141, "ctrl-c": 130}[end]
        assert (_nonblocking(in_r), _nonblocking(out_w)) == (False, False)
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            if fd >= 0:
                os.close(fd)


# ------------------------------------------------------------------ main() in a program
HOST = """\
import os, signal, sys
from logstream.cli import main

def held(path):
    fds = os.listdir("/proc/self/fd")
    return sorted(int(fd) for fd in fds if os.path.realpath(f"/proc/self/fd/{fd}") == path)

fifo = sys.argv[1]
status = main(["decode", sys.argv[2]])
print(status, held(fifo), signal.set_wakeup_fd(-1), flush=True)
"""


def test_given_main_called_by_a_program_with_stderr_a_fifo_when_it_returns_then_it_leaves_nothing_behind(
    tmp_path,
):
    """``logstream.cli.main(argv)`` inside another program. Before: the writer of its error
    messages kept its own open of the FIFO after main() returned, so the FIFO's reader saw no
    end of input after the program had closed its stderr, for as long as the program ran; and
    the signal wakeup file descriptor stayed set (Trio warns of one it did not set)."""
    fifo = tmp_path / "err.fifo"
    os.mkfifo(fifo)
    bad = tmp_path / "bad.txt"
    bad.write_text("not data\n")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # (there is a reader: a writer's open does not wait)
    try:
        with open(fifo, "wb") as err:
            done = subprocess.run(
                [sys.executable, "-c", HOST, str(fifo), str(bad)],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                timeout=60,
            )
        assert done.stdout == b"1 [2] -1\n"  # fd 2 only, its own; no wakeup fd left set
        assert os.read(reader, 1000).startswith(f"logstream: {bad}: line 1: ".encode())
    finally:
        os.close(reader)
