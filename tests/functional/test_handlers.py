"""Handlers end to end: real payloads in, response contract and what reached the endpoint.

Handlers are built with ``build(config, sink=..., dead_letters=...)`` (what the module does at
import from its environment); a few tests import the modules as Lambda does, in a subprocess.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import redirect_stdout

import pytest

from benchmarks.payloads import messages as realistic_messages
from handlers._config import Config
from handlers._transform import MARKER
from logstream import ConfigError, DeliveryError, iter_log_streams
from logstream import testing as t
from logstream.sinks import DeadLetterSink, EmfSink, KinesisSink, RetryPolicy
from tests.conftest import ROOT, corpus_path, firehose_to_s3, s3_ndjson
from tests.functional.wire import new_queue, read_queue
from tests.lambda_sim import Context, captured_log, run_like_event_source_mapping

ACCOUNT = "123456789012"
SELF = "/aws/lambda/logstream-self"
DEPLOYMENT = frozenset({SELF, "/aws/lambda/logstream-forward", "/aws/lambda/logstream-lambda-metrics"})
REPORT = (
    "REPORT RequestId: {rid}\tDuration: {d} ms\tBilled Duration: 2 ms\tMemory Size: {mem} MB\t"
    "Max Memory Used: 64 MB\t"
)


@pytest.fixture(scope="module")
def handlers_env(handler_modules):
    """The handler modules as Lambda imports them (environment read once, at import)."""
    return handler_modules


def config(**kw):
    return Config.load({}, skip_log_groups=DEPLOYMENT, **kw)


def corpus_event(name):
    return json.loads(corpus_path("events", name).read_text(encoding="utf-8-sig"))


def new_stream(aws, shards=1):
    name = f"s-{uuid.uuid4().hex[:8]}"
    aws("kinesis").create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def read_stream(kinesis, name):
    lines = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            out = kinesis.get_records(ShardIterator=it, Limit=10_000)
            lines += [json.loads(x) for r in out["Records"] for x in r["Data"].splitlines()]
            it = out.get("NextShardIterator") if out["Records"] else None
    return lines


def emf_lines(text, namespace=None):
    """The EMF documents on stdout; without ``namespace``, all but the self-metrics."""
    docs = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    spaces = [d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs]
    if namespace is None:
        return [d for d, ns in zip(docs, spaces, strict=True) if ns != "Logstream/Pipeline"]
    return [d for d, ns in zip(docs, spaces, strict=True) if ns == namespace]


# ----------------------------------------------------------------------- Firehose transformation
def test_given_corpus_firehose_event_when_transformed_then_every_record_answered(handlers_env):
    handler = handlers_env["firehose_transform"].build(config())
    event = corpus_event("aws-sam-cli__KinesisFirehoseCloudwatchLogsProcessor.json")
    out = handler(event, Context())
    assert [r["recordId"] for r in out["records"]] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in out["records"]] == ["Dropped", "Ok", "Ok", "Ok"]
    lines = base64.b64decode(out["records"][1]["data"]).decode().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["logGroup"].startswith("copy-cwl")
    bad = handler(corpus_event("powertools-python__kinesisFirehosePutEvent.json"), Context())
    assert [r["result"] for r in bad["records"]] == ["ProcessingFailed", "ProcessingFailed"]


@pytest.mark.parametrize("megabytes", [1, 3])
def test_given_a_full_processor_buffer_of_realistic_records_when_transformed_then_none_fails_for_size(
    handlers_env, aws, megabytes
):
    """Firehose's processor buffer holds 1-3 MB of records; decoded NDJSON is ~6x that. What does
    not fit in the 6 MB response is re-ingested; here Firehose is played by the test: the
    re-ingested records (which moto's delivery stream writes to S3 as they are) are read back
    and sent through the transformation again, until nothing is left."""
    s3 = aws("s3")
    name, bucket = firehose_to_s3(s3, aws("firehose"))
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"
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
    want = Counter(e["id"] for d in docs for e in d["logEvents"])
    handler = handlers_env["firehose_transform"].build(config())
    event = t.firehose_event(docs, delivery_stream_arn=arn)
    got, results, seen_keys, rounds = Counter(), Counter(), set(), 0
    while event["records"]:
        rounds += 1
        out = handler(event, Context(300))
        assert len(json.dumps(out)) <= 6 * 1024 * 1024
        for rec in out["records"]:
            results[rec["result"]] += 1
            if rec["result"] == "Ok":
                got.update(json.loads(x)["id"] for x in base64.b64decode(rec["data"]).splitlines())
        again = []  # what the handler put back into the delivery stream
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            if obj["Key"] not in seen_keys:
                seen_keys.add(obj["Key"])
                data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                again += [s.to_document() for s in iter_log_streams(data)]
        assert all(d[MARKER] == rounds for d in again)
        event = t.firehose_event(again, delivery_stream_arn=arn)
        assert rounds < 20
    assert results["ProcessingFailed"] == 0
    assert results["Dropped"] > 0 and rounds > 1  # the buffer did not fit one response
    assert got == want  # every event exactly once


# ------------------------------------------------------------------------------------ forwarder
def test_given_kinesis_batch_with_an_undecodable_record_then_it_is_dead_lettered_and_the_rest_delivered(
    handlers_env, aws
):
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = handlers_env["forward"].build(config(destination_arn=arn, dead_letter_queue_url=queue))
    event = t.kinesis_event([t.make_document(["a"]), t.make_document(["b"])])
    bad = corpus_event("powertools-python__kinesisStreamEvent.json")["Records"][0]
    bad["kinesis"]["sequenceNumber"] = "49590338271490256608559692538361571095921575989136589999"
    event["Records"].insert(1, bad)
    assert handler(event, Context()) == {"batchItemFailures": []}  # acknowledged: never retried
    assert [x["message"] for x in read_stream(aws("kinesis"), name)] == ["a", "b"]
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["data"] == bad["kinesis"]["data"]  # the record's data, as received
    assert letter["source"]["sequenceNumber"] == bad["kinesis"]["sequenceNumber"]
    assert letter["reason"].startswith("record 2: ")  # 1-based, as every place logstream names
    assert (letter["part"], letter["parts"]) == (1, 1)


def _hostile_record(template: dict, payload: bytes, seq: str) -> dict:
    record = json.loads(json.dumps(template))
    record["kinesis"]["data"] = base64.b64encode(gzip.compress(payload, mtime=0)).decode()
    record["kinesis"]["sequenceNumber"] = seq
    return record


HOSTILE = {
    "invalid UTF-8": b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"\xff\xfe","logStream":"s",'
    b'"subscriptionFilters":[],"logEvents":[]}',
    "nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "timestamp past datetime": t.document_json(t.make_document([(2**63, "x")])),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_given_a_hostile_record_among_four_good_ones_then_the_four_are_delivered_and_it_is_dead_lettered(
    handlers_env, aws, kind
):
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    handler = handlers_env["forward"].build(config(destination_arn=arn, dead_letter_queue_url=queue))
    event = t.kinesis_event([t.make_document([f"good {i}"], log_stream=f"s{i}") for i in range(4)])
    seq = "49590338271490256608559692538361571095921575989136580001"
    event["Records"].insert(2, _hostile_record(event["Records"][0], HOSTILE[kind], seq))
    assert handler(event, Context()) == {"batchItemFailures": []}
    assert sorted(x["message"] for x in read_stream(aws("kinesis"), name)) == [f"good {i}" for i in range(4)]
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["source"]["sequenceNumber"] == seq and letter["reason"].startswith("record 3: ")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_given_a_hostile_record_in_a_firehose_transformation_then_exactly_it_fails(handlers_env, kind):
    handler = handlers_env["firehose_transform"].build(config())
    docs = [t.make_document([f"good {i}"], log_stream=f"s{i}") for i in range(4)]
    event = t.firehose_event(docs)
    event["records"][1]["data"] = base64.b64encode(gzip.compress(HOSTILE[kind], mtime=0)).decode()
    out = handler(event, Context())
    assert [r["result"] for r in out["records"]] == ["Ok", "ProcessingFailed", "Ok", "Ok"]


def test_given_every_kinesis_record_failing_then_the_answer_names_each_record(handlers_env, aws):
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/does-not-exist"
    handler = handlers_env["forward"].build(config(destination_arn=arn, dead_letter_queue_url=None))
    event = t.kinesis_event([t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(3)])
    with captured_log(handlers_env["forward"].logger) as log:
        out = handler(event, Context())
    assert out == {
        "batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]]
    }
    assert any("ResourceNotFoundException (fatal)" in line and "does-not-exist" in line for line in log), log


def test_given_logs_of_the_deployments_handlers_then_no_handler_processes_them(handlers_env, aws):
    name, arn = new_stream(aws)
    forward = handlers_env["forward"].build(config(destination_arn=arn))
    metrics = handlers_env["lambda_metrics"].build(config(), sink=EmfSink("ns", stream=io.StringIO()))
    for group in sorted(DEPLOYMENT):
        doc = t.make_document([REPORT.format(rid="r", d=1, mem=128)], log_group=group)
        assert forward(t.lambda_event(doc), Context())["delivered"] == 0
        assert metrics(t.lambda_event(doc), Context())["reports"] == 0
    assert read_stream(aws("kinesis"), name) == []


def test_given_module_environment_then_skip_log_groups_come_from_the_template_variables(tmp_path):
    env = {
        **os.environ,
        "SKIP_LOG_GROUPS": "/aws/lambda/x-forward,/aws/lambda/x-lambda-metrics",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/x-fluentd-metrics",
    }
    code = "import handlers.fluentd_metrics as m; print(sorted(m.CONFIG.skip_log_groups))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == str(
        ["/aws/lambda/x-fluentd-metrics", "/aws/lambda/x-forward", "/aws/lambda/x-lambda-metrics"]
    ), out.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LAMBDA_ARCHITECTURE", "sparc"),
        ("METRICS_OUTPUT", "statsd"),
        ("LAMBDA_PRICE_PER_GB_SECOND", "nan"),
        ("DEAD_LETTER_QUEUE_URL", "arn:aws:sqs:us-east-1:1:q"),
    ],
)
def test_given_a_bad_variable_when_lambda_imports_the_handler_then_config_error_names_it(variable, value):
    env = {**os.environ, variable: value}
    code = "import handlers.lambda_metrics"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1
    assert "logstream.errors.ConfigError" in out.stderr and variable in out.stderr


def test_given_forwarder_without_destination_then_config_error_at_import():
    env = {k: v for k, v in os.environ.items() if k != "DESTINATION_ARN"}
    out = subprocess.run(
        [sys.executable, "-c", "import handlers.forward"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert "ConfigError: DESTINATION_ARN is required" in out.stderr


def test_explicit_configuration_beats_the_environment():
    env = {"METRICS_OUTPUT": "cloudwatch", "METRICS_NAMESPACE": "FromEnv", "LAMBDA_ARCHITECTURE": "arm64"}
    cfg = Config.load(env, metrics_namespace="Explicit")
    assert (cfg.metrics_output, cfg.metrics_namespace, cfg.architecture) == (
        "cloudwatch",
        "Explicit",
        "arm64",
    )
    with pytest.raises(ConfigError, match="METRICS_NAMESPACE"):
        Config.load(env, metrics_namespace="AWS/Lambda")


def test_given_async_event_when_delivery_fails_then_the_handler_raises_naming_the_error(handlers_env, aws):
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/does-not-exist"
    handler = handlers_env["forward"].build(config(destination_arn=arn))
    with pytest.raises(DeliveryError, match="ResourceNotFoundException"):
        handler(t.lambda_event(t.make_document(["x"])), Context())


def test_given_a_256kb_event_of_control_characters_then_it_arrives_in_parts(handlers_env, aws):
    name, arn = new_stream(aws)
    handler = handlers_env["forward"].build(config(destination_arn=arn))
    message = "".join(chr(i % 32) for i in range(256 * 1024))  # 6 bytes each as JSON: 1.5 MB
    event = t.kinesis_event([t.make_document([message, "after"])])
    assert handler(event, Context()) == {"batchItemFailures": []}
    lines = read_stream(aws("kinesis"), name)
    parts = [x for x in lines if "part" in x]
    assert len(parts) == 2 and [(p["part"], p["parts"]) for p in parts] == [(1, 2), (2, 2)]
    assert len({p["id"] for p in parts}) == 1
    assert "".join(p["message"] for p in parts) == message
    assert lines[-1]["message"] == "after" and "part" not in lines[-1]


def test_forward_to_firehose_over_the_wire(handlers_env, aws):
    s3 = aws("s3")
    name, bucket = firehose_to_s3(s3, aws("firehose"))
    handler = handlers_env["forward"].build(
        config(destination_arn=f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}")
    )
    event = corpus_event("aws-lambda-go__cloudwatch-logs-event.json")  # a real subscription payload
    out = handler(event, Context())
    lines = s3_ndjson(s3, bucket)
    want = [e["id"] for s in iter_log_streams(event) for e in s.to_document()["logEvents"]]
    assert out["delivered"] == 1 and [x["id"] for x in lines] == want


# ------------------------------------------------------------------------------------- metrics
def test_lambda_metrics_emf_by_default_on_a_kinesis_source(handlers_env):
    event = corpus_event("powertools-python__kinesisStreamCloudWatchLogsEvent.json")
    sink = config().metrics_sink("Logstream/Lambda")
    assert isinstance(sink, EmfSink)  # the default output
    then = max(e.timestamp for s in iter_log_streams(event) for e in s.log_events)
    sink.clock = lambda: then / 1000 + 60  # the corpus is years old: CloudWatch would refuse it today
    handler = handlers_env["lambda_metrics"].build(config(), sink=sink)
    buf = io.StringIO()
    with redirect_stdout(buf):
        out = handler(event, Context())
    assert out == {"batchItemFailures": []}  # a Kinesis event source gets the partial-batch answer
    emf = emf_lines(buf.getvalue())
    assert {d["FunctionName"] for d in emf} == {"pt-1488-DummyLogDataFunction-gnWXPvL6jJyG"}
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Logstream/Lambda"


def test_given_undecodable_records_without_a_queue_then_they_are_logged_with_their_data(handlers_env):
    mod = handlers_env["lambda_metrics"]
    now = int(time.time() * 1000)
    out_buf = io.StringIO()
    handler = mod.build(config(dead_letter_queue_url=None), sink=EmfSink("ns", stream=out_buf))
    event = t.kinesis_event(
        [
            t.make_document([(now, REPORT.format(rid=f"r{i}", d=1, mem=128))], log_group=f"/aws/lambda/f{i}")
            for i in range(3)
        ]
    )
    broken = base64.b64encode(b"\x1f\x8b\x08truncated").decode()
    event["Records"][1]["kinesis"]["data"] = broken
    with captured_log(mod.logger) as log:
        assert handler(event, Context()) == {"batchItemFailures": []}
    assert sorted({d["FunctionName"] for d in emf_lines(out_buf.getvalue())}) == ["f0", "f2"]
    logged = [line for line in log if "dead letter logged with its data" in line]
    assert len(logged) == 1 and broken in logged[0]


def test_given_dead_letter_queue_refusing_then_the_letter_is_logged_with_its_data(handlers_env, aws):
    mod = handlers_env["fluentd_metrics"]
    queue = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/no-such-queue"
    handler = mod.build(
        config(dead_letter_queue_url=queue),
        sink=EmfSink("fluentd", stream=io.StringIO()),
        dead_letters=DeadLetterSink(queue, retry=RetryPolicy(sleep=lambda s: None)),
    )
    with captured_log(mod.logger) as log:
        out = handler({"awslogs": {"data": "%%%"}}, Context())
    assert out == {"statuses": 0, "metrics": 0, "dropped": 0, "deadLettered": 1}
    assert any("NonExistentQueue" in line or "QueueDoesNotExist" in line for line in log), log
    assert any("dead letter logged with its data" in line and "%%%" in line for line in log)


def test_lambda_metrics_put_metric_data_over_the_wire(handlers_env, aws):
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    handler = handlers_env["lambda_metrics"].build(config(metrics_output="cloudwatch", metrics_namespace=ns))
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
    assert handler(t.lambda_event(doc), Context())["reports"] == 1
    names = {m["MetricName"] for m in aws("cloudwatch").list_metrics(Namespace=ns)["Metrics"]}
    assert {"Duration", "ColdStart", "MaxMemoryUsed", "EstimatedCost", "MemoryUtilization"} <= names


def test_fluentd_metrics_namespace_and_dimension(handlers_env):
    handler = handlers_env["fluentd_metrics"].build(Config.load({}))
    now = int(time.time() * 1000)
    doc = t.make_document(
        [
            (
                now,
                '{"plugin_id":"out_s3","buffer_queue_length":3,"buffer_total_queued_size":100,"retry_count":2}',
            )
        ],
        log_group="/ecs/fluentd",
    )
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert handler(t.lambda_event(doc), Context()) == {
            "statuses": 1,
            "metrics": 3,
            "dropped": 0,
            "deadLettered": 0,
        }
    (emf,) = emf_lines(buf.getvalue())
    assert emf["PluginId"] == "out_s3" and emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "fluentd"
    assert (emf["buffer_queue_length"], emf["retry_count"]) == (3, 2)


def test_given_odd_fluentd_lines_then_good_statuses_still_become_emf_and_payload_never_touches_aws(
    handlers_env,
):
    mod = handlers_env["fluentd_metrics"]
    buf = io.StringIO()
    handler = mod.build(config(), sink=EmfSink("fluentd", stream=buf))
    now = int(time.time() * 1000)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now / 1000))
    lines = [
        f'{when} +0000 monitor.metrics: {{"plugin_id":"good","retry_count":1,"emit_count":5}}',
        '2024-02-30 12:00:00 +0000 monitor.metrics: {"plugin_id":"feb30","retry_count":1}',
        f'{when} +0000 monitor.metrics: {{"plugin_id":"sneaky","_aws":7,"PluginId":9,"retry_count":4}}',
        f'{when} +0000 monitor.metrics: {{"plugin_id":"huge","retry_count":1,"emit_count":{"9" * 400}}}',
        f'{when} +0000 monitor.metrics: {{"plugin_id":"overflow","retry_count":1e999}}',
    ]
    doc = t.make_document([(now, x) for x in lines], log_group="/ecs/fluentd")
    with captured_log(mod.logger) as log:
        out = handler(t.lambda_event(doc), Context())
    assert out == {"statuses": 3, "metrics": 4, "dropped": 3, "deadLettered": 0}
    emf = {d["PluginId"]: d for d in emf_lines(buf.getvalue())}
    assert sorted(emf) == ["good", "huge", "sneaky"]
    assert (emf["good"]["retry_count"], emf["good"]["emit_count"]) == (1, 5)
    assert emf["huge"]["retry_count"] == 1 and "emit_count" not in emf["huge"]
    sneaky = emf["sneaky"]
    assert sneaky["retry_count"] == 4 and sneaky["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["PluginId"]
    ]
    assert [m["Name"] for m in sneaky["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["retry_count"]
    assert any("impossible time '2024-02-30 12:00:00'" in line for line in log)
    assert any("'overflow'" not in line and "invalid JSON" in line for line in log), log
    assert any("3 metric data dropped" in line for line in log), log


def test_fluentd_metrics_put_metric_data_over_the_wire(handlers_env, aws):
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    handler = handlers_env["fluentd_metrics"].build(config(metrics_output="cloudwatch", metrics_namespace=ns))
    now = int(time.time() * 1000) - 120_000
    doc = t.make_document(
        [(now, '{"plugin_id":"out_es","buffer_queue_length":2,"retry_count":1}')], log_group="/ecs/fluentd"
    )
    assert handler(t.lambda_event(doc), Context())["metrics"] == 2
    metrics = aws("cloudwatch").list_metrics(Namespace=ns)["Metrics"]
    assert sorted((m["MetricName"], m["Dimensions"][0]["Value"]) for m in metrics) == [
        ("buffer_queue_length", "out_es"),
        ("retry_count", "out_es"),
    ]


def odd_batch(now):
    """5 Kinesis records: 4 good functions, 1 whose lines are odd (inf, nan, 15 days old, huge)."""
    docs = [
        t.make_document(
            [(now + i, REPORT.format(rid=f"good{i}", d=10 + i, mem=128))], log_group=f"/aws/lambda/g{i}"
        )
        for i in range(4)
    ]
    odd = [
        (now, REPORT.format(rid="inf", d=1, mem="inf")),
        (now, REPORT.format(rid="nan", d="nan", mem=128)),
        (now - 15 * 86_400_000, REPORT.format(rid="stale", d=5, mem=128)),
        (now, REPORT.format(rid="huge", d=5, mem="9" * 400)),
    ]
    docs.insert(2, t.make_document(odd, log_group="/aws/lambda/odd"))
    return t.kinesis_event(docs)


@pytest.mark.parametrize("broken", ["odd values", "undecodable"])
def test_given_4_good_records_and_1_bad_when_run_like_the_event_source_then_counted_exactly_once(
    handlers_env, aws, broken
):
    ns = f"Once/{uuid.uuid4().hex[:8]}"
    queue = new_queue(aws)
    handler = handlers_env["lambda_metrics"].build(
        config(metrics_output="cloudwatch", metrics_namespace=ns, dead_letter_queue_url=queue)
    )
    now = int(time.time() * 1000) - 60_000
    event = odd_batch(now)
    if broken == "undecodable":
        event["Records"][2]["kinesis"]["data"] = base64.b64encode(gzip.compress(b"{not json")).decode()
    invocations, discarded = run_like_event_source_mapping(handler, event["Records"])
    assert (invocations, discarded) == (1, [])
    cw = aws("cloudwatch")
    for i in range(4):
        stats = cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": f"g{i}"}],
            StartTime=(now - 120_000) / 1000,
            EndTime=(now + 120_000) / 1000,
            Period=60,
            Statistics=["Sum"],
        )
        assert sum(p["Sum"] for p in stats["Datapoints"]) == 1.0
    letters = read_queue(aws("sqs"), queue)
    if broken == "undecodable":
        assert [x["data"] for x in letters] == [event["Records"][2]["kinesis"]["data"]]
    else:
        assert letters == []

        def odd(metric, stat):
            points = cw.get_metric_statistics(
                Namespace=ns,
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": "odd"}],
                StartTime=(now - 120_000) / 1000,
                EndTime=(now + 120_000) / 1000,
                Period=60,
                Statistics=[stat],
            )["Datapoints"]
            return sum(p[stat] for p in points)

        # "inf" MB is not a report Lambda wrote; the nan report counts, without its Duration;
        # the 15-day-old report is dropped; the 400-digit memory size gives no utilization
        assert (odd("Invocations", "Sum"), odd("Duration", "SampleCount")) == (2.0, 1.0)
        assert odd("MemoryUtilization", "SampleCount") == 1.0  # the nan report's 64 of 128 MB


def test_given_kinesis_sink_injected_then_no_module_is_reimported(handlers_env):
    class Client:
        def __init__(self):
            self.calls = []

        def put_records(self, StreamName, Records):  # noqa: N803 - boto3's names
            self.calls.append(len(Records))
            return {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in Records],
            }

    client = Client()
    handler = handlers_env["forward"].build(config(), sink=KinesisSink("s", client=client))
    event = t.kinesis_event([t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(4)])
    assert handler(event, Context()) == {"batchItemFailures": []}
    assert client.calls == [4]


def test_given_a_document_the_transformation_put_back_then_forward_and_metrics_skip_it(handlers_env, aws):
    """A Kinesis stream that feeds a Firehose delivery stream (whose transformation re-ingests
    into it) and the forwarder or the metrics function: the re-ingested copy is not taken twice."""
    name, arn = new_stream(aws)
    forward = handlers_env["forward"].build(config(destination_arn=arn))
    original = t.make_document([REPORT.format(rid="r-1", d=1, mem=128)], log_stream="first")
    again = {**t.make_document([REPORT.format(rid="r-0", d=1, mem=999)], log_stream="again"), MARKER: 1}
    event = t.kinesis_event([original, again])
    assert forward(event, Context()) == {"batchItemFailures": []}
    assert [line["logStream"] for line in read_stream(aws("kinesis"), name)] == ["first"]

    emf = io.StringIO()
    sink = EmfSink("ns", stream=emf)
    sink.clock = lambda: original["logEvents"][0]["timestamp"] / 1000 + 60  # within CloudWatch's window
    metrics = handlers_env["lambda_metrics"].build(config(), sink=sink)
    with redirect_stdout(io.StringIO()):
        assert metrics(event, Context()) == {"batchItemFailures": []}
    docs = emf_lines(emf.getvalue())
    # one invocation, of the 128 MB report (64 MB used: 50%); the re-ingested 999 MB one is not counted
    assert [(d["Invocations"], d["MemoryUtilization"]) for d in docs] == [(1.0, 50.0)]
