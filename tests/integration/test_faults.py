"""No loss under faults: boto3 -> fault-injecting proxy -> moto's server, read back from moto.

The proxy fails 25% of whole requests (HTTP 503 and throttling errors, in each service's own
protocol) and drops 20% of the entries of every PutRecords / PutRecordBatch, reporting them
failed as the services do. Everything goes through the production code paths: handlers built
from their environment, sinks with lazily built clients, botocore's standard retries.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import boto3
import pytest

from logstream import decode_log_stream
from logstream import testing as t
from tests.conftest import LambdaContext, firehose_to_s3, load_handler, s3_ndjson
from tests.faultproxy import FaultProxy

CTX = LambdaContext()
N_STREAMS, PER_STREAM = 1_050, 10  # 10,500 events, 1,050 records: three PutRecords/PutRecordBatch


@pytest.fixture
def proxy(aws_endpoint, monkeypatch):
    with FaultProxy(aws_endpoint, request_failure=0.25, entry_failure=0.20, seed=20261123) as p:
        monkeypatch.setenv("AWS_ENDPOINT_URL", p.url)  # what the code under test talks to
        yield p


def direct(aws_endpoint, service):
    """A client that bypasses the proxy, to read back what really arrived."""
    return boto3.client(service, region_name="us-east-1", endpoint_url=aws_endpoint)


def documents():
    return [
        t.make_document(
            [f"request {s}-{i} " + "x" * 80 for i in range(PER_STREAM)],
            log_group=f"/aws/lambda/fn{s % 7}",
            log_stream=f"2026/11/23/[$LATEST]{s:032x}",
            start_ms=1_700_000_000_000 + s,
        )
        for s in range(N_STREAMS)
    ]


def event_ids(docs):
    return Counter(e["id"] for d in docs for e in d["logEvents"])


def read_kinesis(kinesis, name):
    ids = Counter()
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            out = kinesis.get_records(ShardIterator=it, Limit=10_000)
            ids.update(json.loads(line)["id"] for r in out["Records"] for line in r["Data"].splitlines())
            it = out.get("NextShardIterator") if out["Records"] else None
    return ids


def test_forward_kinesis_source_loses_nothing_under_faults(aws_endpoint, proxy, monkeypatch):
    name = f"faults-{uuid.uuid4().hex[:8]}"
    kinesis = direct(aws_endpoint, "kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=4)
    mod = load_handler(
        monkeypatch,
        "handlers.forward",
        DESTINATION_ARN=f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}",
    )
    docs = documents()
    event = t.kinesis_event(docs)
    retries = 0
    while event["Records"]:  # what Lambda does with batchItemFailures (here: only those records again)
        failed = {f["itemIdentifier"] for f in mod.handler(event, CTX)["batchItemFailures"]}
        event = {"Records": [r for r in event["Records"] if r["kinesis"]["sequenceNumber"] in failed]}
        retries += bool(failed)
        assert retries < 5
    assert read_kinesis(kinesis, name) == event_ids(docs)  # every id, each exactly once
    assert sum(v for k, v in proxy.stats.items() if k.startswith(("503:", "throttled:"))) > 0
    assert proxy.stats["dropped:PutRecords"] > 0.15 * N_STREAMS


def test_firehose_sink_loses_nothing_under_faults(aws_endpoint, proxy):
    from logstream.sinks import FirehoseSink

    s3 = direct(aws_endpoint, "s3")
    name, bucket = firehose_to_s3(s3, direct(aws_endpoint, "firehose"))
    docs = documents()
    result = FirehoseSink(name).send(
        decode_log_stream(t.lambda_event(d)) for d in docs
    )  # client built lazily
    assert result.ok, result.failed[:3]
    assert Counter(line["id"] for line in s3_ndjson(s3, bucket)) == event_ids(docs)
    assert proxy.stats["dropped:PutRecordBatch"] > 0.15 * N_STREAMS
    assert result.requests > 3  # the dropped entries were sent again, and only they


def test_cloudwatch_receives_each_report_exactly_once_under_faults(aws_endpoint, proxy, monkeypatch):
    ns = f"Faults/{uuid.uuid4().hex[:8]}"
    mod = load_handler(
        monkeypatch, "handlers.lambda_metrics", METRICS_OUTPUT="cloudwatch", METRICS_NAMESPACE=ns
    )
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 40 * 60_000
    line = (
        "REPORT RequestId: {rid}\tDuration: {d}.0 ms\tBilled Duration: {d} ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 80 MB\t"
    )
    want = Counter()
    for inv in range(80):  # 80 subscription deliveries, 3,600 reports
        fn = f"fn{inv % 6}"
        msgs = [(start + inv * 20_000 + i, line.format(rid=f"{inv}-{i}", d=i + 1)) for i in range(45)]
        mod.handler(t.lambda_event(t.make_document(msgs, log_group=f"/aws/lambda/{fn}")), CTX)
        want[fn] += len(msgs)
    assert proxy.stats["throttled:PutMetricData"] and proxy.stats["503:PutMetricData"], proxy.stats
    cw = direct(aws_endpoint, "cloudwatch")
    got = Counter()
    for fn in want:
        stats = cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": fn}],
            StartTime=(start - 60_000) / 1000,
            EndTime=(now + 60_000) / 1000,
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )
        points = stats["Datapoints"]
        got[fn] = int(sum(p["Sum"] for p in points))
        assert int(sum(p["SampleCount"] for p in points)) == want[fn]
    assert got == want
