"""Hostile review of the forwarder and the Firehose transformation with the processing pipeline
on: events that grow past the limits (parsing's ``json``, tags, joined stack traces), records
that come back through re-ingesting, and the self-metrics' sums.

Kinesis and Firehose are moto's server over HTTP (boto3, as the handlers use them); the
Firehose transformation's rounds are played by the test: what one invocation re-ingests is read
back and is the next invocation's event.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
from collections import Counter
from contextlib import redirect_stdout

import pytest

from handlers._config import Config
from logstream import iter_log_streams
from logstream import testing as t
from tests.conftest import firehose_to_s3
from tests.functional.wire import (
    ACCOUNT,
    SELF_NAMESPACE,
    emf_documents,
    new_stream,
    s3_objects,
    stream_records,
)
from tests.lambda_sim import Context

SELF = "/aws/lambda/logstream-self"
GROUP, STREAM = "/aws/lambda/checkout", "2026/11/23/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0"
RESPONSE_MAX = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def modules(handler_modules):
    return handler_modules


def run(handler, event, timeout_s: float = 300.0):
    """Invoke; return the answer and the self-metrics document it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(event, Context(timeout_s))
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, own


class Rounds:
    """Firehose and its transformation, round after round: the handler re-ingests into a real
    delivery stream (PutRecordBatch on moto, which writes what it takes to S3); the documents
    that arrived there since the last round are the next round's records."""

    def __init__(self, modules, aws, **env):
        self.s3, firehose = aws("s3"), aws("firehose")
        name, self.bucket = firehose_to_s3(self.s3, firehose)
        self.arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
        config = Config.load({"AWS_REGION": "us-east-1", **env}, skip_log_groups=frozenset({SELF}))
        self.handler = modules["firehose_transform"].build(config)
        self.seen: set[str] = set()

    def reingested(self) -> list[dict]:
        """The documents put back since the last call."""
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]
        new = [k for k in keys if k not in self.seen]
        self.seen.update(new)
        bodies = [self.s3.get_object(Bucket=self.bucket, Key=k)["Body"].read() for k in new]
        return [s.to_document() for body in bodies for s in iter_log_streams(body)]

    def play(self, docs: list[dict], max_rounds: int = 8):
        """Every round's answers and self-metrics, until nothing is re-ingested (or max_rounds)."""
        answers, metrics = [], []
        for _ in range(max_rounds):
            if not docs:
                break
            event = t.firehose_event(docs, delivery_stream_arn=self.arn)
            answer, own = run(self.handler, event)
            assert len(json.dumps(answer)) <= RESPONSE_MAX
            assert [r["recordId"] for r in answer["records"]] == [r["recordId"] for r in event["records"]]
            answers.append(answer)
            metrics.append(own)
            docs = self.reingested()
        return answers, metrics, docs


def ok_lines(answers) -> list[dict]:
    return [
        json.loads(line)
        for answer in answers
        for r in answer["records"]
        if r["result"] == "Ok"
        for line in base64.b64decode(r["data"]).splitlines()
    ]


# ------------------------------------------------------------------ the Firehose transformation
def test_given_records_overflowing_the_response_when_answered_in_two_rounds_then_events_in_counts_each_once(
    modules, aws
):
    """Ten records of 2,000 events (~9 MB of NDJSON): half fit the first response, the rest are
    re-ingested and answered in the second round. EventsIn is summed over the rounds by
    CloudWatch: each event must be in it once, as EventsOut has it (nothing is filtered)."""
    docs = [
        t.make_document([f"order {i} accepted " + "x" * 200 + "\n" for i in range(2000)], log_stream=f"s{j}")
        for j in range(10)
    ]
    answers, metrics, left = Rounds(modules, aws).play(docs)
    assert left == [] and len(answers) == 2
    assert len(ok_lines(answers)) == 20_000
    assert [m["EventsOut"] for m in metrics] == [10_000, 10_000]
    assert sum(m["EventsIn"] for m in metrics) == 20_000  # was 30,000: the overflow counted twice
    assert [m["EventsIn"] for m in metrics] == [m["EventsOut"] for m in metrics]


def test_given_a_pipeline_that_grows_lines_when_records_overflow_then_the_reingested_pieces_fit_a_response(
    modules, aws
):
    """TAGS of 3,000 characters make each ~250-byte event line ~3 KB: re-ingested pieces cut
    by the size of the lines *before* the pipeline (900 KiB) made ~11 MB each, never fit a
    response, and went round forever. Each piece must fit the response its round gives it."""
    tags = "note=" + "v" * 3000
    doc = t.make_document([f"m{i}\n" for i in range(9000)], log_group=GROUP, log_stream=STREAM)
    answers, metrics, left = Rounds(modules, aws, TAGS=tags).play([doc])
    assert left == []  # every event answered: nothing left going round
    lines = ok_lines(answers)
    assert Counter(x["id"] for x in lines) == Counter(e["id"] for e in doc["logEvents"])
    assert all(x["tags"] == {"note": "v" * 3000} for x in lines)
    assert sum(m["EventsIn"] for m in metrics) == sum(m["EventsOut"] for m in metrics) == 9000
    assert all(m["FailedEntries"] == 0 for m in metrics)


def test_given_a_joined_stack_trace_when_its_record_overflows_then_the_reingested_pieces_keep_it_whole(
    modules, aws
):
    """A stack trace is joined into one event; when its record is re-ingested, the pieces are
    cut between events the pipeline keeps apart, never inside the trace (which would arrive as
    two events, the second without its exception line)."""
    trace = ["java.lang.IllegalStateException: boom\n"] + [
        f"\tat com.shop.C.m{i}(C.java:{i})\n" for i in range(400)
    ]
    messages = []
    for n in range(40):
        messages += [f"request {n} " + "y" * 3000 + "\n"] * 60 + trace
    doc = t.make_document(messages, log_group=GROUP, log_stream=STREAM)
    answers, _, left = Rounds(modules, aws, JOIN_MULTILINE="true").play([doc])
    assert left == [] and len(answers) > 1
    joined = [x for x in ok_lines(answers) if x["message"].startswith("java.lang.")]
    assert len(joined) == 40
    assert all(x["message"] == "".join(trace) and len(x["joinedIds"]) == 400 for x in joined)


# ------------------------------------------------------------------------------ the forwarder
def test_given_a_stack_trace_of_20000_lines_then_it_arrives_as_joined_events_of_at_most_256_kib(modules, aws):
    """Joining stops at 256 KiB of message and ids: 20,001 events become a few joined events,
    each a whole record, every id once and in order."""
    from logstream.process.multiline import MAX_JOINED_BYTES

    name, arn = new_stream(aws)
    lines = ["Exception in thread main java.lang.StackOverflowError\n"] + [
        f"\tat com.example.Recursive.call(Recursive.java:{i})\n" for i in range(20_000)
    ]
    doc = t.make_document(lines, log_group=GROUP, log_stream=STREAM, start_ms=int(time.time() * 1000) - 1000)
    config = Config.load({"AWS_REGION": "us-east-1", "DESTINATION_ARN": arn, "JOIN_MULTILINE": "true"})
    answer, own = run(modules["forward"].build(config, dead_letters=None), t.kinesis_event([doc]))
    assert answer == {"batchItemFailures": []}
    events = [json.loads(x) for r in stream_records(aws("kinesis"), name) for x in r.splitlines()]
    assert len(events) > 1 and not any("part" in e for e in events)
    assert all(len(e["message"]) + 59 * len(e["joinedIds"]) <= MAX_JOINED_BYTES for e in events)
    assert "".join(e["message"] for e in events) == "".join(lines)
    assert [i for e in events for i in [e["id"], *e["joinedIds"]]] == [e["id"] for e in doc["logEvents"]]
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (20_001, len(events), 0)


def test_given_a_joined_event_over_a_record_then_its_parts_arrive_with_every_joined_id(
    modules, aws, monkeypatch
):
    """A joined event whose joinedIds alone (1.2 MB) fill a Kinesis record: splitting it by its
    message only left no room, and the event was dead-lettered instead of delivered. The parts
    share out joinedIds as they share out the message. (Joining stops at 256 KiB, but escapes
    can still make a joined event's line larger than a record: the cap is lifted here to make
    one.)"""
    from logstream.process import multiline

    monkeypatch.setattr(multiline, "MAX_JOINED_BYTES", 1 << 30)
    name, arn = new_stream(aws)
    lines = ["Exception in thread main java.lang.StackOverflowError\n"] + [
        f"\tat com.example.Recursive.call(Recursive.java:{i})\n" for i in range(20_000)
    ]
    doc = t.make_document(lines, log_group=GROUP, log_stream=STREAM, start_ms=int(time.time() * 1000) - 1000)
    config = Config.load({"AWS_REGION": "us-east-1", "DESTINATION_ARN": arn, "JOIN_MULTILINE": "true"})
    handler = modules["forward"].build(config, dead_letters=None)
    answer, own = run(handler, t.kinesis_event([doc]))
    assert answer == {"batchItemFailures": []}
    records = stream_records(aws("kinesis"), name)
    parts = [json.loads(x) for r in records for x in r.splitlines()]
    assert len(parts) > 1 and all(len(r) + len(f"{GROUP}/{STREAM}") <= 1024 * 1024 for r in records)
    assert [(p["part"], p["parts"]) for p in parts] == [(i, len(parts)) for i in range(1, len(parts) + 1)]
    assert {p["id"] for p in parts} == {doc["logEvents"][0]["id"]}
    assert "".join(p["message"] for p in parts) == "".join(lines)
    assert [i for p in parts for i in p.get("joinedIds", [])] == [e["id"] for e in doc["logEvents"][1:]]
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (20_001, len(parts), 0)


def test_given_ndjson_gzip_and_a_joined_trace_over_a_record_then_each_record_gunzips_to_its_parts(
    modules, aws, monkeypatch
):
    from logstream.process import multiline

    monkeypatch.setattr(multiline, "MAX_JOINED_BYTES", 1 << 30)  # one joined event over a record
    s3, firehose = aws("s3"), aws("firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
    lines = ["Traceback (most recent call last):\n"] + [
        f'  File "/var/task/app.py", line {i}, in handler\n' for i in range(25_000)
    ]
    doc = t.make_document(lines, log_group=GROUP, log_stream=STREAM)
    config = Config.load(
        {
            "AWS_REGION": "us-east-1",
            "DESTINATION_ARN": arn,
            "JOIN_MULTILINE": "true",
            "RECORD_FORMAT": "ndjson-gzip",
        }
    )
    answer, own = run(modules["forward"].build(config, dead_letters=None), t.lambda_event(doc))
    assert answer["deadLettered"] == 0
    body = b"".join(s3_objects(s3, bucket))
    parts = [json.loads(x) for x in gzip.decompress(body).splitlines()]  # `gzip -dc` of the objects
    assert "".join(p["message"] for p in parts) == "".join(lines)
    assert [i for p in parts for i in p.get("joinedIds", [])] == [e["id"] for e in doc["logEvents"][1:]]
    assert own["FailedEntries"] == 0
