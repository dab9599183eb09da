"""Ctrl-C at any moment of the ``logstream`` command (the console script, as installed) ends it
by SIGINT without a traceback: while Python imports the CLI, and just before it waits for input.

Deterministic, no sleeps: a ``sitecustomize`` hook (on PYTHONPATH, only for these runs) stops the
child at a chosen import, says so through a pipe and waits on another; the test sends SIGINT
while the child is parked there, then lets it go on. For the read, the hook has another thread
take SIGINT, which is what a signal landing just before the main thread's read() amounts to."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from logstream import testing as t
from tests.conftest import ROOT

LOGSTREAM = str(Path(sys.executable).parent / "logstream")  # the console script of this environment

HOOK = '''\
import os
import sys

_point = os.environ.get("LOGSTREAM_TEST_PAUSE_AT")
if _point:
    _ready = int(os.environ["LOGSTREAM_TEST_READY_FD"])
    _go = int(os.environ["LOGSTREAM_TEST_GO_FD"])

    def _park():
        os.write(_ready, b"r")
        os.read(_go, 1)  # until the test closes its end

    class _Pause:
        """Parks the process when the module ``_point`` is about to be imported."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == _point:
                _park()
            return None

    if _point == "exit":  # the interpreter's shutdown, after the command's work
        import atexit

        atexit.register(_park)
    else:
        sys.meta_path.insert(0, _Pause)

if os.environ.get("LOGSTREAM_TEST_SIGINT_ELSEWHERE"):
    # SIGINT reaches another thread: its C-level handler runs there (the flag is set, the
    # wakeup pipe written) while the main thread, which blocks SIGINT, is not interrupted: what
    # happens when the signal lands after the main thread's last check and before its read()
    import signal
    import threading

    threading.Thread(target=threading.Event().wait, daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
'''


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hook")
    (d / "sitecustomize.py").write_text(HOOK)
    return d


def interrupted_at(point: str, hook_dir: Path, *args: str, ignore_sigint: bool = False, exe: str = LOGSTREAM):
    """Start ``logstream ARGS`` (stdin empty), send it SIGINT while it is parked just before
    importing ``point``, then let it go on; its exit status, stdout and stderr."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
        "LOGSTREAM_TEST_PAUSE_AT": point,
        "LOGSTREAM_TEST_READY_FD": str(ready_w),
        "LOGSTREAM_TEST_GO_FD": str(go_r),
    }
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    with subprocess.Popen(
        [exe, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        pass_fds=(ready_w, go_r),
        preexec_fn=ignore,
    ) as proc:
        os.close(ready_w)
        os.close(go_r)
        try:
            assert os.read(ready_r, 1) == b"r", f"the command never imported {point}"
            proc.send_signal(signal.SIGINT)
        finally:
            os.close(go_w)  # (had the signal been ignored, the command goes on from there)
            os.close(ready_r)
        out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err.decode()


@pytest.mark.parametrize(
    "point",
    [
        "logstream",  # the launcher's first import: the package's __init__
        "msgspec",  # deep in the decoder's imports
        "logstream.cli.replay",  # the CLI's last module
        "logstream.process",  # after main took over: decode's processing flags, imported lazily
        "exit",  # the interpreter's shutdown, once the work is done (atexit)
    ],
)
def test_given_ctrl_c_while_the_command_starts_then_it_ends_by_sigint_without_a_traceback(point, hook_dir):
    """Before: a KeyboardInterrupt traceback on stderr for every import point (Ctrl-C in the
    first 60-150 ms of every run), and 'Exception ignored in atexit callback' with one at exit."""
    status, out, err = interrupted_at(point, hook_dir, "decode", "--parse")
    assert (status, out, err) == (-signal.SIGINT, b"", "")


def test_given_sigint_ignored_by_the_parent_when_sent_during_start_up_then_still_ignored(hook_dir):
    """``logstream ... &`` in a script: the shell ignores SIGINT for it, and the command must not
    take the launcher's default action back."""
    status, out, err = interrupted_at("msgspec", hook_dir, "decode", ignore_sigint=True)
    assert (status, out, err) == (0, b"", "")


# ----------------------------------------------------------------------------- before a read
def _main_thread_state(pid: int) -> str:
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _until_waiting(pid: int) -> None:
    """Until the main thread sleeps (the caller knows it has nothing left to wait for but input,
    or room in a full output)."""
    end = time.monotonic() + 60
    while _main_thread_state(pid) != "S":
        assert time.monotonic() < end, "the command never waited (for input or for room)"
        time.sleep(0.01)


def _ended_by_ctrl_c(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        status = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("Ctrl-C did not end the command: it still waits for input (a second Ctrl-C was needed)")
    return status, proc.stderr.read().decode()


def _elsewhere(hook_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
        "LOGSTREAM_TEST_SIGINT_ELSEWHERE": "1",
    }


def _decode(hook_dir: Path, *files: str, stdin: Any = subprocess.DEVNULL, stdout: Any = subprocess.PIPE):
    """`logstream decode FILES` started with SIGINT taken elsewhere (see the hook), stderr a pipe."""
    return subprocess.Popen(
        [LOGSTREAM, "decode", *files],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=_elsewhere(hook_dir),
    )


def test_given_ctrl_c_just_before_the_first_read_of_the_terminal_then_it_ends_by_sigint(hook_dir):
    """Before: read() of stdin went on waiting for input after the first Ctrl-C."""
    master, slave = pty.openpty()
    with _decode(hook_dir, stdin=slave) as proc:
        os.close(slave)
        hint = proc.stderr.readline()  # written just before the first read
        assert hint.startswith(b"logstream: reading stdin from the terminal")
        _until_waiting(proc.pid)
        status, err = _ended_by_ctrl_c(proc)
    os.close(master)
    assert (status, err) == (-signal.SIGINT, "")


def test_given_ctrl_c_just_before_a_read_of_a_pipe_then_it_ends_by_sigint(hook_dir):
    """A producer that pauses (`tail -f | logstream decode`): the same after a document."""
    event = json.dumps(t.lambda_event(t.make_document(["one\n"]))).encode()
    with _decode(hook_dir, stdin=subprocess.PIPE) as proc:
        proc.stdin.write(event + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["message"] == "one\n"  # then it waits for more
        _until_waiting(proc.pid)
        status, err = _ended_by_ctrl_c(proc)
        proc.stdin.close()
    assert (status, err) == (-signal.SIGINT, "")


def test_given_ctrl_c_just_before_a_write_to_a_full_pipe_then_it_ends_by_sigint(hook_dir, tmp_path):
    """`logstream decode big | sleep 100`: the reader takes nothing, the pipe fills and the write
    waits. Before: a SIGINT that landed just before write() left it waiting for the reader (a
    second Ctrl-C was needed)."""
    doc = t.make_document([f"event {i} " + "x" * 200 + "\n" for i in range(2_000)])
    big = tmp_path / "big.json"
    big.write_text(json.dumps(t.lambda_event(doc)))  # ~500 KB of NDJSON out: more than a pipe holds
    with _decode(hook_dir, str(big)) as proc:
        assert os.read(proc.stdout.fileno(), 1) == b"{"  # it writes (past start-up), then the pipe fills
        _until_waiting(proc.pid)
        status, err = _ended_by_ctrl_c(proc)
    assert (status, err) == (-signal.SIGINT, "")


def test_given_ctrl_c_just_before_opening_a_fifo_without_a_writer_then_it_ends_by_sigint(hook_dir, tmp_path):
    """`logstream decode first.json /tmp/fifo` before anything writes to the FIFO. Before: open()
    of the FIFO waited for a writer after the first Ctrl-C."""
    first = tmp_path / "first.json"
    first.write_text(json.dumps(t.lambda_event(t.make_document(["first\n"]))))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with _decode(hook_dir, str(first), str(fifo)) as proc:
        assert json.loads(proc.stdout.readline())["message"] == "first\n"  # then it opens the FIFO
        _until_waiting(proc.pid)
        status, err = _ended_by_ctrl_c(proc)
    assert (status, err) == (-signal.SIGINT, "")


# Where the writer can neither write non-blocking once (a kernel before 6.4) nor open the pipe
# again non-blocking (no /proc), it polls before each write of at most PIPE_BUF bytes: the same
# wait, the same one Ctrl-C. Run in a process of its own, with both made to fail, and SIGINT
# taken by another thread as above. (test_cli_output_descriptors forces each way in the command.)
WITHOUT_PROC = """\
import os, signal, sys, threading
from logstream.cli import output

output._NOWAIT = 0
output._reopen_nonblocking = lambda fd: -1
signal.signal(signal.SIGINT, signal.default_int_handler)
threading.Thread(target=threading.Event().wait, daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
os.write(2, b"r")
try:
    output.write_all(1, bytes(range(256)) * 4096)
except KeyboardInterrupt:
    sys.exit(42)
"""


def _without_proc() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_PROC], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )


def test_given_no_second_open_of_the_pipe_when_the_reader_is_slow_then_every_byte_arrives():
    with _without_proc() as proc:
        assert proc.stderr.read(1) == b"r"
        got = []
        while chunk := os.read(proc.stdout.fileno(), 1000):  # (odd sizes: the writer waits often)
            got.append(chunk)
    assert proc.returncode == 0
    assert b"".join(got) == bytes(range(256)) * 4096


def test_given_no_second_open_of_the_pipe_when_ctrl_c_just_before_a_write_to_it_full_then_interrupted():
    with _without_proc() as proc:
        assert proc.stderr.read(1) == b"r"  # set up: the main thread writes until the pipe is full
        _until_waiting(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("Ctrl-C did not end the write: it still waits for the reader")
    assert status == 42


def test_given_ctrl_c_just_before_an_error_line_to_a_full_stderr_pipe_then_it_ends_by_sigint(
    hook_dir, tmp_path
):
    """`logstream decode app.log 2>&1 | less` with a reader that takes nothing: the error lines
    fill the pipe as the events do (the same wait, the same one Ctrl-C)."""
    text = tmp_path / "app.log"
    text.write_text("a plain line is not data\n" * 20_000)  # ~2 MB of errors, one per line
    with _decode(hook_dir, str(text), stdout=subprocess.DEVNULL) as proc:
        assert os.read(proc.stderr.fileno(), 1) == b"l"  # it reports (past start-up), the pipe fills
        _until_waiting(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("Ctrl-C did not end the command: it still waits for room on stderr")
    assert status == -signal.SIGINT
