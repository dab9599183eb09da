"""Sinks over the wire: real botocore serialization and HTTP against moto's server."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.stub import Stubber

from logstream import DeliveryError, decode_log_stream  # noqa: F401 - public API used below
from logstream.metrics import Datum
from logstream.sinks import CloudWatchSink, FirehoseSink, KinesisSink, RetryPolicy, sink_for_destination
from logstream.testing import lambda_event, make_document
from tests.conftest import firehose_to_s3, s3_ndjson

NO_WAIT = RetryPolicy(sleep=lambda s: None)


def _streams(n_docs=20, per_doc=150):
    return [
        decode_log_stream(
            lambda_event(
                make_document(
                    [f"event {d}-{i} " + "x" * 200 for i in range(per_doc)],
                    log_group=f"/aws/lambda/fn{d % 3}",
                    log_stream=f"s{d}",
                    start_ms=1_700_000_000_000 + d * 1000,
                )
            )
        )
        for d in range(n_docs)
    ]


def _read_stream(kinesis, name):
    ids = []
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    for shard in shards:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            out = kinesis.get_records(ShardIterator=it, Limit=10000)
            for rec in out["Records"]:
                ids += [json.loads(line)["id"] for line in rec["Data"].decode().splitlines()]
            if not out["Records"]:
                break
            it = out.get("NextShardIterator")
    return ids


def test_kinesis_sink_delivers_every_event(aws):
    kinesis = aws("kinesis")
    name = f"s-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    streams = _streams()
    result = KinesisSink(name).send(streams)
    assert result.ok and result.delivered > 0
    want = sorted(e.id for s in streams for e in s.log_events)
    assert sorted(_read_stream(kinesis, name)) == want


def test_firehose_sink_delivers_ndjson_to_s3(aws):
    s3 = aws("s3")
    name, bucket = firehose_to_s3(s3, aws("firehose"))
    streams = _streams(n_docs=5)
    sink = sink_for_destination(f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{name}")
    assert isinstance(sink, FirehoseSink)
    result = sink.send(streams)
    assert result.ok
    ids = [line["id"] for line in s3_ndjson(s3, bucket)]
    assert sorted(ids) == sorted(e.id for s in streams for e in s.log_events)


def test_cloudwatch_sink_sends_metrics_readable_back(aws):
    cw = aws("cloudwatch")
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    minute = now - now % 60_000 - 60_000
    data = [
        Datum("Duration", float(v), "Milliseconds", minute + i, (("FunctionName", "f"),))
        for i, v in enumerate([10, 20, 20, 30])
    ]
    stale = Datum("Duration", 1.0, "Milliseconds", now - 30 * 86_400_000, (("FunctionName", "f"),))
    result = CloudWatchSink(ns).send([*data, stale])
    assert (result.requests, result.failed) == (1, [])
    assert result.dropped == {"timestamp outside the accepted window": 1}  # dropped, never failing the rest
    metrics = cw.list_metrics(Namespace=ns)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in metrics] == [
        ("Duration", [{"Name": "FunctionName", "Value": "f"}])
    ]
    stats = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": "f"}],
        StartTime=minute / 1000 - 60,
        EndTime=minute / 1000 + 120,
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )
    (point,) = stats["Datapoints"]
    assert (point["SampleCount"], point["Sum"]) == (4.0, 80.0)


def test_kinesis_partial_failure_resends_only_failed_entries():
    import boto3

    client = boto3.client(
        "kinesis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sink = KinesisSink("s", client=client, retry=NO_WAIT)
    streams = [
        decode_log_stream(lambda_event(make_document([f"m{i}"], log_stream=f"s{i}"))) for i in range(3)
    ]
    records = [
        {
            "Data": (
                f'{{"owner":"123456789012","logGroup":"/aws/lambda/example","logStream":"s{i}",'
                f'"subscriptionFilters":["logstream"],"id":"{streams[i].log_events[0].id}",'
                f'"timestamp":{streams[i].log_events[0].timestamp},"message":"m{i}"}}\n'
            ).encode(),
            "PartitionKey": f"/aws/lambda/example/s{i}",
        }
        for i in range(3)
    ]
    with Stubber(client) as stub:
        stub.add_response(
            "put_records",
            {
                "FailedRecordCount": 1,
                "Records": [
                    {"SequenceNumber": "1", "ShardId": "shardId-0"},
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
                    {"SequenceNumber": "3", "ShardId": "shardId-0"},
                ],
            },
            {"StreamName": "s", "Records": records},
        )
        stub.add_response(
            "put_records",
            {"Records": [{"SequenceNumber": "4", "ShardId": "shardId-0"}]},
            {"StreamName": "s", "Records": [records[1]]},
        )
        result = sink.send(streams)
    assert (result.ok, result.delivered, result.requests) == (True, 3, 2)


def test_firehose_failures_after_retries_are_reported_not_swallowed():
    import boto3

    client = boto3.client(
        "firehose", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sink = FirehoseSink("d", client=client, retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    streams = [decode_log_stream(lambda_event(make_document(["a", "b"])))]
    fail = {
        "FailedPutCount": 1,
        "Encrypted": False,
        "RequestResponses": [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"}],
    }
    with Stubber(client) as stub:
        stub.add_response("put_record_batch", fail)
        stub.add_response("put_record_batch", fail)
        result = sink.send(streams)
    assert not result.ok
    assert [(f.error_code, f.entry.events) for f in result.failed] == [("ServiceUnavailableException", 2)]


def test_bad_destination_arn_is_a_config_error():
    from logstream import ConfigError

    with pytest.raises(ConfigError):
        sink_for_destination("arn:aws:sqs:us-east-1:1:q")


def test_records_are_split_by_events_and_an_oversize_event_is_split_into_parts():
    from logstream.sinks import Oversize, Record, event_records

    stream = decode_log_stream(
        lambda_event(make_document(["a" * 300, "b" * 300, "c" * 5000, "d" * 300, "e"]))
    )
    items = list(event_records([("src-1", stream)], max_record_bytes=1200))
    assert {type(i) for i in items} == {Record} and {i.tag for i in items} == {"src-1"}
    assert all(len(i.data) + len(i.partition_key) <= 1200 for i in items)
    lines = [json.loads(line) for i in items for line in i.data.splitlines()]
    assert [x["message"][0] for x in lines if "part" not in x] == ["a", "b", "d", "e"]
    parts = [x for x in lines if "part" in x]
    assert [x["part"] for x in parts] == list(range(1, parts[0]["parts"] + 1))
    assert "".join(x["message"] for x in parts) == "c" * 5000
    assert {x["id"] for x in parts} == {stream.log_events[2].id}

    # an event whose context alone fills a record cannot be split: reported, never dropped
    wide = decode_log_stream(lambda_event(make_document(["x" * 3000], log_group="/g" * 700)))

    class Client:
        def put_records(self, StreamName, Records):  # noqa: N803 - boto3's names
            return {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in Records],
            }

    sink = KinesisSink("s", client=Client())
    sink.max_record_bytes = 2000
    result = sink.send([wide])
    assert (result.delivered, [(f.error_code, f.error_class) for f in result.failed]) == (
        0,
        [("RecordTooLarge", "fatal")],
    )
    assert isinstance(result.failed[0].entry, Oversize) and b"x" * 3000 in result.failed[0].entry.line
