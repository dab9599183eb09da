"""Second review of `logstream replay`, as production users hit it: every shape the failure queue
really holds (async on-failure records, event source mapping on-failure records, the handlers'
own dead letters, split ones too), dry run then a real run, partial and fatal delivery failures,
a missing queue and a dead endpoint, large queues. Over the wire against moto's server, through
the real CLI in a subprocess; SQS behaviour moto does not reproduce (false empty answers to a
short poll, a message coming back when its visibility timeout ran out) with an in-memory queue.
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import uuid

import msgspec

from logstream import testing as t
from logstream.cli import replay
from logstream.sinks.sqs import DeadLetter, dead_letter_messages
from tests.conftest import run_cli
from tests.faultproxy import FaultProxy
from tests.functional.failure_queue import (
    event_messages,
    gzip_doc,
    kinesis_esm_record,
    on_failure_record,
    source_stream,
)
from tests.functional.wire import ACCOUNT, messages_left, new_stream, queue_with, stream_records


def _visible(sqs, url) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _no_traceback(res) -> str:
    err = res.stderr.decode()
    assert "Traceback" not in err, err
    return err


# ------------------------------------------------------------------ the handlers' dead letters
def test_given_a_dead_letter_of_a_subscription_payload_then_its_events_replayed_and_it_is_deleted(aws):
    name, arn = new_stream(aws)
    data = t.encode_payload(t.make_document(["from a dead letter\n"]))
    letter = DeadLetter(data, "subscription: decompress: data too large", {"source": "subscription"})
    (body,) = dead_letter_messages(letter)
    url = queue_with(aws, [body])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    assert event_messages(stream_records(aws("kinesis"), name)) == ["from a dead letter\n"]
    assert messages_left(aws("sqs"), url) == 0


def test_given_two_split_dead_letters_with_the_same_reason_and_source_then_both_replayed(aws):
    """Two big payloads failing the same way: their parts are told apart by the letter they
    belong to, interleaved in the queue as they may be."""
    name, arn = new_stream(aws)
    source = {"source": "subscription", "step": "process"}
    docs = [
        t.make_document([uuid.uuid4().hex * 10 + "\n" for _ in range(10)], log_stream=f"s{i}")
        for i in range(2)
    ]
    letters = [
        DeadLetter(t.encode_payload(d), "document 1: process: RuntimeError: boom", source) for d in docs
    ]
    split = [dead_letter_messages(x, max_bytes=len(x.data) // 2 + 400) for x in letters]
    assert len(split[0]) == len(split[1]) > 1  # split alike
    url = queue_with(aws, [b for pair in zip(*split, strict=True) for b in pair])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    expected = [e["message"] for d in docs for e in d["logEvents"]]
    assert sorted(event_messages(stream_records(aws("kinesis"), name))) == sorted(expected)
    assert messages_left(aws("sqs"), url) == 0


def test_given_a_dead_letter_of_one_part_then_its_body_has_no_letter_key():
    (body,) = dead_letter_messages(DeadLetter("abc", "json: bad", {"source": "subscription"}))
    assert json.loads(body) == {
        "reason": "json: bad",
        "source": {"source": "subscription"},
        "part": 1,
        "parts": 1,
        "data": "abc",
    }


def test_given_a_dead_letter_split_over_three_messages_then_joined_replayed_once_and_all_deleted(aws):
    name, arn = new_stream(aws)
    lines = [f"line {i} " + uuid.uuid4().hex * 8 + "\n" for i in range(40)]  # does not compress much
    data = t.encode_payload(t.make_document(lines), compression="zlib")  # zlib: little to gain, long text
    letter = DeadLetter(data, "record 0: decompress: over the cap", {"sequenceNumber": "1"})
    bodies = dead_letter_messages(letter, max_bytes=len(data) // 3 + 400)
    assert len(bodies) == 3
    url = queue_with(aws, [bodies[2], bodies[0], bodies[1]])  # parts arrive in any order
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    assert event_messages(stream_records(aws("kinesis"), name)) == lines
    assert messages_left(aws("sqs"), url) == 0
    summary = json.loads(res.stdout)
    assert (summary["messages"], summary["events"], summary["deleted"], summary["kept"]) == (3, 40, 3, 0)


def test_given_a_part_of_a_split_dead_letter_missing_then_the_parts_present_are_kept_and_named(aws):
    name, arn = new_stream(aws)
    data = t.encode_payload(t.make_document([uuid.uuid4().hex * 10 + "\n" for _ in range(10)]))
    bodies = dead_letter_messages(DeadLetter(data, "r", {}), max_bytes=len(data) // 2 + 400)
    assert len(bodies) >= 2
    url = queue_with(aws, bodies[1:])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    err = _no_traceback(res)
    assert f"part 1 of {len(bodies)}" in err or "missing" in err, err
    assert stream_records(aws("kinesis"), name) == []
    assert messages_left(aws("sqs"), url) == len(bodies) - 1


def test_given_a_dead_letter_of_an_event_line_the_sink_refused_then_the_event_is_replayed(aws):
    # handlers/_sources.py: an event no record could hold is dead-lettered as its NDJSON line
    name, arn = new_stream(aws)
    line = {
        "owner": ACCOUNT,
        "logGroup": "/aws/lambda/checkout",
        "logStream": "2026/11/23/[$LATEST]abc",
        "subscriptionFilters": ["all"],
        "id": "37000000000000000000000000000000000000000000000000000000",
        "timestamp": 1763892000000,
        "message": "a huge event\n",
    }
    letter = DeadLetter(
        json.dumps(line), "RecordTooLarge: one log event over the record limit of Kinesis stream x", {}
    )
    url = queue_with(aws, dead_letter_messages(letter))
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    (record,) = stream_records(aws("kinesis"), name)
    got = json.loads(record)
    assert (got["message"], got["id"], got["logGroup"]) == (line["message"], line["id"], line["logGroup"])
    assert messages_left(aws("sqs"), url) == 0


# ------------------------------------------------------ event source mapping on-failure records
def test_given_a_kinesis_event_source_on_failure_record_then_its_batch_is_read_again_and_replayed(aws):
    src, seqs = source_stream(aws, [gzip_doc([f"r{i}\n"]) for i in range(5)])
    name, arn = new_stream(aws)
    url = queue_with(aws, [kinesis_esm_record(src, seqs[1], seqs[3], 3)])  # records 1 to 3
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    assert event_messages(stream_records(aws("kinesis"), name)) == ["r1\n", "r2\n", "r3\n"]
    summary = json.loads(res.stdout)
    assert (summary["messages"], summary["events"], summary["deleted"], summary["kinesisRecords"]) == (
        1,
        3,
        1,
        3,
    )
    assert messages_left(aws("sqs"), url) == 0


def test_given_a_kinesis_batch_record_in_a_dry_run_then_read_and_counted_but_not_sent(aws):
    src, seqs = source_stream(aws, [gzip_doc(["a\n", "b\n"]), gzip_doc(["c\n"])])
    name, arn = new_stream(aws)
    url = queue_with(aws, [kinesis_esm_record(src, seqs[0], seqs[1], 2)])
    res = run_cli("replay", url, "--to", arn, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["events"] == 3
    assert stream_records(aws("kinesis"), name) == []
    assert _visible(aws("sqs"), url) == 1


def test_given_a_kinesis_batch_record_whose_stream_is_gone_then_kept_and_the_user_told_where_the_data_was(
    aws,
):
    name, arn = new_stream(aws)
    start, end = "49601189658422359378836298521827638475320189012309704722", "4960118965842235937883629852"
    src = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/gone-{uuid.uuid4().hex[:6]}"
    url = queue_with(aws, [kinesis_esm_record(src, start, end, 500)])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    err = _no_traceback(res)
    assert "shardId-000000000000" in err and start in err and end in err and src in err, err
    assert "cannot be read again" in err and "ResourceNotFound" in err and "kept in the queue" in err, err
    assert messages_left(aws("sqs"), url) == 1


def test_given_an_sqs_event_source_on_failure_record_then_kept_and_named(aws):
    name, arn = new_stream(aws)
    body = json.dumps(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "version": "1.0",
            "timestamp": "2026-11-23T10:00:00.000Z",
            "SQSBatchInfo": {"eventSourceArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", "batchSize": 10},
        }
    )
    url = queue_with(aws, [body])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    err = _no_traceback(res)
    assert "SQSBatchInfo" in err and "holds no log data" in err and "kept in the queue" in err, err
    assert messages_left(aws("sqs"), url) == 1


def test_given_an_async_on_failure_record_without_its_payload_then_kept_and_the_user_told_why(aws):
    # Lambda leaves requestPayload out when the record would exceed the destination's size limit
    name, arn = new_stream(aws)
    record = json.loads(on_failure_record(["x\n"]))
    del record["requestPayload"]
    url = queue_with(aws, [json.dumps(record)])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    err = _no_traceback(res)
    assert "without its requestPayload" in err and "logstream-forward" in err and "RetriesExhausted" in err, (
        err
    )
    assert "kept in the queue" in err
    assert messages_left(aws("sqs"), url) == 1


# ------------------------------------------------------------------------ dry run, visibility
def test_given_a_dry_run_then_a_real_run_right_after_replays_every_message(aws):
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record([f"m{i}\n"]) for i in range(3)])
    dry = run_cli("replay", url, "--to", arn, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["messages"] == 3
    assert _visible(aws("sqs"), url) == 3  # the dry run left the queue as it found it
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["deleted"] == 3
    assert sorted(event_messages(stream_records(aws("kinesis"), name))) == ["m0\n", "m1\n", "m2\n"]
    assert messages_left(aws("sqs"), url) == 0


def test_given_messages_kept_then_they_are_visible_again_for_the_next_run(aws):
    name, arn = new_stream(aws)
    url = queue_with(aws, ["not an event", on_failure_record(["ok\n"])])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    assert messages_left(aws("sqs"), url) == 1
    assert _visible(aws("sqs"), url) == 1  # not hidden for minutes after the run ended


# -------------------------------------------------------------------- large queues, failures
def test_given_35_messages_then_every_one_replayed_once_over_several_receives(aws):
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record([f"m{i}\n"], log_stream=f"s{i}") for i in range(35)])
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 0, res.stderr
    assert sorted(event_messages(stream_records(aws("kinesis"), name))) == sorted(
        f"m{i}\n" for i in range(35)
    )
    assert json.loads(res.stdout)["deleted"] == 35
    assert messages_left(aws("sqs"), url) == 0


def test_given_entries_failing_half_the_time_then_every_event_arrives_exactly_once(aws, aws_endpoint):
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record([f"m{i}.{j}\n" for j in range(5)]) for i in range(6)])
    expected = sorted(f"m{i}.{j}\n" for i in range(6) for j in range(5))
    with FaultProxy(aws_endpoint, request_failure=0.0, entry_failure=0.5, only={"PutRecords"}, seed=7) as p:
        res = run_cli("replay", url, "--to", arn, env={"AWS_ENDPOINT_URL": p.url})
    _no_traceback(res)
    got = sorted(event_messages(stream_records(aws("kinesis"), name)))
    summary = json.loads(res.stdout)
    assert got == sorted(set(got))  # nothing sent twice
    assert summary["deleted"] + summary["kept"] == 6
    assert messages_left(aws("sqs"), url) == summary["kept"]
    if res.returncode == 0:
        assert got == expected


def test_given_the_stream_refusing_every_request_then_nothing_deleted_and_each_message_named(
    aws, aws_endpoint
):
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record(["a\n"]), on_failure_record(["b\n"])])
    with FaultProxy(aws_endpoint, request_failure=0.0, entry_failure=0.0, deny=1.0, only={"PutRecords"}) as p:
        res = run_cli("replay", url, "--to", arn, env={"AWS_ENDPOINT_URL": p.url})
    assert res.returncode == 1
    err = _no_traceback(res)
    assert err.count("AccessDenied") == 2 and err.count("kept in the queue") == 2, err
    assert messages_left(aws("sqs"), url) == 2


def test_given_a_destination_that_delivers_nothing_then_the_run_stops_after_five_messages(aws, aws_endpoint):
    # each message would otherwise wait out every retry: hours for a large queue
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record([f"m{i}\n"]) for i in range(12)])
    with FaultProxy(aws_endpoint, request_failure=0.0, entry_failure=0.0, deny=1.0, only={"PutRecords"}) as p:
        res = run_cli("replay", url, "--to", arn, env={"AWS_ENDPOINT_URL": p.url})
    assert res.returncode == 1
    err = _no_traceback(res)
    summary = json.loads(res.stdout)
    assert (summary["messages"], summary["kept"], summary["deleted"]) == (5, 5, 0)
    assert "stopped: the last 5 messages delivered nothing" in err and "AccessDenied" in err, err
    assert _visible(aws("sqs"), url) == 12  # the five kept and the seven not read, all visible again


def test_given_deleting_a_message_refused_then_reported_as_delivered_but_not_deleted(aws, aws_endpoint):
    name, arn = new_stream(aws)
    url = queue_with(aws, [on_failure_record(["a\n"])])
    with FaultProxy(
        aws_endpoint, request_failure=0.0, entry_failure=0.0, deny=1.0, only={"DeleteMessage"}
    ) as p:
        res = run_cli("replay", url, "--to", arn, env={"AWS_ENDPOINT_URL": p.url})
    assert res.returncode == 1
    err = _no_traceback(res)
    assert "not deleted" in err and "AccessDenied" in err, err
    assert event_messages(stream_records(aws("kinesis"), name)) == ["a\n"]
    summary = json.loads(res.stdout)
    assert (summary["deleted"], summary["kept"]) == (0, 1)


def test_given_a_queue_that_does_not_exist_then_one_clear_error_and_exit_1(aws):
    name, arn = new_stream(aws)
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/no-such-queue-{uuid.uuid4().hex[:6]}"
    res = run_cli("replay", url, "--to", arn)
    assert res.returncode == 1
    err = _no_traceback(res)
    assert url in err and "NonExistentQueue" in err.replace("QueueDoesNotExist", "NonExistentQueue"), err


def test_given_a_dead_endpoint_then_one_clear_error_and_exit_1(aws):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/failures"
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/x"
    res = run_cli("replay", url, "--to", arn, env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    assert res.returncode == 1
    err = _no_traceback(res)
    assert url in err and "connect" in err.lower(), err


# ------------------------------------------------------------------ Firehose error output
def _error_line(i: int) -> dict:
    return {
        "attemptsMade": 4,
        "arrivalTimestamp": 1700000000000,
        "errorCode": "Lambda.ProcessingFailedStatus",
        "errorMessage": "ProcessingFailed status set for record",
        "attemptEndingTimestamp": 1700000060000,
        "rawData": t.encode_payload(t.make_document([f"lost {i}\n"], log_stream=f"s{i}")),
        "lambdaArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:transform:$LATEST",
    }


def test_given_gzip_error_output_with_glued_lines_then_every_record_replayed(aws):
    name, arn = new_stream(aws)
    s3 = aws("s3")
    bucket = f"errors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    glued = b"".join(msgspec.json.encode(_error_line(i)) for i in range(3))  # no line breaks
    s3.put_object(Bucket=bucket, Key="processing-failed/2026/11/23/a.gz", Body=gzip.compress(glued))
    res = run_cli("replay", f"s3://{bucket}/processing-failed/", "--to", arn)
    assert res.returncode == 0, res.stderr
    assert event_messages(stream_records(aws("kinesis"), name)) == ["lost 0\n", "lost 1\n", "lost 2\n"]


def test_given_an_error_output_prefix_that_is_empty_then_told_and_exit_1(aws):
    name, arn = new_stream(aws)
    s3 = aws("s3")
    bucket = f"errors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    res = run_cli("replay", f"s3://{bucket}/processing-failed/", "--to", arn)
    assert res.returncode == 1
    assert "no objects" in _no_traceback(res)


# ------------------------------------------------ SQS behaviour moto does not reproduce
class _Queue:
    """An SQS queue as SQS behaves: a short poll (WaitTimeSeconds=0) samples a subset of the
    servers and may answer nothing although messages wait; a long poll does not."""

    def __init__(self, bodies: list[str]) -> None:
        self.waiting = [
            {"MessageId": f"id{i}", "ReceiptHandle": f"h{i}", "Body": b} for i, b in enumerate(bodies)
        ]
        self.deleted: list[str] = []
        self.short_polls = 0

    def receive_message(self, *, QueueUrl, MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds):  # noqa: N803
        if WaitTimeSeconds == 0:
            self.short_polls += 1
            if self.short_polls == 1:
                return {"Messages": []}  # a false empty answer
        taken, self.waiting = self.waiting[:MaxNumberOfMessages], self.waiting[MaxNumberOfMessages:]
        return {"Messages": taken}

    def delete_message(self, *, QueueUrl, ReceiptHandle):  # noqa: N803
        self.deleted.append(ReceiptHandle)

    def change_message_visibility_batch(self, *, QueueUrl, Entries):  # noqa: N803
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


class _Sink:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, streams, deadline=None):
        from logstream.sinks import DeliveryResult

        self.sent += [e.message for s in streams for e in s.log_events]
        return DeliveryResult(delivered=sum(len(s.log_events) for s in streams))


def _args() -> argparse.Namespace:
    return argparse.Namespace(max_size=None)


def test_given_sqs_answering_a_short_poll_with_nothing_then_replay_still_reads_the_queue(monkeypatch):
    queue = _Queue([on_failure_record(["a\n"]), on_failure_record(["b\n"])])
    monkeypatch.setattr(replay, "_sqs_client", lambda url: queue)
    sink, errors = _Sink(), []
    totals = replay._replay_queue("https://sqs.us-east-1.amazonaws.com/1/q", sink, _args(), errors.append)
    assert errors == []
    assert sorted(sink.sent) == ["a\n", "b\n"]
    assert totals["deleted"] == 2


class _ComingBack(_Queue):
    """The first message is kept (it cannot be decoded) and comes back on the next receive, as it
    does when the run outlasts its visibility timeout; the others wait behind it."""

    def __init__(self, bodies: list[str]) -> None:
        super().__init__(bodies)
        self.receives = 0

    def receive_message(self, *, QueueUrl, MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds):  # noqa: N803
        self.receives += 1
        first = self.waiting[0]
        if self.receives <= 2:
            return {"Messages": [{**first, "ReceiptHandle": f"h0-{self.receives}"}]}
        rest, self.waiting = (
            self.waiting[1:MaxNumberOfMessages],
            self.waiting[:1] + self.waiting[MaxNumberOfMessages:],
        )
        return {"Messages": rest}


def test_given_a_kept_message_coming_back_during_the_run_then_the_messages_behind_it_are_still_replayed(
    monkeypatch,
):
    queue = _ComingBack(["not an event", on_failure_record(["b\n"]), on_failure_record(["c\n"])])
    monkeypatch.setattr(replay, "_sqs_client", lambda url: queue)
    sink, errors = _Sink(), []
    totals = replay._replay_queue("https://sqs.us-east-1.amazonaws.com/1/q", sink, _args(), errors.append)
    assert sorted(sink.sent) == ["b\n", "c\n"]
    assert (totals["messages"], totals["deleted"], totals["kept"]) == (3, 2, 1)
    assert len(errors) == 1
