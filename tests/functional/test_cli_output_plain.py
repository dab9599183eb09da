"""Where there is no ``poll()`` (Windows), the CLI reads and writes with plain blocking calls:
the waits that one Ctrl-C ends are POSIX only, and nothing else depends on them. Run here with
``select.poll`` taken away and the switch off, through a real pipe."""

from __future__ import annotations

import subprocess
import sys

from logstream import testing as t
from tests.conftest import ROOT

RUN = (
    "import select, sys\n"
    "import logstream.cli.output as output\n"
    "output.POSIX_WAITS = False\n"
    "del select.poll\n"  # any use of it now fails
    "from logstream.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_given_no_poll_when_decoding_a_file_and_stdin_to_a_pipe_then_every_line_as_usual(tmp_path):
    doc = t.make_document([f"line {i}\n" for i in range(20_000)], log_group="/aws/lambda/a")
    path = tmp_path / "event.json"
    path.write_bytes(t.document_json(doc))
    expected = subprocess.run(
        [sys.executable, "-m", "logstream", "decode", "--messages", str(path)],
        capture_output=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert expected == b"".join(f"line {i}\n".encode() for i in range(20_000))
    for args, stdin in (([str(path)], None), ([], path.read_bytes())):
        done = subprocess.run(
            [sys.executable, "-c", RUN, "decode", "--messages", *args],
            input=stdin,
            capture_output=True,
            cwd=ROOT,
            timeout=60,
        )
        assert (done.returncode, done.stderr, done.stdout) == (0, b"", expected)


def test_given_no_poll_when_an_input_is_missing_then_the_error_line_and_exit_1(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RUN, "decode", str(tmp_path / "missing.json")],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.decode() == f"logstream: {tmp_path / 'missing.json'}: No such file or directory\n"
