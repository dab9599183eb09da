"""Handlers end to end: real payloads in, response contract and what reached the endpoint."""

from __future__ import annotations

import base64
import io
import json
import uuid
from contextlib import redirect_stdout

import pytest

from logstream import DeliveryError
from logstream import testing as t
from tests.conftest import LambdaContext, corpus_path, firehose_to_s3, load_handler, s3_ndjson

CTX = LambdaContext()


def corpus_event(name):
    return json.loads(corpus_path("events", name).read_text(encoding="utf-8-sig"))


def test_firehose_transform_answers_every_record(monkeypatch, aws_endpoint):
    mod = load_handler(monkeypatch, "handlers.firehose_transform")
    event = corpus_event("aws-sam-cli__KinesisFirehoseCloudwatchLogsProcessor.json")
    out = mod.handler(event, CTX)
    assert [r["recordId"] for r in out["records"]] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in out["records"]] == ["Dropped", "Ok", "Ok", "Ok"]
    lines = base64.b64decode(out["records"][1]["data"]).decode().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["logGroup"].startswith("copy-cwl")
    bad = mod.handler(corpus_event("powertools-python__kinesisFirehosePutEvent.json"), CTX)
    assert [r["result"] for r in bad["records"]] == ["ProcessingFailed", "ProcessingFailed"]


def test_firehose_transform_keeps_response_under_limit(monkeypatch, aws_endpoint):
    from logstream.sinks import transform_response

    docs = [t.make_document([f"{i}-" + "x" * 1000 for i in range(300)]) for _ in range(30)]
    out = transform_response(t.firehose_event(docs), max_bytes=2_000_000)
    assert len(json.dumps(out)) < 2_000_000
    results = [r["result"] for r in out["records"]]
    assert results[0] == "Ok" and results[-1] == "ProcessingFailed" and len(results) == 30


def test_forward_kinesis_source_reports_exactly_the_bad_records(monkeypatch, aws):
    name = f"fwd-{uuid.uuid4().hex[:8]}"
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    mod = load_handler(
        monkeypatch,
        "handlers.forward",
        DESTINATION_ARN=f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}",
    )
    event = t.kinesis_event([t.make_document(["a"]), t.make_document(["b"])])
    bad = corpus_event("powertools-python__kinesisStreamEvent.json")["Records"][0]
    bad["kinesis"]["sequenceNumber"] = (
        "49590338271490256608559692538361571095921575989136589999"  # unique in the shard
    )
    event["Records"].insert(1, bad)
    out = mod.handler(event, CTX)
    assert out == {"batchItemFailures": [{"itemIdentifier": bad["kinesis"]["sequenceNumber"]}]}
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    msgs = [json.loads(r["Data"])["message"] for r in kinesis.get_records(ShardIterator=it)["Records"]]
    assert msgs == ["a", "b"]


def test_forward_async_ignores_own_log_group_and_raises_on_failure(monkeypatch, aws):
    mod = load_handler(
        monkeypatch,
        "handlers.forward",
        DESTINATION_ARN="arn:aws:kinesis:us-east-1:123456789012:stream/does-not-exist",
    )
    own = t.lambda_event(t.make_document(["loop?"], log_group="/aws/lambda/logstream-self"))
    assert mod.handler(own, CTX) == {"delivered": 0, "requests": 0}
    mod.SINK.retry = type(mod.SINK.retry)(max_attempts=1)
    with pytest.raises(DeliveryError, match="ResourceNotFoundException"):
        mod.handler(t.lambda_event(t.make_document(["x"])), CTX)


def test_lambda_metrics_emf_by_default(monkeypatch, aws_endpoint):
    monkeypatch.delenv("METRICS_OUTPUT", raising=False)
    mod = load_handler(monkeypatch, "handlers.lambda_metrics")
    event = corpus_event("powertools-python__kinesisStreamCloudWatchLogsEvent.json")
    buf = io.StringIO()
    with redirect_stdout(buf):
        out = mod.handler(event, CTX)
    assert out == {"batchItemFailures": []}  # a Kinesis event source gets the partial-batch answer
    emf = [json.loads(line) for line in buf.getvalue().splitlines() if '"_aws"' in line]
    assert {d["FunctionName"] for d in emf} == {"pt-1488-DummyLogDataFunction-gnWXPvL6jJyG"}
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Logstream/Lambda"


def test_metrics_handlers_on_kinesis_source_fail_only_undecodable_records(monkeypatch, aws_endpoint):
    monkeypatch.delenv("METRICS_OUTPUT", raising=False)
    mod = load_handler(monkeypatch, "handlers.lambda_metrics")
    report = "REPORT RequestId: {}\tDuration: 1.0 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
    report += "Max Memory Used: 64 MB\t"
    event = t.kinesis_event(
        [t.make_document([report.format(f"r{i}")], log_group=f"/aws/lambda/f{i}") for i in range(3)]
        + [t.make_document([report.format("self")], log_group="/aws/lambda/logstream-self")]
    )
    event["Records"][1]["kinesis"]["data"] = base64.b64encode(b"\x1f\x8b\x08truncated").decode()
    buf = io.StringIO()
    with redirect_stdout(buf):
        out = mod.handler(event, CTX)
    assert out == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["kinesis"]["sequenceNumber"]}]
    }
    emf = [json.loads(line) for line in buf.getvalue().splitlines() if '"_aws"' in line]
    assert sorted({d["FunctionName"] for d in emf}) == ["f0", "f2"]  # not f1 (bad), not our own group

    fluentd = load_handler(monkeypatch, "handlers.fluentd_metrics")
    status = '2024-05-01 12:00:00 +0000 monitor.metrics: {"plugin_id":"out_s3","buffer_queue_length":3}\n'
    event = t.kinesis_event([t.make_document([status], log_group="/ecs/fluentd"), t.make_document(["x"])])
    event["Records"][0]["kinesis"]["data"] = "%%%"
    with redirect_stdout(io.StringIO()):
        assert fluentd.handler(event, CTX) == {
            "batchItemFailures": [{"itemIdentifier": event["Records"][0]["kinesis"]["sequenceNumber"]}]
        }


def test_lambda_metrics_put_metric_data_over_the_wire(monkeypatch, aws):
    import time

    ns = f"Test/{uuid.uuid4().hex[:8]}"
    mod = load_handler(
        monkeypatch, "handlers.lambda_metrics", METRICS_OUTPUT="cloudwatch", METRICS_NAMESPACE=ns
    )
    now = int(time.time() * 1000) - 120_000
    doc = t.make_document(
        [
            (
                now,
                "REPORT RequestId: r1\tDuration: 12.5 ms\tBilled Duration: 13 ms\t"
                "Memory Size: 128 MB\tMax Memory Used: 64 MB\tInit Duration: 100.0 ms\t\n",
            )
        ],
        log_group="/aws/lambda/checkout",
    )
    assert mod.handler(t.lambda_event(doc), CTX)["reports"] == 1
    names = {m["MetricName"] for m in aws("cloudwatch").list_metrics(Namespace=ns)["Metrics"]}
    assert {"Duration", "ColdStart", "MaxMemoryUsed", "EstimatedCost", "MemoryUtilization"} <= names


def test_fluentd_metrics_namespace_and_dimension(monkeypatch, aws_endpoint):
    monkeypatch.delenv("METRICS_OUTPUT", raising=False)
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    mod = load_handler(monkeypatch, "handlers.fluentd_metrics")
    doc = t.make_document(
        [
            '2024-05-01 12:00:00 +0000 monitor.metrics: {"plugin_id":"out_s3","buffer_queue_length":3,'
            '"buffer_total_queued_size":100,"retry_count":2}\n'
        ],
        log_group="/ecs/fluentd",
    )
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert mod.handler(t.lambda_event(doc), CTX) == {"statuses": 1, "metrics": 3}
    emf = [json.loads(line) for line in buf.getvalue().splitlines() if '"_aws"' in line]
    assert emf[0]["PluginId"] == "out_s3" and emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "fluentd"
    assert emf[0]["buffer_queue_length"] == 3


def test_fluentd_metrics_put_metric_data_over_the_wire(monkeypatch, aws):
    import time

    ns = f"Test/{uuid.uuid4().hex[:8]}"
    mod = load_handler(
        monkeypatch, "handlers.fluentd_metrics", METRICS_OUTPUT="cloudwatch", METRICS_NAMESPACE=ns
    )
    now = int(time.time() * 1000) - 120_000
    doc = t.make_document(
        [(now, '{"plugin_id":"out_es","buffer_queue_length":2,"retry_count":1}')], log_group="/ecs/fluentd"
    )
    assert mod.handler(t.lambda_event(doc), CTX) == {"statuses": 1, "metrics": 2}
    metrics = aws("cloudwatch").list_metrics(Namespace=ns)["Metrics"]
    assert sorted((m["MetricName"], m["Dimensions"][0]["Value"]) for m in metrics) == [
        ("buffer_queue_length", "out_es"),
        ("retry_count", "out_es"),
    ]


def test_forward_to_firehose_over_the_wire(monkeypatch, aws):
    s3 = aws("s3")
    name, bucket = firehose_to_s3(s3, aws("firehose"))
    mod = load_handler(
        monkeypatch,
        "handlers.forward",
        DESTINATION_ARN=f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{name}",
    )
    event = corpus_event("aws-lambda-go__cloudwatch-logs-event.json")  # a real subscription payload
    out = mod.handler(event, CTX)
    lines = s3_ndjson(s3, bucket)
    assert (
        out["delivered"] >= 1
        and lines
        and all({"id", "timestamp", "message", "logGroup"} <= set(d) for d in lines)
    )
