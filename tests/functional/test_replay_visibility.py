"""`logstream replay` keeps the failure-queue messages it holds hidden for as long as it holds
them, so no other reader (a second replay, the queue's redrive) takes a message while this run
delivers it.

Over the wire against moto's server, with one clock for the run and for moto's SQS visibility
timeouts (moto runs in this process): time passes only when the destination takes it, a fixed
amount per PutRecords request, so a hide runs out exactly when that clock says and nothing
depends on how fast the machine is. A second reader asks the queue for messages after each
request of the destination, as another consumer would. Each queue holds at most 10 messages, so
the run receives them all in its first answer: whatever the second reader sees, the run held.
"""

from __future__ import annotations

import argparse
import time

import boto3
import pytest

from logstream.cli import replay
from logstream.sinks import KinesisSink
from tests.faultproxy import FaultProxy
from tests.functional.failure_queue import (
    event_messages,
    gzip_doc,
    kinesis_esm_record,
    on_failure_record,
    source_stream,
)
from tests.functional.wire import messages_left, new_stream, queue_with, stream_records

HIDE_S = 300  # the replay's own hide time
REQUEST_S = 25  # what one PutRecords request takes (a slow destination; within its timeouts)


class SharedClock:
    """Seconds, for the replay (``clock``) and moto's SQS (epoch milliseconds): they move only when
    ``advance`` is called."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(aws_endpoint, monkeypatch):
    import moto.sqs.models

    shared = SharedClock()
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *_: shared.now * 1000)
    return shared


class OneRecordPerRequest(KinesisSink):
    """A destination that takes one record per request, so delivering a batch takes many."""

    max_records = 1


class SlowStream:
    """A Kinesis stream (over the wire) whose every PutRecords takes ``seconds`` of ``clock``;
    after each, a second reader looks for visible messages in ``queue_url`` (without hiding them)
    and keeps what it saw in ``taken``."""

    def __init__(self, aws, clock: SharedClock, queue_url: str, seconds: float = REQUEST_S) -> None:
        self.name, self.arn = new_stream(aws)
        self.requests = 0
        self.taken: list[tuple[float, str]] = []  # (seconds into the run, message id)
        self.start = clock.now
        self.reader = aws("sqs")
        client = boto3.client("kinesis", region_name="us-east-1")

        def after_put_records(**_: object) -> None:
            self.requests += 1
            clock.advance(seconds)
            got = self.reader.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
            ).get("Messages", [])
            self.taken += [(clock.now - self.start, m["MessageId"]) for m in got]

        client.meta.events.register("after-call.kinesis.PutRecords", after_put_records)
        self.sink = OneRecordPerRequest(self.name, client=client)


def run_replay(url: str, sink, clock: SharedClock) -> tuple[dict, list[str]]:
    """``logstream replay URL --to ...`` in this process, on ``clock``: (summary, stderr lines)."""
    errors: list[str] = []
    args = argparse.Namespace(max_size=None)
    totals = replay._replay_queue(url, sink, args, errors.append, hide_s=HIDE_S, clock=clock)
    return totals, errors


def test_given_a_delivery_longer_than_the_hide_then_no_other_reader_sees_its_messages_and_all_arrive_once(
    aws, clock
):
    # a Kinesis batch of 20 records read again from its stream: 20 requests, 500 s, with two
    # more messages received in the same answer waiting behind it
    batch = [gzip_doc([f"batch {i}\n"], log_stream=f"s{i}") for i in range(20)]
    src, seqs = source_stream(aws, batch)
    url = queue_with(
        aws,
        [
            kinesis_esm_record(src, seqs[0], seqs[-1], 20),
            on_failure_record(["a\n"]),
            on_failure_record(["b\n"]),
        ],
    )
    slow = SlowStream(aws, clock, url)
    totals, errors = run_replay(url, slow.sink, clock)
    assert errors == []
    assert slow.requests == 22 and clock.now - slow.start == 22 * REQUEST_S  # far beyond the hide
    assert slow.taken == []  # hidden the whole time
    expected = sorted([f"batch {i}\n" for i in range(20)] + ["a\n", "b\n"])
    assert sorted(event_messages(stream_records(aws("kinesis"), slow.name))) == expected  # once each
    assert totals == {
        "source": url,
        "messages": 3,
        "events": 22,
        "records": 22,
        "deleted": 3,
        "kept": 0,
        "kinesisRecords": 20,
    }
    assert messages_left(aws("sqs"), url) == 0


def test_given_a_kept_message_in_a_long_run_then_it_stays_hidden_until_the_run_ends_and_is_visible_after(
    aws, clock
):
    # the undecodable message is kept while nine others are delivered, one request of 60 s each
    url = queue_with(aws, ["not an event"] + [on_failure_record([f"m{i}\n"]) for i in range(9)])
    slow = SlowStream(aws, clock, url, seconds=60)
    totals, errors = run_replay(url, slow.sink, clock)
    assert [e for e in errors if "kept in the queue" not in e] == []
    assert clock.now - slow.start == 9 * 60 and slow.taken == []
    assert (totals["deleted"], totals["kept"]) == (9, 1)
    assert "notHidden" not in totals
    clock.advance(0.001)  # a moment after the run
    got = aws("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]  # released at the end
    assert [m["Body"] for m in got] == ["not an event"]


def test_given_the_extension_refused_then_each_message_not_kept_hidden_is_named_and_counted(
    aws, aws_endpoint, clock, monkeypatch
):
    # ten messages, 25 s each: the hide of those still waiting must be extended after 150 s
    url = queue_with(aws, [on_failure_record([f"m{i}\n"]) for i in range(10)])
    slow = SlowStream(aws, clock, url)
    kinesis = aws("kinesis")  # made before the endpoint is the proxy's
    with FaultProxy(
        aws_endpoint, request_failure=0.0, entry_failure=0.0, deny=1.0, only={"ChangeMessageVisibilityBatch"}
    ) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # the replay's SQS client goes through it
        totals, errors = run_replay(url, slow.sink, clock)
    # the first hide due (at 175 s, before message 7 is deleted) is that of messages 7 to 10: one
    # request for the four, refused
    denied = [e for e in errors if "could not be kept hidden" in e]
    assert proxy.stats["denied:ChangeMessageVisibilityBatch"] == 1
    assert len(denied) == totals["notHidden"] == 4
    assert all("AccessDeniedException" in e and "may be sent twice" in e for e in denied), denied
    assert totals["deleted"] == 10  # each still delivered once by this run
    assert sorted(event_messages(stream_records(kinesis, slow.name))) == [f"m{i}\n" for i in range(10)]


def test_given_the_queue_purged_during_the_run_then_the_messages_that_cannot_be_extended_are_named(
    aws, clock
):
    """Per-entry failures of ChangeMessageVisibilityBatch (here: the message is gone)."""
    url = queue_with(aws, [on_failure_record([f"m{i}\n"]) for i in range(8)])
    slow = SlowStream(aws, clock, url)
    purge_after = 3

    def purge(**_: object) -> None:
        if slow.requests == purge_after:
            aws("sqs").purge_queue(QueueUrl=url)

    slow.sink.client.meta.events.register("after-call.kinesis.PutRecords", purge)
    totals, errors = run_replay(url, slow.sink, clock)
    not_hidden = [e for e in errors if "could not be kept hidden" in e]
    assert not_hidden and all("ReceiptHandleIsInvalid" in e for e in not_hidden), errors
    assert totals["notHidden"] == len(not_hidden)


# ------------------------------------------- SQS's 12-hour limit (moto counts it from the send)
class _Queue:
    """A queue as SQS keeps the 12-hour limit: a hide may last until 12 hours after the receive
    that gave the receipt handle, and a longer one is refused."""

    def __init__(self, bodies: list[str], clock: SharedClock) -> None:
        self.clock = clock
        self.waiting = [{"MessageId": f"id{i}", "Body": b} for i, b in enumerate(bodies)]
        self.received: dict[str, float] = {}
        self.extended: list[tuple[float, str, int]] = []  # (when, message id, seconds)

    def receive_message(self, *, QueueUrl, MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds):  # noqa: N803
        taken, self.waiting = self.waiting[:MaxNumberOfMessages], self.waiting[MaxNumberOfMessages:]
        for m in taken:
            self.received[m["MessageId"]] = self.clock.now
        return {"Messages": [{**m, "ReceiptHandle": m["MessageId"]} for m in taken]}

    def delete_message(self, *, QueueUrl, ReceiptHandle):  # noqa: N803
        pass

    def change_message_visibility_batch(self, *, QueueUrl, Entries):  # noqa: N803
        ok, failed = [], []
        for e in Entries:
            if self.clock.now + e["VisibilityTimeout"] > self.received[e["ReceiptHandle"]] + 12 * 3600:
                failed.append({"Id": e["Id"], "Code": "InvalidParameterValue", "SenderFault": True})
            else:
                ok.append({"Id": e["Id"]})
                if e["VisibilityTimeout"]:
                    self.extended.append((self.clock.now, e["ReceiptHandle"], e["VisibilityTimeout"]))
        return {"Successful": ok, "Failed": failed}


class _SlowSink:
    """Takes ``seconds`` of ``clock`` per call and delivers everything."""

    def __init__(self, clock: SharedClock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    def send(self, streams, deadline=None):
        from logstream.sinks import DeliveryResult

        self.clock.advance(self.seconds)
        return DeliveryResult(delivered=len(streams))


def test_given_a_message_held_for_more_than_12_hours_then_it_is_named_once_when_sqs_limit_ends_its_hide(
    monkeypatch,
):
    clock = SharedClock()
    start = clock.now
    # the first message is kept at once, then 13 hours of deliveries (one minute each)
    queue = _Queue(["not an event"] + [on_failure_record([f"m{i}\n"]) for i in range(13 * 60)], clock)
    monkeypatch.setattr(replay, "_sqs_client", lambda url: queue)
    totals, errors = run_replay(
        "https://sqs.us-east-1.amazonaws.com/123456789012/q", _SlowSink(clock, 60), clock
    )
    lost = [e for e in errors if "could not be kept hidden" in e]
    assert len(lost) == 1 and totals["notHidden"] == 1
    assert "message id0" in lost[0] and "12 hours after it was received" in lost[0]
    kept = [(when, seconds) for when, mid, seconds in queue.extended if mid == "id0"]
    # extended up to the limit, never asked for more (SQS would refuse), and no more after it
    assert max(when + seconds for when, seconds in kept) <= start + 12 * 3600
    assert max(when + seconds for when, seconds in kept) > start + 12 * 3600 - HIDE_S
    assert totals["deleted"] == 13 * 60
