"""The forwarder when processing fails or runs late: a record whose processing raises costs only
itself (dead-lettered with its data, counted, logged), processing stops in time for Lambda's
deadline (what was not processed is reported for retry), and an event too big for any record is
dead-lettered as it was received, so ``logstream replay`` can re-drive it.

Kinesis and SQS are moto's server over HTTP (boto3, as the handlers use them). A slow or failing
stage is the real stage with a monkeypatched wrapper; time is a clock whose sleeps pass at once.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import logging
import random
import string
from contextlib import redirect_stdout

import pytest

import logstream.process.pipeline as pipeline_module
from handlers._config import Config
from logstream import DeliveryError, iter_log_streams
from logstream import testing as t
from logstream.sinks import sink_for_destination
from tests.conftest import run_cli
from tests.functional.wire import (
    SELF_NAMESPACE,
    emf_documents,
    new_queue,
    new_stream,
    read_queue,
    stream_records,
)
from tests.lambda_sim import Context, FakeClock, captured_log, run_like_event_source_mapping

SELF = "/aws/lambda/logstream-self"


@pytest.fixture(scope="module")
def forward(handler_modules):
    return handler_modules["forward"]


def config(env: dict | None = None, **kw) -> Config:
    return Config.load({"AWS_REGION": "us-east-1", **(env or {})}, skip_log_groups=frozenset({SELF}), **kw)


def run(handler, event, context):
    """Invoke; the answer (or the exception raised) and the self-metrics document printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            answer = handler(event, context)
        except Exception as exc:  # noqa: BLE001 - returned for the test to look at
            answer = exc
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, own


def messages_in(records: list[bytes]) -> list[str]:
    """The event messages in the records, whatever the record format."""
    return [e.message for r in records for s in iter_log_streams(r) for e in s.log_events]


@contextlib.contextmanager
def log_records(logger):
    """The records a handler's Powertools logger emits (exception info included)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    logger.addHandler(keep)
    try:
        yield records
    finally:
        logger.removeHandler(keep)


def poisoned_redaction(monkeypatch) -> None:
    """The redaction stage raises for any stream holding a message with ``poison`` (a bug in a
    stage, as the handler sees it); every other stream is redacted as usual."""
    real = pipeline_module.redact_events

    def redact_events(events, redactor):
        if any("poison" in e.message for e in events):
            raise RuntimeError("stage bug on purpose")
        return real(events, redactor)

    monkeypatch.setattr(pipeline_module, "redact_events", redact_events)


def multi_document_payload(docs: list[dict]) -> str:
    """awslogs.data holding several documents: one gzip member each, back to back."""
    return base64.b64encode(b"".join(t.gzip_member(t.document_json(d)) for d in docs)).decode()


# ------------------------------------------------------------------------------ poison records
def assert_dead_lettered_poison(letter: dict, poison: dict, log: list, bug: str) -> None:
    """Record 3 of the batch (``poison``) raised ``RuntimeError(bug ...)`` while processed: its
    dead letter holds it exactly as received, with where it came from, and one error line with
    the traceback names it."""
    assert letter["data"] == poison["kinesis"]["data"]  # the record exactly as received
    assert letter["source"] == {
        "eventSourceARN": poison["eventSourceARN"],
        "sequenceNumber": poison["kinesis"]["sequenceNumber"],
        "partitionKey": poison["kinesis"]["partitionKey"],
        "step": "process",
    }
    assert letter["reason"].startswith(f"record 3: process: RuntimeError: {bug} on purpose")
    seq = poison["kinesis"]["sequenceNumber"]
    (logged,) = [r for r in log if r.exc_info]  # one line with the traceback, naming the record
    assert logged.levelname == "ERROR" and isinstance(logged.exc_info[1], RuntimeError)
    assert f"record 3 (sequenceNumber {seq}): processing raised RuntimeError: {bug}" in logged.getMessage()


@pytest.mark.parametrize("record_format", ["ndjson", "ndjson-gzip", "cloudwatch"])
def test_given_a_kinesis_record_whose_processing_raises_then_it_alone_is_dead_lettered_with_its_data(
    forward, aws, monkeypatch, record_format
):
    poisoned_redaction(monkeypatch)
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    env = {"REDACT": "email", "RECORD_FORMAT": record_format}
    handler = forward.build(config(env, destination_arn=arn, dead_letter_queue_url=queue))
    messages = [f"order {i} for bob@example.com" for i in range(5)]
    messages[2] = "poison pill for bob@example.com"
    event = t.kinesis_event([t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(messages)])
    poison = event["Records"][2]

    with log_records(forward.logger) as log:
        answer, own = run(handler, event, Context())

    assert answer == {"batchItemFailures": []}  # dead-lettered and acknowledged, never retried
    assert sorted(messages_in(stream_records(aws("kinesis"), name))) == [
        f"order {i} for [REDACTED:email]" for i in (0, 1, 3, 4)
    ]
    (letter,) = read_queue(aws("sqs"), queue)
    assert_dead_lettered_poison(letter, poison, log, "stage bug")
    assert (own["EventsIn"], own["EventsOut"], own["DecodeErrors"], own["FailedEntries"]) == (5, 4, 1, 0)


def test_given_an_async_event_whose_one_document_raises_then_it_is_dead_lettered_and_acknowledged(
    forward, aws, monkeypatch
):
    poisoned_redaction(monkeypatch)
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = forward.build(config({"REDACT": "email"}, destination_arn=arn, dead_letter_queue_url=queue))
    event = t.lambda_event(t.make_document(["poison for bob@example.com"]))

    answer, own = run(handler, event, Context())

    assert answer == {"delivered": 0, "requests": 0, "deadLettered": 1}
    assert stream_records(aws("kinesis"), name) == []
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["data"] == event["awslogs"]["data"]
    assert letter["source"] == {"source": "subscription", "step": "process"}
    assert letter["reason"].startswith("process: RuntimeError: stage bug on purpose")
    assert (own["EventsIn"], own["EventsOut"], own["DecodeErrors"]) == (1, 0, 1)


def test_given_an_async_event_of_three_documents_one_raising_then_the_two_arrive_and_it_is_dead_lettered(
    forward, aws, monkeypatch
):
    poisoned_redaction(monkeypatch)
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = forward.build(config({"REDACT": "email"}, destination_arn=arn, dead_letter_queue_url=queue))
    docs = [t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(["one", "poison", "three"])]
    event = {"awslogs": {"data": multi_document_payload(docs)}}

    answer, own = run(handler, event, Context())

    assert answer == {"delivered": 2, "requests": 1, "deadLettered": 1}
    assert messages_in(stream_records(aws("kinesis"), name)) == ["one", "three"]
    (letter,) = read_queue(aws("sqs"), queue)
    (stream,) = iter_log_streams(letter["data"])  # the one document, as received
    assert stream.to_document() == docs[1]
    assert letter["reason"].startswith("document 2: process: RuntimeError: stage bug on purpose")
    assert (own["EventsIn"], own["EventsOut"], own["DecodeErrors"]) == (3, 2, 1)


# ---------------------------------------------------------------------------------- deadline
def slow_redaction(monkeypatch, clock: FakeClock, seconds: float, marker: str | None = None) -> None:
    """Redaction that takes ``seconds`` (on ``clock``) per stream, or only for a stream holding
    ``marker`` when given (a slow REDACT_PATTERNS regex), and ends."""
    real = pipeline_module.redact_events

    def redact_events(events, redactor):
        if marker is None or any(marker in e.message for e in events):
            clock.sleep(seconds)
        return real(events, redactor)

    monkeypatch.setattr(pipeline_module, "redact_events", redact_events)


def test_given_a_batch_too_slow_to_process_in_time_then_the_rest_is_reported_for_retry_before_the_deadline(
    forward, aws, monkeypatch
):
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 1.5)
    name, arn = new_stream(aws)
    handler = forward.build(config({"REDACT": "email"}, destination_arn=arn), clock=clock)
    event = t.kinesis_event([t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(10)])
    context = Context(10.0, clock=clock)

    answer, own = run(handler, event, context)

    # The rule (README, "Deadline"): sends stop 1 s before the 10 s timeout (the 10% margin, at
    # least 0.5 s); processing keeps min(2 s, half of that) for sending and starts no record
    # when less time is left than the slowest record so far took: 0 -> 1.5 -> 3 -> 4.5 -> 6 s,
    # then 9 - 2 - 6 = 1 s < 1.5 s.
    processed = 4
    assert context.elapsed() < 10.0  # answered before Lambda's timeout
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs[processed:]]}
    assert messages_in(stream_records(aws("kinesis"), name)) == [f"m{i}" for i in range(processed)]
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (10, processed, 10 - processed)


def test_given_a_slow_batch_when_run_like_the_event_source_mapping_then_every_event_arrives_exactly_once(
    forward, aws, monkeypatch
):
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 1.5)
    name, arn = new_stream(aws)
    handler = forward.build(config({"REDACT": "email"}, destination_arn=arn), clock=clock)
    event = t.kinesis_event([t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(10)])

    out = io.StringIO()
    with redirect_stdout(out):
        invocations, discarded = run_like_event_source_mapping(
            handler, event["Records"], context=lambda: Context(10.0, clock=clock), bisect=True
        )

    assert discarded == []
    assert invocations == 3  # 4 + 4 + 2 records
    assert messages_in(stream_records(aws("kinesis"), name)) == [f"m{i}" for i in range(10)]


def test_given_an_async_event_too_slow_to_process_in_time_then_it_raises_before_the_deadline(
    forward, aws, monkeypatch
):
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 4.0)
    name, arn = new_stream(aws)
    handler = forward.build(config({"REDACT": "email"}, destination_arn=arn), clock=clock)
    docs = [t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(3)]
    context = Context(10.0, clock=clock)

    answer, own = run(handler, {"awslogs": {"data": multi_document_payload(docs)}}, context)

    assert context.elapsed() < 10.0
    assert isinstance(answer, DeliveryError) and "DeadlineExceeded" in str(answer)
    assert "not processed before the deadline" in str(answer)
    # 0 -> 4 s; then 9 - 2 - 4 = 3 s < 4 s: documents 2 and 3 wait for Lambda's retry
    assert messages_in(stream_records(aws("kinesis"), name)) == ["m0"]
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (3, 1, 2)


# ------------------------------------------------------------------- events too big for a record
def small_sink(arn: str, record_format: str, max_record_bytes: int = 4000):
    """The destination's sink with a small record limit (the real limit needs MBs of data)."""
    sink = sink_for_destination(arn, record_format=record_format)
    sink.max_record_bytes = max_record_bytes
    return sink


def test_given_a_cloudwatch_event_too_big_for_a_record_then_it_is_dead_lettered_as_received_and_replayable(
    forward, aws
):
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = forward.build(
        config(
            {"REDACT": "email", "RECORD_FORMAT": "cloudwatch"},
            destination_arn=arn,
            dead_letter_queue_url=queue,
        ),
        sink=small_sink(arn, "cloudwatch"),
    )
    big = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=8000))  # ~6 KB gzip
    doc = t.make_document(["mail bob@example.com", f"{big} bob@example.com"])
    event = t.kinesis_event([t.make_document(["before"], log_stream="other"), doc])
    record = event["Records"][1]

    answer, own = run(handler, event, Context())

    assert answer == {"batchItemFailures": []}
    assert messages_in(stream_records(aws("kinesis"), name)) == ["before", "mail [REDACTED:email]"]
    (letter,) = read_queue(aws("sqs"), queue)
    (stream,) = iter_log_streams(letter["data"])
    assert stream.to_document() == {**doc, "logEvents": [doc["logEvents"][1]]}  # unredacted, as received
    assert letter["source"] == {
        "eventSourceARN": record["eventSourceARN"],
        "sequenceNumber": record["kinesis"]["sequenceNumber"],
        "partitionKey": record["kinesis"]["partitionKey"],
        "step": "record limit",
    }
    big_id = doc["logEvents"][1]["id"]
    assert letter["reason"].startswith(f"record 2: record limit: RecordTooLarge: event {big_id} ")
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (3, 2, 1)

    # the cause fixed (here: a destination that takes it), replay re-drives the dead letter
    # (read and deleted above: put back as it was)
    aws("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(letter))
    other, other_arn = new_stream(aws)
    done = run_cli("replay", queue, "--to", other_arn)
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for r in stream_records(aws("kinesis"), other) for x in r.splitlines()]
    assert (line["id"], line["message"]) == (big_id, f"{big} bob@example.com")
    assert read_queue(aws("sqs"), queue) == []  # delivered, so deleted


def test_given_joined_ndjson_events_too_big_for_a_record_then_each_dead_letter_holds_its_joined_events(
    forward, aws
):
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    env = {"JOIN_MULTILINE": "true", "TAGS": "note=" + "n" * 3800}  # tags alone fill a 4,000-byte record
    handler = forward.build(
        config(env, destination_arn=arn, dead_letter_queue_url=queue), sink=small_sink(arn, "ndjson")
    )
    lines = [
        "Traceback (most recent call last):\n",
        '  File "app.py", line 1, in <module>\n',
        "ValueError: boom\n",
        "next line\n",
    ]
    doc = t.make_document(lines)
    event = t.lambda_event(doc)

    answer, own = run(handler, event, Context())

    assert answer == {"delivered": 0, "requests": 0, "deadLettered": 2}
    letters = read_queue(aws("sqs"), queue)
    got = sorted(
        [e["id"] for s in iter_log_streams(letter["data"]) for e in s.to_document()["logEvents"]]
        for letter in letters
    )
    ids = [e["id"] for e in doc["logEvents"]]
    assert got == sorted([ids[:3], ids[3:]])
    for letter in letters:
        (stream,) = iter_log_streams(letter["data"])
        kept = {e["id"] for e in stream.to_document()["logEvents"]}
        assert stream.to_document() == {**doc, "logEvents": [e for e in doc["logEvents"] if e["id"] in kept]}
        assert letter["source"] == {"source": "subscription", "step": "record limit"}
        assert letter["reason"].startswith("record limit: RecordTooLarge: event ")
    assert (own["EventsIn"], own["FailedEntries"]) == (4, 2)


def test_given_an_oversize_event_without_a_queue_then_it_is_logged_as_received(forward, aws):
    name, arn = new_stream(aws)
    handler = forward.build(
        config({"TAGS": "note=" + "n" * 3800}, destination_arn=arn, dead_letter_queue_url=None),
        sink=small_sink(arn, "ndjson"),
    )
    doc = t.make_document(["secret-free line"])
    with captured_log(forward.logger) as log:
        answer, _ = run(handler, t.lambda_event(doc), Context())
    assert answer["deadLettered"] == 1
    logged = [line for line in log if "dead letter logged with its data" in line]
    (body,) = [json.loads(json.loads("{" + line.split(" {", 1)[1])["deadLetterBody"]) for line in logged]
    (stream,) = iter_log_streams(body["data"])
    assert stream.to_document() == doc
    assert gzip.decompress(base64.b64decode(body["data"]))  # base64 of gzip, like awslogs.data
