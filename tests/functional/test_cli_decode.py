"""The decode/encode CLI as a user runs it: files and stdin, exit codes, stderr, pipes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import msgspec

from logstream import testing as t
from tests.conftest import ROOT, corpus_path, run_cli

LAMBDA = corpus_path("events", "aws-lambda-go__cloudwatch-logs-event.json")
FIREHOSE = corpus_path("events", "aws-sam-cli__KinesisFirehoseCloudwatchLogsProcessor.json")
NOT_CWL = corpus_path("events", "powertools-python__kinesisStreamEvent.json")
POLICY = corpus_path("events", "powertools-python__cloudWatchLogEventWithPolicyLevel.json")


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.split(b"\n") if line]


def test_given_lambda_event_file_then_one_line_per_event_with_context():
    res = run_cli("decode", str(LAMBDA))
    assert res.returncode == 0, res.stderr
    assert lines(res.stdout) == [
        {
            "owner": "123456789123",
            "logGroup": "testLogGroup",
            "logStream": "testLogStream",
            "subscriptionFilters": ["testFilter"],
            "id": "eventId1",
            "timestamp": 1440442987000,
            "message": "[ERROR] First test message",
        },
        {
            "owner": "123456789123",
            "logGroup": "testLogGroup",
            "logStream": "testLogStream",
            "subscriptionFilters": ["testFilter"],
            "id": "eventId2",
            "timestamp": 1440442987001,
            "message": "[ERROR] Second test message",
        },
    ]


def test_given_policy_level_then_on_every_event_line():
    out = lines(run_cli("decode", str(POLICY)).stdout)
    assert [o["policyLevel"] for o in out] == ["ACCOUNT_LEVEL_POLICY"] * 2
    assert list(out[0]) == [
        "owner",
        "logGroup",
        "logStream",
        "subscriptionFilters",
        "id",
        "timestamp",
        "message",
        "policyLevel",
    ]


def test_given_extracted_fields_then_on_event_lines():
    f = corpus_path(
        "documents", "otel-contrib__awsfirehosereceiver-cwlog__two_records_different_extracted_fields.ndjson"
    )
    out = lines(run_cli("decode", str(f)).stdout)
    assert [o["extractedFields"]["@aws.account"] for o in out] == ["111111111111", "222222222222"]


def test_given_control_message_then_skipped_unless_asked():
    assert len(lines(run_cli("decode", str(FIREHOSE)).stdout)) == 9
    with_control = lines(run_cli("decode", "--include-control", str(FIREHOSE)).stdout)
    assert len(with_control) == 10 and with_control[0]["owner"] == "CloudwatchLogs"


def test_given_documents_flag_then_documents_as_sent_control_included():
    res = run_cli("decode", "--documents", str(FIREHOSE))
    expected = json.loads(corpus_path("expected", FIREHOSE.name[:-5] + ".decoded.json").read_text())
    assert lines(res.stdout) == expected


def test_given_messages_flag_then_original_text_newline_only_when_missing():
    doc = t.make_document(["a\n", "b", "c\r\n", "multi\nline"])
    res = run_cli("decode", "--messages", stdin=msgspec.json.encode(t.lambda_event(doc)))
    assert res.stdout == b"a\nb\nc\r\nmulti\nline\n"


def test_given_binary_stdin_s3_object_then_decoded():
    docs = [t.make_document([f"m{i}"]) for i in range(3)]
    res = run_cli("decode", "-", stdin=t.s3_object(docs, outer_gzip=True))
    assert res.returncode == 0
    assert [o["message"] for o in lines(res.stdout)] == ["m0", "m1", "m2"]


def test_given_base64_lines_then_each_decoded():
    docs = [t.make_document([f"m{i}"]) for i in range(3)]
    stdin = "\n".join(t.encode_payload(d) for d in docs).encode() + b"\n"
    assert [o["message"] for o in lines(run_cli("decode", stdin=stdin).stdout)] == ["m0", "m1", "m2"]


def test_given_line_separator_characters_then_one_object_per_line():
    doc = t.make_document(["a\u2028b\u2029c\x85d"])
    res = run_cli("decode", stdin=msgspec.json.encode(t.lambda_event(doc)))
    text = res.stdout.decode()
    assert len(text.splitlines()) == 1  # even str.splitlines sees one line
    assert json.loads(text)["message"] == "a\u2028b\u2029c\x85d"


def test_given_bad_record_then_exit_1_others_printed_and_one_line_error():
    res = run_cli("decode", str(NOT_CWL), str(LAMBDA))
    assert res.returncode == 1
    assert len(lines(res.stdout)) == 2
    err = res.stderr.decode().splitlines()
    assert err == [
        f"logstream: {NOT_CWL}: line 1: record 1: decompress: not gzip or zlib data, nor a JSON document",
        f"logstream: {NOT_CWL}: line 1: record 2: decompress: not gzip or zlib data, nor a JSON document",
    ]
    assert "Traceback" not in res.stderr.decode()


def test_given_strict_then_stops_at_first_error():
    res = run_cli("decode", "--strict", str(NOT_CWL), str(LAMBDA))
    assert res.returncode == 1
    assert res.stdout == b""
    assert len(res.stderr.decode().splitlines()) == 1


def test_given_malformed_table_then_cli_exit_1_one_line_each():
    bad = [
        b"not base64 at all!",
        base64.b64encode(b"plain text") + b"\n",
        base64.b64encode(t.gzip_member(b'{"messageType":"DATA_MESSAGE"')) + b"\n",
        t.gzip_member(b"x" * 100)[:-10],
        msgspec.json.encode(
            {"awslogs": {"data": base64.b64encode(t.gzip_member(b'{"logEvents":3}')).decode()}}
        ),
    ]
    for data in bad:
        res = run_cli("decode", stdin=data)
        assert res.returncode == 1, data
        err = res.stderr.decode()
        assert len(err.splitlines()) == 1 and err.startswith("logstream: <stdin>"), err
        assert "Traceback" not in err


def test_given_gzip_bomb_then_size_cap_error():
    import zlib

    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = co.compress(b"\0" * (64 << 20)) + co.flush()
    res = run_cli("decode", "--max-size", "1M", stdin=bomb)
    assert res.returncode == 1
    assert "size cap" in res.stderr.decode()


def test_given_usage_error_then_exit_2():
    assert run_cli("decode", "--no-such-flag").returncode == 2
    assert run_cli("decode", "--max-size", "lots").returncode == 2


def test_given_missing_file_then_exit_1_and_rest_processed():
    res = run_cli("decode", "/nonexistent/file.json", str(LAMBDA))
    assert res.returncode == 1 and len(lines(res.stdout)) == 2
    assert "/nonexistent/file.json: No such file or directory" in res.stderr.decode()


def test_given_broken_pipe_then_quiet():
    docs = [t.make_document([f"message {i}"] * 200) for i in range(200)]
    data = t.s3_object(docs)
    proc = subprocess.run(
        f"{sys.executable} -m logstream decode | head -n 1",
        shell=True,
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.stdout.count(b"\n") == 1
    assert proc.stderr == b""


def test_given_decode_output_then_decode_accepts_it_again():
    first = run_cli("decode", str(FIREHOSE)).stdout
    again = run_cli("decode", stdin=first)
    assert again.returncode == 0 and again.stdout == first


def test_given_documents_when_encode_then_decode_gives_them_back():
    for shape in ("lambda", "kinesis", "firehose", "firehose-http", "s3"):
        enc = run_cli("encode", "--to", shape, str(FIREHOSE))
        assert enc.returncode == 0, enc.stderr
        dec = run_cli("decode", "--documents", stdin=enc.stdout)
        assert dec.returncode == 0, (shape, dec.stderr)
        expected = [d for d in lines(run_cli("decode", "--documents", str(FIREHOSE)).stdout)]
        assert lines(dec.stdout) == expected, shape


def test_given_event_lines_when_encode_then_regrouped_into_documents():
    events = run_cli("decode", str(FIREHOSE)).stdout
    enc = run_cli("encode", "--to", "kinesis", stdin=events)
    event = json.loads(enc.stdout)
    assert len(event["Records"]) == 3  # three log streams, as in the source
    assert run_cli("decode", stdin=enc.stdout).stdout == events


def test_given_plain_lines_when_encode_then_gzip_like_cloudwatch():
    enc = run_cli("encode", "--log-group", "/aws/lambda/f", stdin=b"one\ntwo\n")
    payload = base64.b64decode(json.loads(enc.stdout)["awslogs"]["data"])
    assert payload[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00"  # mtime 0, OS 0
    out = lines(run_cli("decode", stdin=enc.stdout).stdout)
    assert [(o["logGroup"], o["message"]) for o in out] == [
        ("/aws/lambda/f", "one\n"),
        ("/aws/lambda/f", "two\n"),
    ]
