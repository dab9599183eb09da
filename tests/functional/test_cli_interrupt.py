"""Ctrl-C at any moment of the ``logstream`` command (the console script, as installed) ends it
by SIGINT without a traceback: while Python imports the CLI, and just before it waits for input.

Deterministic, no sleeps: a ``sitecustomize`` hook (on PYTHONPATH, only for these runs) stops the
child at a chosen import, says so through a pipe and waits on another; the test sends SIGINT
while the child is parked there, then lets it go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LOGSTREAM = str(Path(sys.executable).parent / "logstream")  # the console script of this environment

HOOK = '''\
import os
import sys

_point = os.environ.get("LOGSTREAM_TEST_PAUSE_AT")
if _point:
    _ready = int(os.environ["LOGSTREAM_TEST_READY_FD"])
    _go = int(os.environ["LOGSTREAM_TEST_GO_FD"])

    class _Pause:
        """Parks the process when the module ``_point`` is about to be imported."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == _point:
                os.write(_ready, b"r")
                os.read(_go, 1)  # until the test closes its end
            return None

    sys.meta_path.insert(0, _Pause)
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
    ],
)
def test_given_ctrl_c_while_the_command_starts_then_it_ends_by_sigint_without_a_traceback(point, hook_dir):
    """Before: a KeyboardInterrupt traceback on stderr for every import point (Ctrl-C in the
    first 60-150 ms of every run)."""
    status, out, err = interrupted_at(point, hook_dir, "decode", "--parse")
    assert (status, out, err) == (-signal.SIGINT, b"", "")


def test_given_sigint_ignored_by_the_parent_when_sent_during_start_up_then_still_ignored(hook_dir):
    """``logstream ... &`` in a script: the shell ignores SIGINT for it, and the command must not
    take the launcher's default action back."""
    status, out, err = interrupted_at("msgspec", hook_dir, "decode", ignore_sigint=True)
    assert (status, out, err) == (0, b"", "")
