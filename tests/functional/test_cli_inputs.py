"""Input as users have it: plain text kept exactly, lines that only look like payloads, pretty
JSON, `aws logs tail` text, folders, filters, a producer that pauses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import pytest

from logstream import testing as t
from tests.conftest import ROOT, run_cli

REPORT = (
    "REPORT RequestId: {id}\tDuration: {ms}.00 ms\tBilled Duration: {ms} ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 60 MB\t"
)
PLAIN = (
    b"[INFO]\t2024-05-01T12:00:00.000Z\tabc\tPython's first line starts with a bracket\n"
    b"Starting\n"
    b"0123456789abcdef0123456789abcdef\n"
    b"Finished\n"
    b"\n"
    b"  indented, trailing spaces  \r\n"
    + REPORT.format(id="r1", ms=5).encode()
    + b"\n"
    + b'{"level":"info","msg":"a JSON application log line"}\n'
    b"\xe2\x80\xa8 unicode line separator and tab\t\n"
)


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.split(b"\n") if line]


def test_given_plain_text_when_encode_then_decode_messages_gives_it_back_byte_for_byte():
    enc = run_cli("encode", stdin=PLAIN)
    assert enc.returncode == 0, enc.stderr
    back = run_cli("decode", "--messages", stdin=enc.stdout)
    assert back.returncode == 0, back.stderr
    assert back.stdout == PLAIN


@pytest.mark.parametrize("window", [("--until", "2024-01-01"), ("--since", "2999-01-01")])
def test_given_plain_text_and_a_time_window_not_holding_now_when_encode_then_every_line_kept(window):
    # plain lines have no time: time filters pass them (encode stamps them with the time of the run)
    enc = run_cli("encode", *window, stdin=PLAIN)

    dec = run_cli("decode", "--messages", stdin=enc.stdout)
    assert (enc.returncode, dec.returncode) == (0, 0), enc.stderr + dec.stderr
    assert dec.stdout == PLAIN


def test_given_plain_text_when_encode_then_one_event_per_line_each_with_its_own_id():
    events = lines(run_cli("decode", "-o", "ndjson", stdin=run_cli("encode", stdin=PLAIN).stdout).stdout)
    assert len(events) == 9
    assert len({e["id"] for e in events}) == 9
    assert events[6]["message"] == REPORT.format(id="r1", ms=5) + "\n"  # trailing tab kept


def test_given_text_and_documents_mixed_when_encode_then_every_id_unique_and_documents_kept():
    doc = t.make_document(["from a document\n"], log_group="/aws/lambda/other")
    stdin = (
        b"text one\n" + msgspec.json.encode(doc) + b"\ntext two\n" + t.encode_payload(doc).encode() + b"\n"
    )
    out = lines(run_cli("decode", "-o", "ndjson", stdin=run_cli("encode", stdin=stdin).stdout).stdout)
    assert [(e["logGroup"], e["message"]) for e in out] == [
        ("/aws/lambda/example", "text one\n"),
        ("/aws/lambda/other", "from a document\n"),
        ("/aws/lambda/example", "text two\n"),
        ("/aws/lambda/other", "from a document\n"),
    ]
    assert len({e["id"] for e in out if e["logGroup"] == "/aws/lambda/example"}) == 2
    assert out[1]["id"] == doc["logEvents"][0]["id"]


def test_given_lines_that_look_like_base64_then_plain_text_for_report_and_encode():
    stdin = b"Starting\nFinished\n0123456789abcdef0123456789abcdef\n" + REPORT.format(id="r2", ms=7).encode()
    res = run_cli("report", stdin=stdin)
    assert res.returncode == 0 and res.stderr == b""
    assert [r["requestId"] for r in lines(res.stdout)] == ["r2"]
    enc = run_cli("encode", stdin=stdin)
    assert enc.returncode == 0 and enc.stderr == b""


def test_given_plain_text_when_decode_then_each_line_named_as_not_decodable():
    res = run_cli("decode", stdin=b"Starting\nnot a payload\n")
    assert res.returncode == 1
    assert res.stderr.decode().splitlines() == [
        "logstream: <stdin>: line 1: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line",
        "logstream: <stdin>: line 2: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line",
    ]


def test_given_pretty_documents_between_text_lines_then_report_reads_both():
    doc = t.make_document([REPORT.format(id="in-doc", ms=3) + "\n"], log_group="/aws/lambda/fn")
    pretty = json.dumps(t.lambda_event(doc), indent=2).encode()
    stdin = (
        REPORT.format(id="before", ms=1).encode()
        + b"\n"
        + pretty
        + b"\n"
        + REPORT.format(id="after", ms=2).encode()
    )
    out = lines(run_cli("report", stdin=stdin).stdout)
    assert [(r["requestId"], r.get("functionName")) for r in out] == [
        ("before", None),
        ("in-doc", "fn"),
        ("after", None),
    ]


def test_given_pretty_document_with_error_then_line_of_the_document_named():
    stdin = b"\n\n" + json.dumps({"awslogs": {"data": "bm90IGd6aXA="}}, indent=2).encode() + b"\n"
    res = run_cli("decode", stdin=stdin)
    assert res.returncode == 1
    assert res.stderr.decode().startswith("logstream: <stdin>: line 3: ")


def test_given_byte_order_mark_then_ignored():
    doc = t.make_document(["bom\n"])
    res = run_cli("decode", "--messages", stdin=b"\xef\xbb\xbf" + msgspec.json.encode(t.lambda_event(doc)))
    assert res.returncode == 0 and res.stdout == b"bom\n"


def test_given_files_with_byte_order_marks_concatenated_then_every_mark_ignored():
    """``cat *.json | logstream decode`` of files saved by Notepad or PowerShell 5: a byte order
    mark starts each file. Before, every document after the first one was 'neither JSON, a base64
    payload nor an aws logs tail line' (once per line of a pretty one)."""
    bom = b"\xef\xbb\xbf"
    docs = [t.make_document([f"file {i}\n"], log_stream=f"s{i}") for i in range(3)]
    files = [
        msgspec.json.encode(t.lambda_event(docs[0])) + b"\r\n",
        json.dumps(t.lambda_event(docs[1]), indent=2).encode() + b"\n",
        t.encode_payload(docs[2]).encode() + b"\n",
    ]
    res = run_cli("decode", "--messages", stdin=b"".join(bom + f for f in files))
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == b"file 0\nfile 1\nfile 2\n"
    enc = run_cli("encode", stdin=bom + b"line one\n" + bom + b"line two\n")
    back = run_cli("decode", "--messages", stdin=enc.stdout)
    assert back.stdout == b"line one\nline two\n"


def test_given_files_with_byte_order_marks_and_no_final_line_break_concatenated_then_every_document():
    """``cat a.json b.json`` where a.json ends without a line break: b.json's byte order mark is
    glued to a.json's closing brace, on one line. Before, that line was one 'invalid JSON' error
    and both documents were lost."""
    bom = b"\xef\xbb\xbf"
    docs = [t.make_document([f"file {i}\n"], log_stream=f"s{i}") for i in range(2)]
    files = [bom + msgspec.json.encode(t.lambda_event(doc)) for doc in docs]
    res = run_cli("decode", "--messages", stdin=b"".join(files) + b"\n")
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout == b"file 0\nfile 1\n"


def test_given_json_line_over_a_mebibyte_then_streamed_glued_documents_all_decoded():
    docs = [t.make_document([f"{i}:" + "x" * 5000 for _ in range(60)], log_stream=f"s{i}") for i in range(8)]
    glued = b"".join(msgspec.json.encode(d) for d in docs)
    assert len(glued) > 2 << 20
    res = run_cli("decode", "-o", "ndjson", stdin=glued + b"\n")
    assert res.returncode == 0, res.stderr
    assert [e["logStream"] for e in lines(res.stdout)] == [f"s{i}" for i in range(8) for _ in range(60)]


# ------------------------------------------------------------------------------- aws logs tail
TAIL = (
    "2024-05-01T12:00:00.123000+00:00 2024/05/01/[$LATEST]abc START RequestId: t1 Version: $LATEST\n"
    "2024-05-01T12:00:01+00:00 2024/05/01/[$LATEST]abc REPORT RequestId: t1\tDuration: 9.50 ms\t"
    "Billed Duration: 10 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\n"
    "XRAY TraceId: 1-5e1b4151-5ac6c58f5b6a7e1d2f0e4a3c\tSegmentId: 6a8f9b2c\tSampled: true\n"
    "2024-05-01T12:00:02.500000+00:00 2024/05/01/[$LATEST]def Traceback (most recent call last):\n"
    '  File "app.py", line 1\n'
)


def test_given_aws_logs_tail_text_then_decode_gives_time_stream_and_whole_messages():
    out = lines(run_cli("decode", "-o", "ndjson", stdin=TAIL.encode()).stdout)
    assert [(e["timestamp"], e["logStream"], e["message"]) for e in out] == [
        (1714564800123, "2024/05/01/[$LATEST]abc", "START RequestId: t1 Version: $LATEST\n"),
        (
            1714564801000,
            "2024/05/01/[$LATEST]abc",
            "REPORT RequestId: t1\tDuration: 9.50 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 70 MB\nXRAY TraceId: 1-5e1b4151-5ac6c58f5b6a7e1d2f0e4a3c\tSegmentId: 6a8f9b2c\t"
            "Sampled: true\n",
        ),
        (
            1714564802500,
            "2024/05/01/[$LATEST]def",
            'Traceback (most recent call last):\n  File "app.py", line 1\n',
        ),
    ]
    assert len({e["id"] for e in out}) == 3


def test_given_aws_logs_tail_text_then_report_finds_the_invocation_with_its_trace():
    out = lines(run_cli("report", stdin=TAIL.encode()).stdout)
    assert out == [
        {
            "requestId": "t1",
            "timestamp": 1714564801000,
            "durationMs": 9.5,
            "billedDurationMs": 10,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 70,
            "coldStart": False,
            "timeout": False,
            "outOfMemory": False,
            "xrayTraceId": "1-5e1b4151-5ac6c58f5b6a7e1d2f0e4a3c",
        }
    ]


# ------------------------------------------------------------------------------------ filters
def _three_groups() -> bytes:
    docs = [
        t.make_document(
            ["a1\n", "a2\n", "a3\n"], log_group="/aws/lambda/a", start_ms=1_714_564_800_000, step_ms=60_000
        ),
        t.make_document(["b1\n"], log_group="/aws/lambda/b", start_ms=1_714_564_860_000),
        t.make_document(["c1\n"], log_group="/ecs/c", start_ms=1_714_564_860_000),
    ]
    return msgspec.json.encode(t.kinesis_event(docs))


def test_given_log_group_globs_then_only_matching_groups():
    res = run_cli("decode", "--messages", "--log-group", "/aws/lambda/*", stdin=_three_groups())
    assert res.stdout == b"a1\na2\na3\nb1\n"
    res = run_cli(
        "decode", "--messages", "--log-group", "/ecs/*", "--log-group", "*/b", stdin=_three_groups()
    )
    assert res.stdout == b"b1\nc1\n"


def test_given_since_and_until_then_events_in_the_half_open_range():
    res = run_cli(
        "decode",
        "--messages",
        "--since",
        "2024-05-01T12:01:00Z",
        "--until",
        "2024-05-01T12:02:00+00:00",
        stdin=_three_groups(),
    )
    assert res.stdout == b"a2\nb1\nc1\n"


def test_given_relative_since_then_counted_back_from_now():
    now = int(time.time() * 1000)
    doc = t.make_document([(now - 3 * 3600_000, "old\n"), (now - 60_000, "recent\n")])
    res = run_cli("decode", "--messages", "--since", "2h", stdin=msgspec.json.encode(t.lambda_event(doc)))
    assert res.stdout == b"recent\n"


def test_given_documents_and_time_filter_then_documents_with_an_event_in_range_whole():
    res = run_cli("decode", "--documents", "--since", "2024-05-01T12:02:00Z", stdin=_three_groups())
    assert [d["logGroup"] for d in lines(res.stdout)] == ["/aws/lambda/a"]
    assert len(lines(res.stdout)[0]["logEvents"]) == 3


def test_given_filters_on_report_then_applied_to_documents_not_to_timeless_plain_lines():
    doc = t.make_document([REPORT.format(id="old", ms=1)], log_group="/aws/lambda/f", start_ms=1_000)
    stdin = (
        msgspec.json.encode(t.lambda_event(doc)) + b"\n" + REPORT.format(id="plain", ms=2).encode() + b"\n"
    )
    out = lines(run_cli("report", "--since", "2024-01-01", stdin=stdin).stdout)
    assert [r["requestId"] for r in out] == ["plain"]


# ------------------------------------------------------------------------------------ sources
def test_given_directory_then_recursive_reads_every_file_in_path_order(tmp_path):
    for rel, msg in (("b/2.json", "b2"), ("a.json", "a"), ("b/1/x.json", "b1x")):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(msgspec.json.encode(t.lambda_event(t.make_document([msg + "\n"]))))
    res = run_cli("decode", "--messages", "-r", str(tmp_path))
    assert res.returncode == 0 and res.stdout == b"a\nb1x\nb2\n"
    res = run_cli("decode", str(tmp_path))
    assert res.returncode == 1
    assert (
        res.stderr.decode() == f"logstream: {tmp_path}: is a directory (use -r to read every file under it)\n"
    )


def test_given_pausing_producer_then_each_document_printed_before_the_next_arrives():
    with subprocess.Popen(
        [sys.executable, "-m", "logstream", "decode", "-o", "ndjson"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        for i in range(3):  # the next document is sent only once the previous one came out
            proc.stdin.write(t.encode_payload(t.make_document([f"doc {i}\n"])).encode() + b"\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["message"] == f"doc {i}\n"
        proc.stdin.close()
    assert proc.returncode == 0


def test_given_pausing_producer_of_gzip_members_then_each_member_printed_before_the_next_arrives():
    with subprocess.Popen(
        [sys.executable, "-m", "logstream", "decode", "-o", "ndjson"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        for i in range(3):  # an S3 object's gzip members arriving one by one
            proc.stdin.write(t.s3_object([t.make_document([f"member {i}\n"])]))
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["message"] == f"member {i}\n"
        proc.stdin.close()
    assert proc.returncode == 0


def test_given_stdin_name_in_errors_and_files_by_path(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok?\n")
    res = run_cli("decode", str(bad), "-", stdin=b"\nnope\n")
    assert res.stderr.decode().splitlines() == [
        f"logstream: {bad}: line 1: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line",
        "logstream: <stdin>: line 2: envelope: neither JSON, a base64 payload nor an 'aws logs tail' line",
    ]


def _unprivileged() -> list[str]:
    """The command prefix that runs a command without the privilege to read every file: as root
    (CI), root without the capabilities that override file modes (so mode 000 stops it, and it
    still reads its own checkout and virtual environment, which another user may not: a clone
    in a directory of mode 0700); otherwise the user as is (mode 000 is unreadable already)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture
def shared_dir():
    """A directory the unprivileged user can enter (pytest's own is its owner's alone)."""
    path = Path(tempfile.mkdtemp(prefix="logstream-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(path)


def _event_file(path: Path, message: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.encode(t.lambda_event(t.make_document([message + "\n"]))))
    path.chmod(0o644)


def test_given_unreadable_directories_under_r_then_each_named_and_every_other_file_read(shared_dir):
    """Before: os.walk passed over a directory it could not list without a word (exit 0, its
    files silently missing), and over the top directory itself (nothing read, exit 0)."""
    tree = shared_dir / "tree"
    for rel in ("a/1.json", "b/2.json", "b/c/3.json", "d.json"):
        _event_file(tree / rel, rel)
    for d in (tree, tree / "a", tree / "b", tree / "b" / "c"):
        d.chmod(0o755)
    (tree / "b").chmod(0o000)
    (tree / "d.json").chmod(0o000)
    done = subprocess.run(
        [*_unprivileged(), sys.executable, "-m", "logstream", "decode", "--messages", "-r", "tree"],
        capture_output=True,
        cwd=shared_dir,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (1, b"a/1.json\n")
    assert done.stderr.decode().splitlines() == [
        "logstream: tree/b: Permission denied",
        "logstream: tree/d.json: Permission denied",
    ]
    tree.chmod(0o000)
    _event_file(shared_dir / "ok.json", "next input")
    top = subprocess.run(
        [
            *_unprivileged(),
            sys.executable,
            "-m",
            "logstream",
            "decode",
            "--messages",
            "-r",
            "tree",
            "ok.json",
        ],
        capture_output=True,
        cwd=shared_dir,
        timeout=120,
    )
    assert (top.returncode, top.stdout) == (1, b"next input\n")
    assert top.stderr.decode().splitlines() == ["logstream: tree: Permission denied"]
