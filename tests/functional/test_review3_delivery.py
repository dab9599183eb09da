"""Delivery semantics under failures over the wire (review 3): what is lost, what is sent twice
and what Lambda or Firehose is told, for the forwarder and the Firehose transformation.

boto3 -> fault-injecting proxy (tests/faultproxy.py) -> moto's server; what arrived is read back
from moto directly.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import random
import uuid
from collections import Counter
from contextlib import redirect_stdout

import boto3
import pytest

from handlers._config import Config
from handlers._transform import MARKER
from logstream import DeliveryError, iter_log_streams
from logstream import testing as t
from logstream.sinks import DeadLetter, DeadLetterSink, FirehoseSink, RetryPolicy
from logstream.sinks.sqs import dead_letter_messages
from tests.conftest import firehose_to_s3
from tests.faultproxy import FaultProxy
from tests.functional.test_forward_failures import messages_in, multi_document_payload, slow_redaction
from tests.functional.wire import ACCOUNT, new_queue, new_stream, read_queue, stream_records
from tests.lambda_sim import (
    Context,
    FakeClock,
    captured_log,
    run_like_async_invoke,
    run_like_event_source_mapping,
)

SELF = "/aws/lambda/logstream-self"
POISON = "never-goes-back-in"


@pytest.fixture(scope="module")
def transform(handler_modules):
    return handler_modules["firehose_transform"]


@pytest.fixture(scope="module")
def forward(handler_modules):
    return handler_modules["forward"]


@pytest.fixture
def proxy(aws_endpoint, monkeypatch):
    """``proxy(only, **faults)``: a fault proxy on the ``only`` operations, and boto3 (the code
    under test) pointed at it; the test's own clients (``direct``) talk to moto."""
    started = []

    def start(only, **faults):
        faults.setdefault("request_failure", 0.0)
        faults.setdefault("entry_failure", 0.0)
        p = FaultProxy(aws_endpoint, seed=20261124, only=only, **faults)
        started.append(p.__enter__())
        monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)
        return p

    yield start
    for p in started:
        p.__exit__(None, None, None)


def direct(aws_endpoint, service):
    return boto3.client(service, region_name="us-east-1", endpoint_url=aws_endpoint)


# --------------------------------------------------------------- Firehose transformation
def _big_record_event(delivery_arn: str) -> tuple[dict, list[str], list[str]]:
    """A Direct PUT transformation event of one record whose NDJSON (~5.6 MB) cannot fit a 6 MB
    response: it is re-ingested as ~7 pieces. One event in the middle is marked POISON: the
    piece holding it never goes back in. ``(event, every event id, the ids in no piece with
    POISON)`` - the last filled in by the test from what went in."""
    messages = [f"{i:06d} " + "x" * 1000 + ("" if i != 2600 else POISON) for i in range(5000)]
    doc = t.make_document(messages, log_group="/aws/lambda/app", log_stream="s1")
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": delivery_arn,
        "region": "us-east-1",
        "records": [
            {"recordId": "r-1", "approximateArrivalTimestamp": 1, "data": t.encode_payload(doc)},
        ],
    }
    return event, [e["id"] for e in doc["logEvents"]], []


def _reingest(event: dict) -> FirehoseSink:
    """PutRecordBatch back into the delivery stream, its backoff taking no time."""
    name = event["deliveryStreamArn"].rsplit("/", 1)[1]
    return FirehoseSink(name, region="us-east-1", retry=RetryPolicy(sleep=lambda s: None))


def _poisoned(data: bytes) -> bool:
    return POISON.encode() in gzip.decompress(data)


def _ids_in_bucket(s3, bucket: str) -> Counter:
    """The event ids of every document put into the delivery stream (moto writes each
    PutRecordBatch's records to an object: gzip members, one per re-ingested document)."""
    ids: Counter = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            for stream in iter_log_streams(body):
                assert stream.to_document()[MARKER] == 1
                ids.update(e.id for e in stream.log_events)
    return ids


def test_given_some_pieces_of_a_record_never_go_back_in_when_transformed_then_only_they_are_dead_lettered(
    aws_endpoint, transform, proxy, aws
):
    """A record cut into pieces for re-ingesting, one piece refused on every attempt: before,
    the record was answered ProcessingFailed, so Firehose's error output kept the whole record
    and a replay of it sent the pieces that did go in a second time. Now exactly the refused
    piece's events go to the dead-letter queue (without the re-ingest mark) and the record is
    answered Dropped: every event is in the stream or the queue, once."""
    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    event, ids, _ = _big_record_event(arn)
    queue = new_queue(aws)
    faults = proxy({"PutRecordBatch"}, fail_entry=_poisoned)
    handler = transform.build(
        Config.load({}, skip_log_groups=frozenset({SELF})),
        reingest=_reingest,
        dead_letters=DeadLetterSink(queue),
    )
    with captured_log(transform.logger) as log:
        out = handler(event, Context(300))

    assert out == {"records": [{"recordId": "r-1", "result": "Dropped"}]}
    went_in = _ids_in_bucket(s3, bucket)
    assert went_in and max(went_in.values()) == 1
    letters = read_queue(direct(aws_endpoint, "sqs"), queue)
    assert letters and {(b["source"]["recordId"], b["source"]["step"]) for b in letters} == {
        ("r-1", "reingest")
    }
    data = "".join(b["data"] for b in sorted(letters, key=lambda b: b["part"]))
    streams = list(iter_log_streams(data))
    assert all(MARKER not in s.to_document() for s in streams)
    dead = Counter(e.id for s in streams for e in s.log_events)
    assert any(POISON in e.message for s in streams for e in s.log_events)
    assert went_in + dead == Counter(ids)  # every event once, in the stream or the queue
    assert faults.stats["dropped:PutRecordBatch"] > 1  # the piece was retried, and refused each time
    assert any("re-ingested in part" in line and "answered Dropped" in line for line in log)


def test_given_the_dead_letter_queue_is_gone_when_a_record_goes_back_in_part_way_then_it_is_processing_failed(
    aws_endpoint, transform, proxy, aws
):
    """The same record, the dead-letter queue missing (a fatal error): nothing is lost - the
    record is answered ProcessingFailed, so Firehose's error output keeps it whole - and the log
    says that a replay of it sends the events that did go in a second time."""
    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    event, ids, _ = _big_record_event(arn)
    gone = f"{new_queue(aws).rsplit('/', 1)[0]}/no-such-queue"
    proxy({"PutRecordBatch"}, fail_entry=_poisoned)
    handler = transform.build(
        Config.load({}, skip_log_groups=frozenset({SELF})),
        reingest=_reingest,
        dead_letters=DeadLetterSink(gone),
    )
    with captured_log(transform.logger) as log:
        out = handler(event, Context(300))

    assert out == {"records": [{"recordId": "r-1", "result": "ProcessingFailed"}]}
    went_in = _ids_in_bucket(s3, bucket)
    assert went_in and sum(went_in.values()) < len(ids)
    assert any("re-ingested in part and no dead-letter queue took the rest" in line for line in log)


def test_given_no_piece_goes_back_in_when_transformed_then_it_is_processing_failed_and_not_dead_lettered(
    aws_endpoint, transform, proxy, aws
):
    """Re-ingesting refused outright (nothing went in): ProcessingFailed as before, the error
    output holding the record whole is exact; the dead-letter queue stays empty."""
    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    event, _, _ = _big_record_event(f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}")
    queue = new_queue(aws)
    proxy({"PutRecordBatch"}, deny=1.0)
    handler = transform.build(
        Config.load({}, skip_log_groups=frozenset({SELF})),
        reingest=_reingest,
        dead_letters=DeadLetterSink(queue),
    )
    out = handler(event, Context(300))

    assert out == {"records": [{"recordId": "r-1", "result": "ProcessingFailed"}]}
    assert _ids_in_bucket(s3, bucket) == Counter()
    assert read_queue(direct(aws_endpoint, "sqs"), queue) == []


# ------------------------------------------------------------ forwarder, subscription (async)
def _forward_config(arn: str, **kw) -> Config:
    return Config.load(
        {"AWS_REGION": "us-east-1", "REDACT": "email"},
        skip_log_groups=frozenset({SELF}),
        destination_arn=arn,
        **kw,
    )


def test_given_an_async_event_of_documents_cut_by_the_deadline_when_retried_like_lambda_then_none_goes_twice(
    forward, aws, monkeypatch
):
    """Three documents in one event, each taking 4 s to process in a 10 s invocation: the first
    is delivered, the other two are not processed in time. Before, the handler raised and
    Lambda's retries sent the first document again on every attempt (three times in all). Now
    the two late documents go to the dead-letter queue (each as a payload of its own) and the
    event is acknowledged: one invocation, every event once in the stream or the queue."""
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 4.0)
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = forward.build(_forward_config(arn, dead_letter_queue_url=queue), clock=clock)
    docs = [t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(3)]
    event = {"awslogs": {"data": multi_document_payload(docs)}}

    with redirect_stdout(io.StringIO()):
        invocations, error = run_like_async_invoke(handler, event, context=lambda: Context(10.0, clock=clock))

    assert (invocations, error) == (1, None)
    assert messages_in(stream_records(aws("kinesis"), name)) == ["m0"]
    letters = read_queue(aws("sqs"), queue)
    assert sorted(b["reason"].split(":")[0] for b in letters) == ["document 2", "document 3"]
    assert all(b["source"] == {"source": "subscription", "step": "deadline"} for b in letters)
    got = sorted(s.to_document()["logStream"] for b in letters for s in iter_log_streams(b["data"]))
    assert got == ["s1", "s2"]


def test_given_no_dead_letter_queue_when_an_async_event_is_cut_by_the_deadline_then_it_raises_for_retry(
    forward, aws, monkeypatch
):
    """The same event, the dead-letter queue missing: nothing may be lost, so the handler raises
    as before (Lambda retries the event; the first document is sent again)."""
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 4.0)
    name, arn = new_stream(aws)
    gone = f"{new_queue(aws).rsplit('/', 1)[0]}/no-such-queue"
    handler = forward.build(_forward_config(arn, dead_letter_queue_url=gone), clock=clock)
    docs = [t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(3)]

    with (
        redirect_stdout(io.StringIO()),
        pytest.raises(DeliveryError, match="not processed before the deadline"),
    ):
        handler({"awslogs": {"data": multi_document_payload(docs)}}, Context(10.0, clock=clock))
    assert messages_in(stream_records(aws("kinesis"), name)) == ["m0"]


# ---------------------------------------------------------------- forwarder, Kinesis batches
def test_given_a_request_unanswered_in_time_when_run_like_the_event_source_mapping_then_only_it_repeats(
    forward, aws, proxy, aws_endpoint
):
    """600 records leave in two PutRecords requests (500 + 100). The first gets no answer before
    the read timeout (the proxy forwarded it: it is in the stream); time is left for a request
    as long. Before, the sink never sent it again and reported its 500 records, and Lambda's
    retry from the lowest of them sent the whole batch again: the second request's 100 records
    arrived twice too. Now the sink sends it once more itself: no record is reported, the 100
    arrive once, and only the request whose outcome was unknown is in the stream twice."""
    from logstream.sinks import KinesisSink
    from logstream.sinks.base import make_client

    faults = proxy({"PutRecords"}, delay=4.0, delay_first=1)
    name, arn = new_stream(aws)
    client = make_client("kinesis", "us-east-1", connect_timeout=1.0, read_timeout=2.0)  # via the proxy
    handler = forward.build(Config.load({}, destination_arn=arn), sink=KinesisSink(name, client=client))
    docs = [t.make_document([f"event {i}"], log_stream=f"s{i}") for i in range(600)]
    event = t.kinesis_event(docs)

    with redirect_stdout(io.StringIO()):
        invocations, discarded = run_like_event_source_mapping(
            handler, event["Records"], context=lambda: Context(60)
        )

    assert (invocations, discarded) == (1, [])
    got = Counter(m for m in messages_in(stream_records(aws("kinesis"), name)))
    assert got == Counter({f"event {i}": 2 if i < 500 else 1 for i in range(600)})
    assert (faults.stats["delayed:PutRecords"], faults.stats["requests:PutRecords"]) == (1, 3)


# ---------------------------------------------------------------------- dead-letter queue
def test_given_a_large_dead_letter_with_a_reason_not_in_ascii_then_every_part_fits_sqs(aws_endpoint, aws):
    """SQS's limit is 256 KiB of UTF-8. The parts of a dead letter were sized by characters, so
    a reason or source with non-ASCII text (a log stream named in Japanese is a Kinesis
    partition key; an exception quoting a message) made parts over the limit: SQS refused them
    and the letter only reached the log. Every part now fits, and they join to the data."""
    queue = new_queue(aws)
    data = base64.b64encode(bytes(range(256)) * 2400).decode()  # ~800 KB: four parts
    letter = DeadLetter(
        data,
        "record 1: process: ValueError: " + "ログの解析に失敗しました " * 60,
        {
            "source": "subscription",
            "partitionKey": "/aws/lambda/アプリ/" + "ストリーム" * 40,
            "step": "process",
        },
    )

    result = DeadLetterSink(queue).send([letter])

    assert (result.failed, result.delivered) == ([], 4)
    bodies = read_queue(direct(aws_endpoint, "sqs"), queue)
    assert "".join(b["data"] for b in sorted(bodies, key=lambda b: b["part"])) == data
    assert all(len(json.dumps(b, ensure_ascii=False).encode()) <= 256 * 1024 for b in bodies)
    assert max(len(m.encode()) for m in dead_letter_messages(letter)) <= 256 * 1024


# ------------------------------------------------------------------- records near the limit
@pytest.mark.parametrize("record_format", ["ndjson", "ndjson-gzip"])
@pytest.mark.parametrize("char", ["é", "漢", "😀"])
def test_given_an_event_line_over_the_record_limit_with_non_ascii_text_then_its_parts_arrive(
    forward, aws, record_format, char
):
    """An event line longer than a record is cut into parts. A cut falling inside a UTF-8
    sequence raised UnicodeDecodeError (only msgspec's DecodeError was caught while backing off
    to a character boundary), so the record holding it was dead-lettered as a processing
    failure instead of delivered. Now every part arrives and the message joins back."""
    from logstream.sinks import sink_for_destination

    name, arn = new_stream(aws)
    queue = new_queue(aws)
    sink = sink_for_destination(arn, record_format=record_format)
    sink.max_record_bytes = 4000  # the real limit needs MBs of data
    handler = forward.build(Config.load({}, destination_arn=arn, dead_letter_queue_url=queue), sink=sink)
    message = (char * 7 + "\x01") * 400  # escaped: 3-6 KB and more; gzip: far less, so gzip a random one
    if record_format == "ndjson-gzip":
        rng = random.Random(3)
        message = "".join(rng.choice([char, "\x01", "a", "\u2028"]) for _ in range(6000))
    doc = t.make_document([message])

    with redirect_stdout(io.StringIO()):
        answer = handler(t.kinesis_event([doc]), Context())

    assert answer == {"batchItemFailures": []}
    assert read_queue(aws("sqs"), queue) == []
    lines = [json.loads(x) for r in stream_records(aws("kinesis"), name) for x in _lines(r)]
    assert len(lines) > 1 and [x["part"] for x in lines] == list(range(1, len(lines) + 1))
    assert "".join(x["message"] for x in lines) == message


def _lines(record: bytes) -> list[bytes]:
    return (gzip.decompress(record) if record[:2] == b"\x1f\x8b" else record).splitlines()


def test_given_a_dead_letter_of_non_ascii_data_over_a_message_then_it_is_split_not_raised():
    """Data not in base64 (``repr`` of a record that is not one) is split the same way: the cut
    inside a UTF-8 sequence raised, and ``Runtime.dead_letter``, which must never raise, did."""
    data = "{'kinesis': 'ログ'}" * 30_000  # ~570 KB of UTF-8
    bodies = dead_letter_messages(DeadLetter(data, "record 1: base64: not base64"))
    assert len(bodies) > 2 and max(len(b.encode()) for b in bodies) <= 256 * 1024
    assert "".join(json.loads(b)["data"] for b in bodies) == data


# ------------------------------------------- what was dead-lettered, replayed: each event once
def test_given_late_documents_dead_lettered_when_replayed_then_every_event_is_in_the_stream_once(
    forward, aws, aws_endpoint, monkeypatch
):
    """The deadline's dead letters are for `logstream replay`: replayed from the queue into
    the same stream, the late documents arrive and the delivered one is not sent again."""
    from tests.conftest import run_cli

    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 4.0)
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = forward.build(_forward_config(arn, dead_letter_queue_url=queue), clock=clock)
    docs = [t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(3)]
    with redirect_stdout(io.StringIO()):
        run_like_async_invoke(
            handler,
            {"awslogs": {"data": multi_document_payload(docs)}},
            context=lambda: Context(10.0, clock=clock),
        )

    res = run_cli("replay", queue, "--to", arn, env={"AWS_ENDPOINT_URL": aws_endpoint})

    assert res.returncode == 0, res.stderr
    assert sorted(messages_in(stream_records(aws("kinesis"), name))) == ["m0", "m1", "m2"]
    assert json.loads(res.stdout)["deleted"] == 2
    assert read_queue(aws("sqs"), queue) == []


def test_given_a_record_re_ingested_in_part_when_its_dead_letter_is_replayed_then_every_event_arrives_once(
    aws_endpoint, transform, proxy, aws
):
    """The transformation dead-letters the pieces Firehose kept refusing and answers Dropped;
    replaying the queue into the delivery stream delivers exactly those events: with what went
    back in, every event of the record once."""
    from tests.conftest import run_cli

    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    event, ids, _ = _big_record_event(arn)
    queue = new_queue(aws)
    proxy({"PutRecordBatch"}, fail_entry=_poisoned)
    handler = transform.build(
        Config.load({}, skip_log_groups=frozenset({SELF})),
        reingest=_reingest,
        dead_letters=DeadLetterSink(queue),
    )
    assert handler(event, Context(300))["records"][0]["result"] == "Dropped"
    went_in = _ids_in_bucket(s3, bucket)
    assert went_in and sum(went_in.values()) < len(ids)

    # the replay talks to moto directly (the proxy refuses only the re-ingested piece)
    res = run_cli("replay", queue, "--to", arn, env={"AWS_ENDPOINT_URL": aws_endpoint})

    assert res.returncode == 0, res.stderr
    arrived: Counter = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            arrived.update(e.id for s in iter_log_streams(body) for e in s.log_events)
    assert arrived == Counter(ids)  # every event of the record, once
    assert read_queue(direct(aws_endpoint, "sqs"), queue) == []


def test_given_a_piece_refused_until_the_deadline_when_transformed_then_the_queue_still_gets_it(
    aws_endpoint, transform, proxy, aws
):
    """The refused piece is retried until the invocation's time runs out, each request slow:
    the retries stop in time for the dead-letter queue (before, they took all of it, the
    letter found no time left and the record was answered ProcessingFailed, so a replay of the
    error output sent the pieces that went in a second time)."""
    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    event, ids, _ = _big_record_event(arn)
    queue = new_queue(aws)
    proxy({"PutRecordBatch"}, fail_entry=_poisoned)
    clock = FakeClock()

    class SlowFirehose(FirehoseSink):
        def _put(self, batch, deadline):  # each request takes 0.9 s (on the test clock)
            clock.sleep(0.9)
            return super()._put(batch, deadline)

    def reingest(event: dict) -> FirehoseSink:  # backoff on the test clock, retried without end
        policy = RetryPolicy(max_attempts=10_000, sleep=clock.sleep, rng=lambda: 0.0)
        return SlowFirehose(event["deliveryStreamArn"].rsplit("/", 1)[1], region="us-east-1", retry=policy)

    handler = transform.build(
        Config.load({}, skip_log_groups=frozenset({SELF})),
        reingest=reingest,
        dead_letters=DeadLetterSink(queue),
        clock=clock,
    )
    out = handler(event, Context(60, clock=clock))

    assert out == {"records": [{"recordId": "r-1", "result": "Dropped"}]}
    assert clock.slept > 40  # the piece was retried for most of the invocation
    letters = read_queue(direct(aws_endpoint, "sqs"), queue)
    data = "".join(b["data"] for b in sorted(letters, key=lambda b: b["part"]))
    dead = Counter(e.id for s in iter_log_streams(data) for e in s.log_events)
    assert _ids_in_bucket(s3, bucket) + dead == Counter(ids)
