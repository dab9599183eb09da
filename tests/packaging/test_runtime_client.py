"""Each handler run from the built artifact the way Lambda's Python runtime runs it: a clean
interpreter with only boto3 and the real runtime interface client (awslambdaric), the artifact
as the task root (not the repository, not .venv), a real subscription event handed out by a
local stand-in for the Lambda Runtime API, and the answer and stdout checked.

The artifact is built for this machine's platform and Python, since it runs here; the
arm64/Python 3.13 build that deploys is checked in test_sam_build.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.packaging.conftest import HOST_PYTHON
from tests.packaging.runtime_api import Outcome, RuntimeApi

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:logstream-under-test"
OWN_GROUP = "/aws/lambda/logstream-under-test"
# A minute ago, whole seconds: metric data older than two weeks is dropped by the handlers
START_MS = (int(time.time()) - 60) * 1000
FLUENTD_TIME = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(START_MS / 1000))


def log_document(log_group: str, messages: list[str], log_stream: str = "2025/11/23/[$LATEST]0f1e") -> dict:
    """A CloudWatch Logs subscription document holding ``messages``."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["logstream"],
        "logEvents": [
            {"id": f"{START_MS + i:020d}{i:036d}", "timestamp": START_MS + i, "message": m}
            for i, m in enumerate(messages)
        ],
    }


def payload(doc: dict) -> str:
    """base64 of a gzip member holding the JSON document, as CloudWatch Logs sends it (built here
    with the stdlib, not with logstream)."""
    return base64.b64encode(gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)).decode()


def subscription_event(
    log_group: str, messages: list[str], log_stream: str = "2025/11/23/[$LATEST]0f1e"
) -> dict:
    """A Lambda subscription event as CloudWatch Logs sends it."""
    return {"awslogs": {"data": payload(log_document(log_group, messages, log_stream))}}


def run_handler(
    artifact: Path, python: Path, handler: str, event: dict, timeout_ms: int = 60_000, **env: str
):
    """``python -m awslambdaric HANDLER`` from ``artifact``, driven by the Runtime API stand-in
    through one invocation with ``timeout_ms`` to its deadline. Returns (outcome, stdout lines,
    stderr); ``outcome.deadline_ms`` is the deadline the runtime was handed."""
    [outcome], stdout, stderr = run_invocations(
        artifact, python, handler, event, timeout_ms=timeout_ms, **env
    )
    return outcome, stdout, stderr


def run_invocations(
    artifact: Path,
    python: Path,
    handler: str,
    event: dict,
    then: Callable[[Outcome], dict | None] = lambda outcome: None,
    timeout_ms: int = 60_000,
    **env: str,
):
    """As ``run_handler``, for invocations one after the other in the same runtime process (as
    Lambda reuses a warm environment): ``then(outcome)`` gives the next event, or None to stop.
    Returns (outcomes, stdout lines, stderr)."""
    outcomes: list[Outcome] = []
    with RuntimeApi(FUNCTION_ARN, timeout_ms=timeout_ms) as api:
        request_id = api.invoke(event)
        proc = subprocess.Popen(
            [str(python), "-m", "awslambdaric", handler],
            cwd=artifact,
            env={
                "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "PYTHONPATH": str(artifact),
                "LAMBDA_TASK_ROOT": str(artifact),
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "_HANDLER": handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{HOST_PYTHON}",
                "AWS_LAMBDA_FUNCTION_NAME": "logstream-under-test",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_LOG_GROUP_NAME": OWN_GROUP,
                "AWS_LAMBDA_LOG_STREAM_NAME": "2025/11/23/[$LATEST]feed",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            while True:
                outcome = api.outcome(timeout=120)
                if outcome.request_id in api.deadlines:
                    outcome.deadline_ms = api.deadlines[outcome.request_id]
                outcomes.append(outcome)
                if outcome.request_id != request_id or (event := then(outcome)) is None:
                    break
                request_id = api.invoke(event)
        finally:
            proc.terminate()  # idle, waiting for the next invocation: the stand-in holds it
            out, err = proc.communicate(timeout=60)
    assert outcomes[-1].request_id == request_id, (outcomes[-1], err.decode())
    return outcomes, out.decode().splitlines(), err.decode()


def emf_documents(lines: list[str], self_metrics: bool = False) -> list[dict]:
    """The EMF documents printed: the handler's metrics, or (``self_metrics``) its own."""
    docs = [d for d in map(json.loads, (ln for ln in lines if ln.startswith("{"))) if "_aws" in d]
    own = [d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Logstream/Pipeline" for d in docs]
    return [d for d, is_own in zip(docs, own, strict=True) if is_own == self_metrics]


def log_records(lines: list[str]) -> list[dict]:
    return [d for d in map(json.loads, (ln for ln in lines if ln.startswith("{"))) if "level" in d]


HANDLERS = ("lambda_metrics", "fluentd_metrics", "forward", "firehose_transform")
REPORT = (
    "REPORT RequestId: 6f1c2b7e-1d2a-4f8e-9c3b-0a1b2c3d4e5f\tDuration: 12.50 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 64 MB\tInit Duration: 100.00 ms\t\n"
)


def test_given_a_lambda_log_subscription_when_the_runtime_invokes_lambda_metrics_then_emf_is_printed(
    host_artifact, runtime_python
):
    event = subscription_event(
        "/aws/lambda/checkout",
        ["START RequestId: 6f1c2b7e-1d2a-4f8e-9c3b-0a1b2c3d4e5f Version: $LATEST\n", REPORT],
    )
    outcome, stdout, stderr = run_handler(
        host_artifact, runtime_python, "handlers.lambda_metrics.handler", event, LAMBDA_ARCHITECTURE="x86_64"
    )
    assert outcome.kind == "response", stderr
    assert outcome.json() == {"reports": 1, "metrics": 10, "dropped": 0, "deadLettered": 0}
    [emf] = emf_documents(stdout)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Logstream/Lambda"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]]
    # x86_64: $0.0000166667 per GB-second of billed duration, $0.20 per million requests
    cost = 0.013 * (128 / 1024) * 0.0000166667 + 0.20 / 1_000_000
    assert {k: v for k, v in emf.items() if k != "_aws"} == {
        "FunctionName": "checkout",
        "Invocations": 1,
        "Duration": 12.5,
        "BilledDuration": 13,
        "InitDuration": 100.0,
        "MaxMemoryUsed": 64,
        "MemoryUtilization": 50.0,
        "ColdStart": 1,
        "Timeout": 0,
        "OutOfMemory": 0,
        "EstimatedCost": pytest.approx(cost, rel=1e-6),
    }
    # one self-metrics document per invocation replaces the per-invocation log line
    [own] = emf_documents(stdout, self_metrics=True)
    assert (own["FunctionName"], own["EventsIn"], own["EventsOut"]) == ("logstream-under-test", 2, 10)
    assert log_records(stdout) == []


def test_given_fluentd_status_lines_when_the_runtime_invokes_fluentd_metrics_then_emf_is_printed(
    host_artifact, runtime_python
):
    status = {"plugin_id": "out_s3", "type": "s3", "buffer_queue_length": 3, "retry_count": 2}
    event = subscription_event(
        "/ecs/fluentd",
        [
            f"{FLUENTD_TIME} +0000 [info]: #0 fluentd worker is now running worker=0\n",
            f"{FLUENTD_TIME}.123456789 +0000 monitor.metrics: {json.dumps(status)}\n",
        ],
    )
    outcome, stdout, stderr = run_handler(
        host_artifact, runtime_python, "handlers.fluentd_metrics.handler", event
    )
    assert outcome.kind == "response", stderr
    assert outcome.json() == {"statuses": 1, "metrics": 2, "dropped": 0, "deadLettered": 0}
    [emf] = emf_documents(stdout)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "fluentd"
    assert {k: v for k, v in emf.items() if k != "_aws"} == {
        "PluginId": "out_s3",
        "buffer_queue_length": 3,
        "retry_count": 2,
    }


def test_given_a_subscription_when_the_runtime_invokes_forward_then_every_event_reaches_kinesis(
    host_artifact, runtime_python, aws
):
    name = f"runtime-{uuid.uuid4().hex[:8]}"
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    messages = [f"line {i} of the order service\n" for i in range(5)]
    event = subscription_event("/ecs/orders", messages)
    outcome, stdout, stderr = run_handler(
        host_artifact,
        runtime_python,
        "handlers.forward.handler",
        event,
        DESTINATION_ARN=f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}",
        AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
    )
    assert outcome.kind == "response", stderr
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert outcome.json() == {"delivered": len(records), "requests": 1, "deadLettered": 0}
    events = [json.loads(line) for r in records for line in r["Data"].splitlines()]  # NDJSON records
    assert [(e["logGroup"], e["message"]) for e in events] == [("/ecs/orders", m) for m in messages]


def test_given_a_firehose_batch_when_the_runtime_invokes_firehose_transform_then_records_are_ndjson(
    host_artifact, runtime_python
):
    sub = subscription_event("/aws/lambda/checkout", ["one\n", "two\n"])
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": START_MS,
                "message": "CWL CONTROL MESSAGE: Checking health of destination",
            }
        ],
    }
    control_data = base64.b64encode(gzip.compress(json.dumps(control).encode(), mtime=0)).decode()
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
        "region": "us-east-1",
        "records": [
            {"recordId": "r-control", "approximateArrivalTimestamp": START_MS, "data": control_data},
            {"recordId": "r-data", "approximateArrivalTimestamp": START_MS, "data": sub["awslogs"]["data"]},
            {"recordId": "r-bad", "approximateArrivalTimestamp": START_MS, "data": "bm90IGd6aXA="},
        ],
    }
    outcome, stdout, stderr = run_handler(
        host_artifact, runtime_python, "handlers.firehose_transform.handler", event
    )
    assert outcome.kind == "response", stderr
    records = outcome.json()["records"]
    assert [(r["recordId"], r["result"]) for r in records] == [
        ("r-control", "Dropped"),
        ("r-data", "Ok"),
        ("r-bad", "ProcessingFailed"),
    ]
    lines = [json.loads(ln) for ln in base64.b64decode(records[1]["data"]).decode().splitlines()]
    assert [(d["logGroup"], d["timestamp"], d["message"]) for d in lines] == [
        ("/aws/lambda/checkout", START_MS, "one\n"),
        ("/aws/lambda/checkout", START_MS + 1, "two\n"),
    ]


def test_given_redaction_configured_when_the_runtime_invokes_firehose_transform_then_secrets_are_replaced(
    host_artifact, runtime_python
):
    messages = [
        "login bob@example.org from 10.20.30.40\n",
        "nothing to hide\n",
        "Authorization: Bearer 0b79bab50daca910b000d4f1a2b675d604257e42\n",
    ]
    sub = subscription_event("/ecs/orders", messages)
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
        "region": "us-east-1",
        "records": [
            {"recordId": "r", "approximateArrivalTimestamp": START_MS, "data": sub["awslogs"]["data"]}
        ],
    }
    outcome, stdout, stderr = run_handler(
        host_artifact, runtime_python, "handlers.firehose_transform.handler", event, REDACT="all"
    )
    assert outcome.kind == "response", stderr
    [record] = outcome.json()["records"]
    lines = [json.loads(ln) for ln in base64.b64decode(record["data"]).decode().splitlines()]
    assert [d["message"] for d in lines] == [
        "login [REDACTED:email] from [REDACTED:ipv4]\n",
        "nothing to hide\n",
        "Authorization: Bearer [REDACTED:bearer]\n",
    ]


def test_given_the_artifact_then_redaction_searches_with_its_google_re2(host_artifact, runtime_python):
    """google-re2 (a C++ extension) loads from the artifact in the runtime's interpreter, and the
    batch uses it (without it, redaction falls back to a slower path, silently)."""
    code = (
        "import re2\n"
        "from logstream.process import redact\n"
        "print(re2.__file__.startswith(sys.argv[1]), redact.re2_in_use())\n"
    )
    res = subprocess.run(
        [str(runtime_python), "-c", "import sys\n" + code, str(host_artifact) + "/"],
        cwd=host_artifact,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(host_artifact)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True"]


def test_given_the_artifact_when_handlers_import_then_only_its_shipped_bytecode_is_used(
    host_artifact, runtime_python
):
    """Lambda unpacks the zip with every mtime at 1980-01-01 and a read-only code directory:
    timestamp-checked .pyc files would be stale and recompiled on every cold start. The
    artifact's unchecked-hash bytecode is used as shipped."""
    for path in host_artifact.rglob("*.py"):
        os.utime(path, (315532800, 315532800))  # 1980-01-01, as Lambda sees files from SAM's zip
    imports = "import " + ", ".join(f"handlers.{h}" for h in HANDLERS)
    res = subprocess.run(
        [str(runtime_python), "-v", "-c", imports],
        cwd=host_artifact,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(host_artifact),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DESTINATION_ARN": "arn:aws:kinesis:us-east-1:123456789012:stream/x",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    # -v prints "# code object from '<...>.pyc'" for bytecode used, "# code object from <...>.py"
    # for a module compiled from source
    root = str(host_artifact) + "/"
    loaded = [
        p
        for p in re.findall(r"^# code object from '?(.+?)'?$", res.stderr, re.MULTILINE)
        if p.startswith(root)
    ]
    from_source = [p for p in loaded if p.endswith(".py")]
    from_pyc = {p.removeprefix(root) for p in loaded if p.endswith(".pyc")}
    assert from_source == []
    shipped = {str(p.relative_to(host_artifact)) for p in host_artifact.rglob("*.pyc")}
    assert from_pyc <= shipped
    tag = f"cpython-{HOST_PYTHON.replace('.', '')}"
    for module in ("handlers/lambda_metrics", "handlers/forward", "logstream/decode", "logstream/envelopes"):
        package, name = module.split("/")
        assert f"{package}/__pycache__/{name}.{tag}.pyc" in from_pyc
    assert any(p.startswith("aws_lambda_powertools/") for p in from_pyc)


def kinesis_event(docs: list[dict]) -> dict:
    """A Kinesis event source batch, one record per document."""
    records = []
    for i, doc in enumerate(docs):
        seq = f"4959{i:052d}"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"key-{i}",
                    "sequenceNumber": seq,
                    "data": payload(doc),
                    "approximateArrivalTimestamp": START_MS / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def test_given_a_record_whose_redaction_would_outlast_the_timeout_when_the_runtime_invokes_forward_then_it_alone_is_dead_lettered_in_time(  # noqa: E501
    host_artifact, runtime_python, aws
):
    """A catastrophic REDACT_PATTERNS regex meets a hostile line in record 2 of 3: the alarm
    interrupts it when the time for processing runs out (SIGALRM in the runtime's main thread),
    record 1 reaches Kinesis, record 2 is dead-lettered as received, record 3 (not reached) is
    reported for retry, and the answer comes before the deadline, not Lambda's timeout. The
    retry (the same warm runtime process, as Lambda reuses it) delivers record 3: no alarm is
    left over from the first invocation."""
    name = f"runtime-{uuid.uuid4().hex[:8]}"
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    queue = aws("sqs").create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    messages = ["order 1 shipped\n", "a" * 64 + "!\n", "order 3 shipped\n"]
    event = kinesis_event([log_document("/ecs/orders", [m]) for m in messages])
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]

    def retry(outcome: Outcome) -> dict | None:  # the event source mapping: from the first failed on
        failed = {f["itemIdentifier"] for f in outcome.json()["batchItemFailures"]}
        if not failed:
            return None
        first = min(i for i, s in enumerate(seqs) if s in failed)
        return {"Records": event["Records"][first:]}

    # 4.5 s: 4 s to the deadline (the margin), 2 s of them for processing, 2 s kept for sending
    outcomes, stdout, stderr = run_invocations(
        host_artifact,
        runtime_python,
        "handlers.forward.handler",
        event,
        then=retry,
        timeout_ms=4500,
        DESTINATION_ARN=f"arn:aws:kinesis:us-east-1:123456789012:stream/{name}",
        DEAD_LETTER_QUEUE_URL=queue,
        REDACT_PATTERNS="(a+)+$",
        AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"],
    )

    assert [o.kind for o in outcomes] == ["response", "response"], stderr
    assert all(o.at_ms < o.deadline_ms for o in outcomes)
    assert [o.json() for o in outcomes] == [
        {"batchItemFailures": [{"itemIdentifier": seqs[2]}]},
        {"batchItemFailures": []},
    ]
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
    delivered = [json.loads(line)["message"] for r in records for line in r["Data"].splitlines()]
    assert delivered == [messages[0], messages[2]]  # each once
    sqs = aws("sqs")
    [body] = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    letter = json.loads(body)
    assert letter["data"] == event["Records"][1]["kinesis"]["data"]  # as received
    assert letter["source"]["step"] == "time limit"
    assert letter["source"]["sequenceNumber"] == seqs[1]
    assert letter["reason"].startswith("record 2: time limit: processing still running after")
    [logged] = [r for r in log_records(stdout) if r.get("exception_name") == "TimeLimit"]
    assert logged["message"].startswith(f"record 2 (sequenceNumber {seqs[1]}): time limit: ")
    frames = [f["file"] for f in logged["stack_trace"]["frames"]]
    assert any(f.endswith("logstream/process/redact.py") for f in frames)  # where it was cut
