"""Delivery under the failures production has: boto3 -> fault-injecting proxy -> moto's server,
read back from moto.

The proxy (tests/faultproxy.py) fails whole requests (HTTP 503 and throttling errors, in each
service's own protocol), drops entries of PutRecords / PutRecordBatch and reports them failed,
closes connections without answering, answers late, throttles everything, or denies access.
Handlers are built as their modules build them (``build(config)``); Lambda's side (the
deadline in the context, the event source mapping's retries) is played by tests/lambda_sim.py.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections import Counter
from contextlib import redirect_stdout

import boto3
import pytest

from handlers._config import Config
from logstream import DeliveryError, decode_log_stream
from logstream import testing as t
from logstream.sinks import RetryPolicy, sink_for_destination
from tests.conftest import firehose_to_s3, s3_ndjson
from tests.faultproxy import FaultProxy
from tests.lambda_sim import (
    Context,
    FakeClock,
    captured_log,
    run_like_async_invoke,
    run_like_event_source_mapping,
)

N_STREAMS, PER_STREAM = 1_050, 10  # 10,500 events, 1,050 records: three PutRecords/PutRecordBatch
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def modules(handler_modules):
    """The handler modules as Lambda imports them (environment read once, at import)."""
    return handler_modules


@pytest.fixture
def forward(modules):
    return modules["forward"]


@pytest.fixture
def lambda_metrics(modules):
    return modules["lambda_metrics"]


@pytest.fixture
def endpoint(aws_endpoint, monkeypatch):
    """``endpoint(**faults)`` starts a proxy and points boto3 (AWS_ENDPOINT_URL) at it."""
    with pytest.MonkeyPatch.context():
        proxies = []

        def start(**faults):
            faults.setdefault("request_failure", 0.0)
            faults.setdefault("entry_failure", 0.0)
            proxy = FaultProxy(aws_endpoint, seed=20261123, **faults).__enter__()
            proxies.append(proxy)
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # what the code under test talks to
            return proxy

        yield start
        for proxy in proxies:
            proxy.__exit__(None, None, None)


def direct(aws_endpoint, service):
    """A client that bypasses the proxy, to read back what really arrived."""
    return boto3.client(service, region_name="us-east-1", endpoint_url=aws_endpoint)


def documents(n=N_STREAMS, per=PER_STREAM):
    return [
        t.make_document(
            [f"request {s}-{i} " + "x" * 80 for i in range(per)],
            log_group=f"/aws/lambda/fn{s % 7}",
            log_stream=f"2026/11/23/[$LATEST]{s:032x}",
            start_ms=1_700_000_000_000 + s,
        )
        for s in range(n)
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


def new_stream(aws_endpoint, shards=1):
    name = f"faults-{uuid.uuid4().hex[:8]}"
    direct(aws_endpoint, "kinesis").create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def config(**kw):
    return Config.load({}, skip_log_groups=frozenset({"/aws/lambda/logstream-self"}), **kw)


# ------------------------------------------------------------- 25% requests, 20% entries failing
def test_forward_kinesis_source_loses_nothing_under_faults(aws_endpoint, endpoint, forward):
    proxy = endpoint(request_failure=0.25, entry_failure=0.20)
    name, arn = new_stream(aws_endpoint, shards=4)
    handler = forward.build(config(destination_arn=arn))
    docs = documents()
    invocations, discarded = run_like_event_source_mapping(handler, t.kinesis_event(docs)["Records"])
    assert (invocations, discarded) == (1, [])  # every failed entry retried inside the invocation
    assert read_kinesis(direct(aws_endpoint, "kinesis"), name) == event_ids(docs)  # each id once
    assert sum(v for k, v in proxy.stats.items() if k.startswith(("503:", "throttled:"))) > 0
    assert proxy.stats["dropped:PutRecords"] > 0.15 * N_STREAMS


def test_firehose_sink_loses_nothing_under_faults(aws_endpoint, endpoint):
    from logstream.sinks import FirehoseSink

    proxy = endpoint(request_failure=0.25, entry_failure=0.20)
    s3 = direct(aws_endpoint, "s3")
    name, bucket = firehose_to_s3(s3, direct(aws_endpoint, "firehose"))
    docs = documents()
    result = FirehoseSink(name).send(decode_log_stream(t.lambda_event(d)) for d in docs)  # lazy client
    assert result.ok, result.failed[:3]
    assert Counter(line["id"] for line in s3_ndjson(s3, bucket)) == event_ids(docs)
    assert proxy.stats["dropped:PutRecordBatch"] > 0.15 * N_STREAMS
    assert result.requests > 3  # the dropped entries were sent again, and only they


def test_cloudwatch_receives_each_report_exactly_once_under_faults(
    aws_endpoint, endpoint, forward, lambda_metrics
):
    proxy = endpoint(request_failure=0.25)
    ns = f"Faults/{uuid.uuid4().hex[:8]}"
    handler = lambda_metrics.build(config(metrics_output="cloudwatch", metrics_namespace=ns))
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 40 * 60_000
    line = (
        "REPORT RequestId: {rid}\tDuration: {d}.0 ms\tBilled Duration: {d} ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 80 MB\t"
    )
    want = Counter()
    stdout = io.StringIO()
    for inv in range(80):  # 80 subscription deliveries, 3,600 reports
        fn = f"fn{inv % 6}"
        msgs = [(start + inv * 20_000 + i, line.format(rid=f"{inv}-{i}", d=i + 1)) for i in range(45)]
        event = t.lambda_event(t.make_document(msgs, log_group=f"/aws/lambda/{fn}"))
        with redirect_stdout(stdout):
            assert run_like_async_invoke(handler, event) == (1, None)
        want[fn] += len(msgs)
    assert proxy.stats["throttled:PutMetricData"] and proxy.stats["503:PutMetricData"], proxy.stats
    assert f'"Namespace":"{ns}"' not in stdout.getvalue()  # nothing needed the EMF fallback
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


# ------------------------------------------------------------ what production throws at the sink
def forwarder(forward, arn, clock=time.monotonic, **retry):
    sink = sink_for_destination(arn, retry=RetryPolicy(**retry))
    return forward.build(config(destination_arn=arn), sink=sink, clock=clock), sink


def kinesis_batch(n=3):
    return t.kinesis_event([t.make_document([f"event {i}"], log_stream=f"s{i}") for i in range(n)])


def all_records(event):
    return {
        "batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]]
    }


def test_given_a_destination_closing_connections_then_every_record_is_reported_with_the_error(
    aws_endpoint, endpoint, forward
):
    proxy = endpoint(close=1.0, only={"PutRecords"})
    name, arn = new_stream(aws_endpoint)
    clock = FakeClock()
    handler, _ = forwarder(forward, arn, clock, sleep=clock.sleep)
    event = kinesis_batch()
    context = Context(60, clock)
    with captured_log(forward.logger) as log:
        assert handler(event, context) == all_records(event)
    assert context.elapsed() < 55
    assert proxy.stats["closed:PutRecords"] == RetryPolicy().max_attempts  # retried: nothing got in
    assert any("3 records not delivered" in x and "ConnectionClosedError (transient)" in x for x in log), log
    assert read_kinesis(direct(aws_endpoint, "kinesis"), name) == Counter()
    with pytest.raises(DeliveryError, match="ConnectionClosedError"):  # subscription: Lambda retries
        handler(t.lambda_event(t.make_document(["async"])), Context(60, clock))


def test_given_a_destination_answering_after_35s_with_a_60s_deadline_then_delivered_once_in_time(
    aws_endpoint, endpoint, forward
):
    proxy = endpoint(delay=35.0, only={"PutRecords"})
    name, arn = new_stream(aws_endpoint)
    handler, _ = forwarder(forward, arn)
    event = kinesis_batch()
    context = Context(60)
    assert handler(event, context) == {"batchItemFailures": []}
    assert 35 <= context.elapsed() < 55  # waited for the answer; the read timeout fit the deadline
    assert proxy.stats["requests:PutRecords"] == 1
    assert read_kinesis(direct(aws_endpoint, "kinesis"), name) == event_ids(
        [t.make_document([f"event {i}"], log_stream=f"s{i}") for i in range(3)]
    )


def test_given_an_answer_later_than_the_deadline_then_reported_in_time_and_never_sent_twice(
    aws_endpoint, endpoint, forward
):
    proxy = endpoint(delay=35.0, only={"PutRecords"})
    name, arn = new_stream(aws_endpoint)
    handler, _ = forwarder(forward, arn)
    event = kinesis_batch()
    context = Context(8)  # a function with an 8 s timeout
    with captured_log(forward.logger) as log:
        assert handler(event, context) == all_records(event)
    assert context.elapsed() < 8
    assert proxy.stats["requests:PutRecords"] == 1  # the outcome is unknown: not sent again
    assert any("ReadTimeoutError (unknown outcome)" in x for x in log), log
    # the proxy did forward it: it is in the stream once; Lambda's retry may add the second copy
    assert sum(read_kinesis(direct(aws_endpoint, "kinesis"), name).values()) == 3


def test_given_100_percent_throttling_longer_than_the_deadline_then_reported_before_it(
    aws_endpoint, endpoint, forward
):
    proxy = endpoint(throttle=1.0, only={"PutRecords"})
    name, arn = new_stream(aws_endpoint)
    clock = FakeClock()  # backoff sleeps pass at once; the deadline still counts them
    handler, _ = forwarder(forward, arn, clock, sleep=clock.sleep, max_attempts=10_000)
    event = kinesis_batch()
    context = Context(60, clock)
    with captured_log(forward.logger) as log:
        assert handler(event, context) == all_records(event)
    assert 45 < context.elapsed() < 60  # kept trying until the safety margin, then answered
    assert proxy.stats["throttled:PutRecords"] == proxy.stats["requests:PutRecords"] > 10
    assert any(
        "DeadlineExceeded" in x and "last error: ProvisionedThroughputExceededException" in x for x in log
    ), log
    async_context = Context(60, clock)
    with pytest.raises(DeliveryError, match="DeadlineExceeded"):
        handler(t.lambda_event(t.make_document(["async"])), async_context)
    assert async_context.elapsed() < 60
    assert read_kinesis(direct(aws_endpoint, "kinesis"), name) == Counter()


def test_given_access_denied_then_it_fails_at_once_with_one_clear_line(aws_endpoint, endpoint, forward):
    proxy = endpoint(deny=1.0, only={"PutRecords"})
    name, arn = new_stream(aws_endpoint)
    handler, _ = forwarder(forward, arn)
    event = kinesis_batch()
    with captured_log(forward.logger) as log:
        assert handler(event, Context(60)) == all_records(event)
    assert proxy.stats["requests:PutRecords"] == 1  # not retried
    errors = [x for x in log if x.startswith("ERROR")]
    assert len(errors) == 1 and "AccessDeniedException (fatal)" in errors[0] and name in errors[0], log
    with pytest.raises(DeliveryError, match="AccessDeniedException"):
        handler(t.lambda_event(t.make_document(["async"])), Context(60))
    assert proxy.stats["requests:PutRecords"] == 2


def test_given_put_metric_data_denied_then_metrics_go_to_emf_once_and_the_batch_is_not_retried(
    aws_endpoint, endpoint, lambda_metrics
):
    proxy = endpoint(deny=1.0, only={"PutMetricData"})
    ns = f"Denied/{uuid.uuid4().hex[:8]}"
    handler = lambda_metrics.build(config(metrics_output="cloudwatch", metrics_namespace=ns))
    now = int(time.time() * 1000) - 60_000
    report = "REPORT RequestId: {}\tDuration: 5.0 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\t"
    event = t.kinesis_event(
        [t.make_document([(now, report.format(f"r{i}"))], log_group=f"/aws/lambda/f{i}") for i in range(5)]
    )
    out = io.StringIO()
    with captured_log(lambda_metrics.logger) as log, redirect_stdout(out):
        assert run_like_event_source_mapping(handler, event["Records"]) == (1, [])
    assert proxy.stats["requests:PutMetricData"] == 1
    emf = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith('{"_aws"')]
    emf = [d for d in emf if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] != "Logstream/Pipeline"]
    invocations = Counter()
    for doc in emf:
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == ns
        invocations[doc["FunctionName"]] += doc["Invocations"]
    assert invocations == {f"f{i}": 1 for i in range(5)}
    assert any("refused" in x and "AccessDeniedException" in x and "EMF" in x for x in log), log
