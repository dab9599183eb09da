"""The README's examples, run as a user runs them: the quick start line by line in a shell whose
stdout is a terminal (`logstream` found on PATH), the error lines and exit codes it quotes, and
the replay summary lines it shows (the queue one against moto's SQS). What the README shows is
compared with what comes out; only what it says varies (the time of `encode`) is let vary."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import pty
import re
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from logstream import testing as t
from tests import readme_text as readme
from tests.functional.test_cli_terminal import _read_all

BIN = Path(sys.executable).parent  # the environment's `logstream` command
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "NO_COLOR": "1", "TERM": "xterm"}


def on_terminal(line: str, cwd: Path) -> tuple[int, str, str]:
    """``bash -c line`` as typed at a terminal: stdout (and what the line's last command writes)
    on a pseudo-terminal, stderr collected."""
    master, slave = pty.openpty()
    with subprocess.Popen(
        ["bash", "-c", line],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=environment(),
    ) as proc:
        os.close(slave)
        out = _read_all(master)
        err = proc.stderr.read()
        proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out.decode().replace("\r\n", "\n"), err.decode()


def logstream(*args: str, cwd: Path, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["logstream", *args], stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, env=environment(), timeout=120
    )


def same_line(shown: str, got: str, encoded_ms: tuple[int, int]) -> None:
    """``got`` is the line the README shows, but for the time of `encode` (and a shown line cut
    short with ``...``)."""
    lo, hi = encoded_ms
    if shown.startswith("{"):
        want, have = json.loads(shown), json.loads(got)
        assert list(have) == list(want)  # the same keys, in the same order
        for key, value in want.items():
            if key == "timestamp":
                assert lo <= have[key] <= hi
            elif key == "id":
                assert re.fullmatch(r"\d{56}", have[key])
            else:
                assert have[key] == value, key
        return
    parts = re.split(f"({ISO_MS.pattern}|\\.\\.\\.)", shown)
    pattern = "".join(
        ISO_MS.pattern if ISO_MS.fullmatch(p) else ".*" if p == "..." else re.escape(p) for p in parts
    )
    assert re.fullmatch(pattern, got), (shown, got)
    for stamp in ISO_MS.findall(got):
        ms = round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
        assert lo <= ms <= hi


# ------------------------------------------------------------------------------ quick start
def test_given_the_quick_start_when_typed_line_by_line_at_a_terminal_then_each_output_is_the_one_shown(
    tmp_path,
):
    blocks = readme.code_blocks(readme.section("Quick start"))
    assert [lang for lang, _ in blocks] == ["sh", "", "sh", "", "sh", ""]
    encoded_ms = (0, 0)
    for (_, commands), (_, shown) in zip(blocks[::2], blocks[1::2], strict=True):
        out = []
        for line in commands.splitlines():
            if line.startswith("pipx "):  # installing: the environment under test has it
                continue
            before = int(time.time() * 1000)
            code, stdout, stderr = on_terminal(line, tmp_path)
            if " encode " in line:
                encoded_ms = (before, int(time.time() * 1000))
            assert (code, stderr) == (0, ""), line
            out += stdout.splitlines()
        expected = shown.splitlines()
        assert len(out) == len(expected), (expected, out)
        for want, got in zip(expected, out, strict=True):
            same_line(want, got, encoded_ms)
    assert (tmp_path / "event.json").read_text().startswith('{"awslogs":{"data":"H4sI')


# ------------------------------------------------------------------------------ errors
def quoted(pattern: str) -> str:
    """The README's code span that matches ``pattern`` (line breaks inside it read as spaces)."""
    m = re.search(pattern, re.sub(r"\n\s*", " ", readme.text()))
    assert m, pattern
    return m[1]


def test_given_the_quoted_input_error_when_line_3_record_2_is_cut_off_then_stderr_is_that_line(tmp_path):
    shown = quoted(r"`(logstream: FILE: line 3: record 2: [^`]+)`")
    cut = int(re.search(r"after (\d+) bytes", shown)[1])
    hexes = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(10))  # incompressible
    doc = t.make_document([hexes + "\n"], log_group="/aws/lambda/a")
    whole = gzip.compress(t.document_json(doc), mtime=0)
    assert len(whole) > cut + 20
    event = t.kinesis_event([doc, doc])
    event["Records"][1]["kinesis"]["data"] = base64.b64encode(whole[:cut]).decode()
    lines = [json.dumps(t.lambda_event(doc)), json.dumps(t.lambda_event(doc)), json.dumps(event)]
    (tmp_path / "in.json").write_text("\n".join(lines) + "\n")
    res = logstream("decode", "--messages", "in.json", cwd=tmp_path)
    assert res.returncode == 1  # "some input could not be read or decoded"
    assert res.stderr.decode().splitlines() == [shown.replace("FILE", "in.json")]
    assert res.stdout.decode() == (hexes + "\n") * 3  # the rest is still processed


def test_given_the_quoted_usage_errors_then_they_are_what_the_cli_says_with_exit_status_2(tmp_path):
    typo = quoted(r"`(unrecognized arguments: --messgaes; did you mean --messages\?)`")
    res = logstream("decode", "--messgaes", cwd=tmp_path)
    assert res.returncode == 2
    assert f"logstream decode: error: {typo}" in res.stderr.decode().splitlines()
    assert "`--max-size inf`" in readme.text()
    assert logstream("decode", "--max-size", "inf", cwd=tmp_path).returncode == 2


def test_given_a_zip_object_then_the_error_is_the_quoted_one(tmp_path):
    not_gzip = quoted(r"`(decompress: not gzip or zlib data \(no gzip/zlib header\))`")
    zip_hint = quoted(r"`\.\.\.(; it is a ZIP archive[^`]+)`")
    with zipfile.ZipFile(tmp_path / "object.zip", "w") as z:
        z.writestr("part-0", b'{"messageType":"DATA_MESSAGE"}')
    res = logstream("decode", "object.zip", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.decode().splitlines() == [f"logstream: object.zip: {not_gzip}{zip_hint}"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_given_a_full_disk_then_the_quoted_error_and_exit_status_1(tmp_path):
    said = quoted(r"`(logstream: cannot write output: No space left on device)`")
    (tmp_path / "event.json").write_text(json.dumps(t.lambda_event(t.make_document(["hi\n"]))))
    with open("/dev/full", "wb") as full:
        res = logstream("decode", "event.json", cwd=tmp_path, stdout=full)
    assert (res.returncode, res.stderr.decode().splitlines()) == (1, [said])


# ------------------------------------------------------------------------------ replay
def summary_keys(pattern: str) -> list[str]:
    return readme.spans(quoted(pattern))


def test_given_files_when_replayed_dry_then_one_summary_line_with_the_listed_keys(tmp_path):
    keys = summary_keys(r"one\s+for all the files and `s3://` sources together \((.*?)\);")
    for name in ("a.json", "b.json"):
        doc = t.make_document(["one\n", "two\n"], log_group=f"/aws/lambda/{name[0]}")
        (tmp_path / name).write_text(json.dumps(t.lambda_event(doc)))
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
    res = logstream("replay", "--to", arn, "--dry-run", "a.json", "b.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (line,) = res.stdout.decode().splitlines()
    summary = json.loads(line)
    assert list(summary) == [*keys, "dryRun"]
    assert summary == {"source": "a.json, b.json", "documents": 2, "events": 4, "records": 0, "failed": 0,
                       "dryRun": True}  # fmt: skip


def test_given_the_replay_example_when_its_queue_holds_3_messages_of_41_events_then_its_summary_line(
    aws_endpoint, tmp_path
):
    import boto3

    block = readme.code_blocks(readme.section("Recipes"))[-1][1].splitlines()
    command, shown = block[0], json.loads(block[1])
    listed = summary_keys(r"One NDJSON summary line per queue on stdout \((.*?)\),")
    assert [k for k in shown if k != "dryRun"] == [k for k in listed if k != "kinesisRecords"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for n in (14, 14, 13):  # Lambda's async on-failure records: the event under requestPayload
        doc = t.make_document([f"event {i}\n" for i in range(n)], log_group="/aws/lambda/checkout")
        record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": t.lambda_event(doc)}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    assert command.startswith('logstream replay "$FAILURE_QUEUE_URL" --to ')
    line = command.replace('"$FAILURE_QUEUE_URL"', url)
    res = subprocess.run(
        ["bash", "-c", line], capture_output=True, cwd=tmp_path, env=environment(), timeout=120
    )
    assert res.returncode == 0, res.stderr
    (got,) = res.stdout.decode().splitlines()
    summary = json.loads(got)
    assert list(summary) == list(shown)
    assert summary == {**shown, "source": url}
    assert shown["source"].endswith("...")  # the README abbreviates the queue URL
