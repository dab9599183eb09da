"""`logstream replay` against moto's server (started by the tests on 127.0.0.1): the failure
queue and Firehose error output in S3, re-driven into a Kinesis stream, in a real subprocess."""

from __future__ import annotations

import json
import uuid

import msgspec

from logstream import testing as t
from tests.conftest import run_cli
from tests.functional.wire import messages_left, queue_with

ACCOUNT = "123456789012"


def _stream(aws) -> tuple[str, str]:
    name = f"replay-{uuid.uuid4().hex[:8]}"
    aws("kinesis").create_stream(StreamName=name, ShardCount=1)
    return name, f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def _read(kinesis, name) -> list[str]:
    (shard,) = kinesis.list_shards(StreamName=name)["Shards"]
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    records = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"]
    return [json.loads(line)["message"] for r in records for line in r["Data"].splitlines()]


def _on_failure_record(messages: list[str]) -> str:
    event = t.lambda_event(t.make_document(messages, log_group="/aws/lambda/checkout"))
    record = {
        "version": "1.0",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    }
    return msgspec.json.encode(record).decode()


def test_given_failure_queue_then_events_delivered_and_only_delivered_messages_deleted(aws):
    name, arn = _stream(aws)
    url = queue_with(
        aws, [_on_failure_record(["one\n", "two\n"]), "not an event", _on_failure_record(["three\n"])]
    )
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1  # one message could not be decoded
    assert sorted(_read(aws("kinesis"), name)) == ["one\n", "three\n", "two\n"]
    (summary,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert summary == {"source": url, "messages": 3, "events": 3, "records": 2, "deleted": 2, "kept": 1}
    (err,) = res.stderr.decode().splitlines()
    assert "kept in the queue" in err and "message" in err
    assert messages_left(aws("sqs"), url) == 1  # the undecodable one stays for a human


def test_given_dry_run_then_nothing_sent_and_nothing_deleted(aws):
    name, arn = _stream(aws)
    url = queue_with(aws, [_on_failure_record(["one\n"])])
    res = run_cli("replay", url, "--to", arn, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "source": url,
        "messages": 1,
        "events": 1,
        "records": 0,
        "deleted": 0,
        "kept": 0,
        "dryRun": True,
    }
    assert _read(aws("kinesis"), name) == []
    assert messages_left(aws("sqs"), url) == 1


def test_given_firehose_error_output_in_s3_then_replayed_into_the_stream(aws):
    name, arn = _stream(aws)
    s3 = aws("s3")
    bucket = f"errors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    lines = [
        {
            "attemptsMade": 4,
            "arrivalTimestamp": 1700000000000,
            "errorCode": "Lambda.FunctionError",
            "errorMessage": "The Lambda function was successfully invoked but it returned an error result.",
            "attemptEndingTimestamp": 1700000060000,
            "rawData": t.encode_payload(t.make_document([f"lost {i}\n"], log_stream=f"s{i}")),
            "lambdaArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:transform:$LATEST",
        }
        for i in range(3)
    ]
    body = b"".join(msgspec.json.encode(x) + b"\n" for x in lines)
    s3.put_object(Bucket=bucket, Key="processing-failed/2024/05/01/obj", Body=body)
    res = run_cli("replay", f"s3://{bucket}/processing-failed/", "--to", arn)
    assert res.returncode == 0, res.stderr
    assert _read(aws("kinesis"), name) == ["lost 0\n", "lost 1\n", "lost 2\n"]
    summary = json.loads(res.stdout)
    assert (summary["documents"], summary["events"], summary["failed"]) == (3, 3, 0)


def test_given_no_source_or_a_bad_arn_then_usage_error():
    assert run_cli("replay", "--to", f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/x").returncode == 2
    res = run_cli("replay", "s3://b/k", "--to", "arn:aws:sqs:us-east-1:1:q")
    assert res.returncode == 2 and b"--to" in res.stderr


def test_given_a_destination_that_does_not_exist_then_every_message_is_kept(aws):
    url = queue_with(aws, [_on_failure_record(["one\n"]), _on_failure_record(["two\n"])])
    res = run_cli(
        "replay", url, "--to", f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/missing-{uuid.uuid4().hex[:6]}"
    )
    assert res.returncode == 1
    summary = json.loads(res.stdout)
    assert (summary["messages"], summary["deleted"], summary["kept"]) == (2, 0, 2)
    assert all("kept in the queue" in line for line in res.stderr.decode().splitlines())
    assert messages_left(aws("sqs"), url) == 2


def test_given_no_boto3_installed_then_replay_says_what_to_install_and_reads_nothing(tmp_path):
    """The wheel installs without boto3 (sinks import it lazily): replay needs it for every source
    but a dry run of files, and says so in one line instead of a bare ModuleNotFoundError."""
    fake = tmp_path / "site" / "boto3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'boto3'\")\n")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(t.lambda_event(t.make_document(["hello\n"]))))
    env = {"PYTHONPATH": str(tmp_path / "site")}
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"

    for source in (str(event), "https://sqs.us-east-1.amazonaws.com/123456789012/q"):
        proc = run_cli("replay", "--to", arn, source, env=env)
        assert proc.returncode == 1, source
        assert proc.stderr.decode().splitlines() == [
            "logstream: replay needs boto3 (pip install boto3): nothing was read or sent"
        ], source
        assert proc.stdout == b""

    dry = run_cli("replay", "--to", arn, "--dry-run", str(event), env=env)  # files only: no AWS call
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["events"] == 1
