"""The Firehose transformation of a Kinesis-sourced delivery stream, over the wire: what does not
fit in the 6 MB response goes back into the source stream (PutRecords), not into the delivery
stream, and comes back through the transformation until every event was answered ``Ok`` once.

Played by the test: CloudWatch Logs (its documents put into the source stream), Firehose (it
reads the stream and invokes the handler with what it read, ``sourceKinesisStreamArn`` set) and
Lambda (the context). The handler is built as its module builds it, with its own re-ingest sink
(``reingest_sink``): boto3 -> fault-injecting proxy (tests/faultproxy.py) -> moto's server.
What arrived is read back from moto directly, with GetRecords.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import uuid
from collections import Counter
from contextlib import redirect_stdout

import boto3
import pytest

from benchmarks.payloads import messages as realistic_messages
from handlers._config import Config
from handlers._transform import MARKER
from logstream import testing as t
from tests.conftest import firehose_to_s3
from tests.faultproxy import FaultProxy
from tests.functional.wire import ACCOUNT, SELF_NAMESPACE, emf_documents
from tests.lambda_sim import Context, captured_log

SELF = "/aws/lambda/logstream-self"


@pytest.fixture(scope="module")
def transform(handler_modules):
    """handlers.firehose_transform as Lambda imports it (environment read once, at import)."""
    return handler_modules["firehose_transform"]


@pytest.fixture
def proxy(aws_endpoint, monkeypatch):
    """``proxy(**faults)``: a fault proxy on PutRecords / PutRecordBatch only, and boto3 (the code
    under test) pointed at it; the test's own clients (``direct``) talk to moto."""
    started = []

    def start(**faults):
        faults.setdefault("request_failure", 0.0)
        faults.setdefault("entry_failure", 0.0)
        p = FaultProxy(aws_endpoint, seed=20261123, only={"PutRecords", "PutRecordBatch"}, **faults)
        started.append(p.__enter__())
        monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)
        return p

    yield start
    for p in started:
        p.__exit__(None, None, None)


def direct(aws_endpoint, service):
    return boto3.client(service, region_name="us-east-1", endpoint_url=aws_endpoint)


class SourceStream:
    """The Kinesis stream a delivery stream reads: its records are read once each, in order,
    as Firehose reads them (one shard iterator per shard, kept across reads)."""

    def __init__(self, aws_endpoint, shards: int = 2):
        self.kinesis = direct(aws_endpoint, "kinesis")
        self.name = f"src-{uuid.uuid4().hex[:8]}"
        self.kinesis.create_stream(StreamName=self.name, ShardCount=shards)
        self.arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{self.name}"
        self._iterators = {
            shard["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=self.name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in self.kinesis.list_shards(StreamName=self.name)["Shards"]
        }

    def put_documents(self, docs: list[dict]) -> None:
        """What CloudWatch Logs does: each document gzip-compressed, one record each."""
        for i in range(0, len(docs), 100):
            out = self.kinesis.put_records(
                StreamName=self.name,
                Records=[
                    {
                        "Data": base64.b64decode(t.encode_payload(d)),
                        "PartitionKey": f"{d['logGroup']}/{d['logStream']}",
                    }
                    for d in docs[i : i + 100]
                ],
            )
            assert out["FailedRecordCount"] == 0

    def read_new(self) -> list[tuple[str, dict]]:
        """``(shard id, record)`` for every record not read before (GetRecords)."""
        out = []
        for shard, it in self._iterators.items():
            while True:
                got = self.kinesis.get_records(ShardIterator=it, Limit=10_000)
                out += [(shard, r) for r in got["Records"]]
                it = got["NextShardIterator"]
                if not got["Records"]:
                    break
            self._iterators[shard] = it
        return out


def firehose_event(source: SourceStream, delivery_arn: str, records: list[tuple[str, dict]]) -> dict:
    """The transformation event Firehose sends for records read from a Kinesis stream."""
    return {
        "invocationId": str(uuid.uuid4()),
        "sourceKinesisStreamArn": source.arn,
        "deliveryStreamArn": delivery_arn,
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"{r['SequenceNumber']}-{i}",
                "approximateArrivalTimestamp": int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
                "data": base64.b64encode(r["Data"]).decode(),
                "kinesisRecordMetadata": {
                    "shardId": shard,
                    "partitionKey": r["PartitionKey"],
                    "approximateArrivalTimestamp": int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
                    "sequenceNumber": r["SequenceNumber"],
                    "subsequenceNumber": "",
                },
            }
            for i, (shard, r) in enumerate(records)
        ],
    }


def documents(megabytes: float) -> list[dict]:
    """Realistic Lambda log documents, ``megabytes`` of gzip in all (~6x that as NDJSON)."""
    docs, size = [], 0
    while size < megabytes * 1_000_000:
        doc = t.make_document(
            realistic_messages(200, seed=len(docs)),
            log_group=f"/aws/lambda/app{len(docs) % 5}",
            log_stream=f"2026/11/23/[$LATEST]{len(docs):032x}",
            start_ms=1_700_000_000_000 + len(docs) * 1000,
        )
        docs.append(doc)
        size += len(base64.b64decode(t.encode_payload(doc)))
    return docs


def delivery_stream(aws_endpoint, source: SourceStream) -> tuple[str, str]:
    """A delivery stream reading ``source`` into a new bucket: ``(ARN, bucket)``. moto does not
    run it; it is there so that anything put into it by mistake would land in the bucket."""
    s3, firehose = direct(aws_endpoint, "s3"), direct(aws_endpoint, "firehose")
    name, bucket = firehose_to_s3(s3, firehose)
    return f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}", bucket


def ids_of_documents(docs) -> Counter:
    return Counter(e["id"] for d in docs for e in d["logEvents"])


def ids_of_record(record: dict, event: dict) -> Counter:
    """The event ids of the input record answered by ``record`` (same recordId)."""
    [original] = [r for r in event["records"] if r["recordId"] == record["recordId"]]
    return ids_of_documents([json.loads(gzip.decompress(base64.b64decode(original["data"])))])


def test_given_a_kinesis_sourced_delivery_stream_when_records_overflow_then_they_return_via_the_source_stream(
    aws_endpoint, transform, proxy
):
    """Each round: the handler answers what fits ``Ok`` and re-ingests the rest into the source
    stream, under 25% failed PutRecords requests and 20% failed entries (retried entry by entry);
    the next round is what Firehose then reads from the stream."""
    source = SourceStream(aws_endpoint)
    delivery_arn, bucket = delivery_stream(aws_endpoint, source)
    docs = documents(1)
    source.put_documents(docs)
    want = ids_of_documents(docs)
    handler = transform.build(Config.load({}, skip_log_groups=frozenset({SELF})))
    faults = proxy(request_failure=0.25, entry_failure=0.2)

    got: Counter = Counter()
    results: Counter = Counter()
    rounds = 0
    batch = source.read_new()
    assert len(batch) == len(docs)
    while batch:
        rounds += 1
        assert rounds < 20
        event = firehose_event(source, delivery_arn, batch)
        before = Counter(faults.stats)
        stdout = io.StringIO()
        with redirect_stdout(stdout):
            out = handler(event, Context(300))
        assert [r["recordId"] for r in out["records"]] == [r["recordId"] for r in event["records"]]
        assert len(json.dumps(out)) <= 6 * 1024 * 1024
        dropped: Counter = Counter()  # the events of the records answered Dropped: re-ingested
        for rec in out["records"]:
            results[rec["result"]] += 1
            if rec["result"] == "Ok":
                got.update(json.loads(x)["id"] for x in base64.b64decode(rec["data"]).splitlines())
            elif rec["result"] == "Dropped":
                dropped += ids_of_record(rec, event)

        batch = source.read_new()  # what the handler put back: new gzip CloudWatch documents
        again = [json.loads(gzip.decompress(r["Data"])) for _, r in batch]
        assert all(d[MARKER] == rounds and d["messageType"] == "DATA_MESSAGE" for d in again)
        assert all(
            r["PartitionKey"] == f"{d['logGroup']}/{d['logStream']}"
            for (_, r), d in zip(batch, again, strict=True)
        )
        assert ids_of_documents(again) == dropped  # each re-ingested event exactly once
        assert {d["owner"] for d in again} <= {ACCOUNT}

        # entry by entry: every retry re-sent only what had failed, so nothing arrived twice
        # (above); every request but the first of each batch of <= 500 records was a retry
        step = faults.stats - before
        [emf] = emf_documents(stdout.getvalue(), SELF_NAMESPACE)
        assert emf["FailedEntries"] == 0
        assert emf["Retries"] == step["requests:PutRecords"] - math.ceil(len(batch) / 500)
        assert step["requests:PutRecordBatch"] == 0  # never into a Kinesis-sourced delivery stream

    assert rounds > 1 and results["Dropped"] > 0  # the records did not fit one response
    assert results["ProcessingFailed"] == 0
    assert got == want  # every event answered Ok exactly once
    assert faults.stats["dropped:PutRecords"] > 0  # entries failed, and were retried
    assert faults.stats["503:PutRecords"] + faults.stats["throttled:PutRecords"] > 0  # whole requests too
    assert direct(aws_endpoint, "s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_given_the_source_stream_denies_puts_when_records_overflow_then_exactly_they_fail_and_none_is_lost(
    aws_endpoint, transform, proxy
):
    """AccessDenied on PutRecords is fatal: one request per batch, no retry; the records that did
    not fit are answered ProcessingFailed (their data stays in Firehose's error output), counted
    as FailedEntries and logged; the rest is answered as if nothing had happened."""
    source = SourceStream(aws_endpoint)
    delivery_arn, _ = delivery_stream(aws_endpoint, source)
    docs = documents(1)
    source.put_documents(docs)
    handler = transform.build(Config.load({}, skip_log_groups=frozenset({SELF})))
    faults = proxy(deny=1.0)
    event = firehose_event(source, delivery_arn, source.read_new())
    stdout = io.StringIO()
    with redirect_stdout(stdout), captured_log(transform.logger) as log:
        out = handler(event, Context(300))

    assert [r["recordId"] for r in out["records"]] == [r["recordId"] for r in event["records"]]
    ok = [r for r in out["records"] if r["result"] == "Ok"]
    failed = [r for r in out["records"] if r["result"] == "ProcessingFailed"]
    assert len(ok) + len(failed) == len(docs) and failed
    got = Counter(json.loads(x)["id"] for r in ok for x in base64.b64decode(r["data"]).splitlines())
    for rec in ok:
        assert got & ids_of_record(rec, event) == ids_of_record(rec, event)
    lost = ids_of_documents(docs) - got
    assert lost == sum((ids_of_record(r, event) for r in failed), Counter())  # kept by Firehose
    assert source.read_new() == []
    # one gzip document per failed record (each decodes to far less than 900 KiB of NDJSON)
    requests = math.ceil(len(failed) / 500)
    assert (faults.stats["requests:PutRecords"], faults.stats["denied:PutRecords"]) == (requests, requests)
    [emf] = emf_documents(stdout.getvalue(), SELF_NAMESPACE)
    assert (emf["FailedEntries"], emf["Retries"]) == (len(failed), 0)
    [error] = [line for line in log if line.startswith("ERROR ")]
    message, extra = error.removeprefix("ERROR ").split(" {", 1)
    assert message == "records could not be re-ingested: answered ProcessingFailed"
    assert json.loads("{" + extra)["reingestFailed"] == len(failed)
