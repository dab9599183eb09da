"""The processing pipeline and the record formats in the forwarder and the Firehose transform,
over the wire (moto): real-looking lines of every Lambda runtime in, what arrived read back and
decoded, the self-metrics document checked against what arrived.

Handlers are configured from an environment mapping (``Config.load(env)``: what the module does
with ``os.environ`` at import); bad values are checked as Lambda loads the module, in a subprocess.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import random
import subprocess
import sys
import time
from contextlib import redirect_stdout

import pytest

from handlers._config import Config
from logstream import decode_log_stream, iter_log_streams
from logstream import testing as t
from logstream.ndjson import event_lines
from tests.conftest import ROOT, firehose_to_s3
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
RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2026-11-23T10:00:00.123Z"
GROUP, STREAM = "/aws/lambda/checkout", "2026/11/23/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def modules(handler_modules):
    return handler_modules


def forwarder(modules, arn, **env):
    config = Config.load({"AWS_REGION": "us-east-1", "DESTINATION_ARN": arn, **env})
    return modules["forward"].build(config, dead_letters=None)


def run(handler, event):
    """Invoke; return the answer and the self-metrics document it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(event, Context())
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, own


def ndjson(records):
    return [json.loads(line) for data in records for line in data.splitlines()]


# ----------------------------------------------------------- every runtime through every stage
RUNTIME_LINES = [
    f"START RequestId: {RID} Version: $LATEST\n",
    f"{TS}\t{RID}\tINFO\tOrder accepted for jane.doe@example.com\n",  # Node.js
    f"[DEBUG]\t{TS}\t{RID}\tcache miss for order 42\n",  # Python, below MIN_LEVEL
    f"2026-11-23 10:00:00 {RID} ERROR Handler - Payment failed\n",  # Java log4j2
    "\tat com.shop.Payments.charge(Payments.java:42)\n",  # its stack trace, one event per line
    "Caused by: java.net.SocketTimeoutException: Read timed out\n",
    f"{TS}\t{RID}\tinfo\tGET /health 200\n",  # .NET, excluded
    f'time={TS} level=WARN msg="slow query" requestId={RID} client=10.1.2.3\n',  # Go slog
    f'{{"timestamp":"{TS}","level":"FATAL","message":"bye","requestId":"{RID}"}}\n',  # Ruby JSON
    f"END RequestId: {RID}\n",
    f"REPORT RequestId: {RID}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 64 MB\t\n",
]
PIPELINE_ENV = {
    "PARSE_MESSAGES": "true",
    "JOIN_MULTILINE": "true",
    "EXCLUDE_PATTERN": "GET /health",
    "MIN_LEVEL": "INFO",
    "REDACT": "email,ipv4",
    "TAGS": "team=payments,env=prod",
}


def runtime_document():
    now = int(time.time() * 1000) - 5_000
    return t.make_document(
        [(now + i, m) for i, m in enumerate(RUNTIME_LINES)], log_group=GROUP, log_stream=STREAM
    )


def test_given_every_stage_on_when_runtime_lines_are_forwarded_then_kinesis_holds_the_processed_events(
    modules, aws
):
    name, arn = new_stream(aws)
    doc = runtime_document()
    ids = [e["id"] for e in doc["logEvents"]]
    answer, own = run(forwarder(modules, arn, **PIPELINE_ENV), t.lambda_event(doc))
    records = stream_records(aws("kinesis"), name)
    lines = ndjson(records)

    assert [x["id"] for x in lines] == [ids[0], ids[1], ids[3], ids[7], ids[8], ids[9], ids[10]]
    start, node, java, go, ruby, end, report = lines
    assert node["message"] == f"{TS}\t{RID}\tINFO\tOrder accepted for [REDACTED:email]\n"
    assert (node["level"], node["requestId"], node["time"]) == ("INFO", RID, TS)
    assert java["message"] == RUNTIME_LINES[3] + RUNTIME_LINES[4] + RUNTIME_LINES[5]
    assert (java["level"], java["joinedIds"]) == ("ERROR", [ids[4], ids[5]])
    assert go["message"] == f'time={TS} level=WARN msg="slow query" requestId={RID} client=[REDACTED:ipv4]\n'
    assert go["level"] == "WARN"
    assert ruby["json"] == {"timestamp": TS, "level": "FATAL", "message": "bye", "requestId": RID}
    assert (start["requestId"], end["requestId"], report["requestId"]) == (RID, RID, RID)
    assert "level" not in start and "level" not in report
    for line in lines:
        assert (line["functionName"], line["functionVersion"], line["region"]) == (
            "checkout",
            "$LATEST",
            "us-east-1",
        )
        assert line["tags"] == {"team": "payments", "env": "prod"}
        assert (line["logGroup"], line["logStream"], line["owner"]) == (GROUP, STREAM, doc["owner"])

    assert answer["deadLettered"] == 0
    assert own["FunctionName"] == Context.function_name
    assert {k: own[k] for k in ("EventsIn", "EventsOut", "DroppedFiltered", "DroppedSampled")} == {
        "EventsIn": 11,
        "EventsOut": 7,  # the stack trace's three events leave as one
        "DroppedFiltered": 2,  # the DEBUG line and the health check
        "DroppedSampled": 0,
    }
    assert (own["ControlMessages"], own["DecodeErrors"], own["FailedEntries"], own["Retries"]) == (0, 0, 0, 0)
    assert own["BytesOut"] == sum(len(r) for r in records)
    assert 5_000 <= own["DeliveryLatency"] < 120_000  # the oldest event is ~5 s old


def test_given_no_pipeline_variable_then_the_records_are_logstream_decode_lines_byte_for_byte(modules, aws):
    name, arn = new_stream(aws)
    doc = runtime_document()
    run(forwarder(modules, arn), t.lambda_event(doc))
    assert b"".join(stream_records(aws("kinesis"), name)) == event_lines(
        decode_log_stream(t.lambda_event(doc))
    )


def test_given_sampling_when_a_kinesis_batch_is_forwarded_twice_then_the_same_events_are_kept(modules, aws):
    rng = random.Random(3)
    now = int(time.time() * 1000) - 1_000
    docs = []
    for d in range(4):
        msgs = []
        for i in range(100):
            level = rng.choice(["INFO", "INFO", "INFO", "WARN", "ERROR"])
            msgs.append((now + i, f"{TS}\t{RID}\t{level}\tstep {d}-{i}\n"))
        msgs.append((now + 100, f"END RequestId: {RID}\n"))
        docs.append(t.make_document(msgs, log_group=f"/aws/lambda/f{d}", log_stream=f"s{d}"))
    kept = []
    for _ in range(2):
        name, arn = new_stream(aws)
        answer, own = run(forwarder(modules, arn, SAMPLE_RATE="0.25"), t.kinesis_event(docs))
        assert answer == {"batchItemFailures": []}
        lines = ndjson(stream_records(aws("kinesis"), name))
        kept.append({x["id"] for x in lines})
        assert own["EventsIn"] - own["EventsOut"] == own["DroppedSampled"] > 0
        assert own["EventsOut"] == len(lines)
    assert kept[0] == kept[1]  # deterministic by event id
    every = {e["id"]: e["message"] for d in docs for e in d["logEvents"]}
    never_dropped = {i for i, m in every.items() if "\tINFO\t" not in m}
    infos = set(every) - never_dropped
    assert never_dropped <= kept[0]  # WARN, ERROR and platform lines always stay
    assert 0.10 * len(infos) < len(kept[0] & infos) < 0.45 * len(infos)


def test_given_parse_and_redact_all_then_the_firehose_transformation_answers_processed_lines(modules):
    config = Config.load({"PARSE_MESSAGES": "true", "REDACT": "all", "AWS_REGION": "eu-west-1"})
    handler = modules["firehose_transform"].build(config)
    secret = "AKIAIOSFODNN7EXAMPLE"
    doc = t.make_document(
        [f"[ERROR]\t{TS}\t{RID}\tkey {secret} leaked\n", f"END RequestId: {RID}\n"],
        log_group=GROUP,
        log_stream=STREAM,
    )
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(t.firehose_event([doc, t.control_document()]), Context())
    assert [r["result"] for r in answer["records"]] == ["Ok", "Dropped"]
    lines = [json.loads(x) for x in base64.b64decode(answer["records"][0]["data"]).splitlines()]
    assert lines[0]["message"] == f"[ERROR]\t{TS}\t{RID}\tkey [REDACTED:aws-access-key] leaked\n"
    assert (lines[0]["level"], lines[0]["functionName"], lines[0]["region"]) == (
        "ERROR",
        "checkout",
        "eu-west-1",
    )
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    assert (own["EventsIn"], own["EventsOut"], own["ControlMessages"]) == (2, 2, 1)
    assert own["BytesOut"] == len(base64.b64decode(answer["records"][0]["data"]))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARSE_MESSAGES", "perhaps"),
        ("JOIN_MULTILINE", "2"),
        ("MULTILINE_START", "(unclosed"),
        ("INCLUDE_PATTERN", "[a-"),
        ("EXCLUDE_PATTERN", "*x"),
        ("MIN_LEVEL", "LOUD"),
        ("SAMPLE_RATE", "0"),
        ("REDACT", "email,phone"),
        ("REDACT_PATTERNS", "ok\n(bad"),
        ("ENRICH", "sometimes"),
        ("TAGS", "team"),
        ("RECORD_FORMAT", "avro"),
        ("SELF_METRICS", "loud"),
    ],
)
@pytest.mark.parametrize("module", ["forward", "firehose_transform"])
def test_given_a_bad_pipeline_variable_when_lambda_imports_the_handler_then_config_error_names_it(
    module, variable, value
):
    env = {
        **os.environ,
        "DESTINATION_ARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s",
        variable: value,
    }
    out = subprocess.run(
        [sys.executable, "-c", f"import handlers.{module}"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("logstream.errors.ConfigError: ") and variable in last, out.stderr


def test_given_self_metrics_false_then_nothing_but_the_records_is_written(modules, aws):
    name, arn = new_stream(aws)
    handler = forwarder(modules, arn, SELF_METRICS="false")
    out = io.StringIO()
    with redirect_stdout(out):
        handler(t.lambda_event(runtime_document()), Context())
    assert out.getvalue() == "" and len(ndjson(stream_records(aws("kinesis"), name))) == len(RUNTIME_LINES)


# ---------------------------------------------------------------------------- record formats
def documents(n=3, events=40):
    now = int(time.time() * 1000) - 2_000
    return [
        t.make_document(
            [
                (now + i, f"{TS}\t{RID}\tINFO\tline {d}-{i} from a user at 10.0.0.{i}\n")
                for i in range(events)
            ],
            log_group=f"/aws/lambda/app{d}",
            log_stream=f"2026/11/23/[$LATEST]{d:032x}",
        )
        for d in range(n)
    ]


def test_given_ndjson_gzip_when_forwarded_to_kinesis_then_each_record_gunzips_to_the_event_lines(
    modules, aws
):
    name, arn = new_stream(aws)
    docs = documents()
    answer, own = run(forwarder(modules, arn, RECORD_FORMAT="ndjson-gzip"), t.kinesis_event(docs))
    assert answer == {"batchItemFailures": []}
    records = stream_records(aws("kinesis"), name)
    assert len(records) == 3 and all(r[:2] == b"\x1f\x8b" for r in records)  # one per stream here
    want = [event_lines(decode_log_stream(t.lambda_event(d))) for d in docs]
    assert sorted(gzip.decompress(r) for r in records) == sorted(want)
    assert own["BytesOut"] == sum(len(r) for r in records) < sum(len(w) for w in want) / 5
    assert own["EventsOut"] == 120


def test_given_ndjson_gzip_and_the_pipeline_when_forwarded_to_firehose_then_s3_holds_the_processed_lines(
    modules, aws
):
    s3 = aws("s3")
    stream, bucket = firehose_to_s3(s3, aws("firehose"))
    arn = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{stream}"
    handler = forwarder(modules, arn, RECORD_FORMAT="ndjson-gzip", REDACT="ipv4", PARSE_MESSAGES="true")
    for doc in documents(2):
        run(handler, t.lambda_event(doc))
    lines = [json.loads(x) for obj in s3_objects(s3, bucket) for x in gzip.decompress(obj).splitlines()]
    assert len(lines) == 80 and all(x["message"].endswith("at [REDACTED:ipv4]\n") for x in lines)
    assert {x["level"] for x in lines} == {"INFO"}


def test_given_cloudwatch_format_then_each_record_is_the_document_exactly_as_cloudwatch_sends_it(
    modules, aws
):
    name, arn = new_stream(aws)
    docs = documents()
    docs[1]["policyLevel"] = "ACCOUNT_LEVEL_POLICY"
    docs[2]["someFutureKey"] = {"kept": True}  # unknown keys travel as they came
    run(forwarder(modules, arn, RECORD_FORMAT="cloudwatch"), t.lambda_event(docs[0]))
    run(forwarder(modules, arn, RECORD_FORMAT="cloudwatch"), t.kinesis_event(docs[1:]))
    records = stream_records(aws("kinesis"), name)
    assert [gzip.decompress(r) for r in records] == [t.document_json(d) for d in docs]
    assert [s.to_document() for r in records for s in iter_log_streams(r)] == docs  # what consumers decode


def test_given_cloudwatch_format_with_filters_and_redaction_then_the_document_keeps_its_other_keys(
    modules, aws
):
    name, arn = new_stream(aws)
    (doc,) = documents(1, events=10)
    doc["someFutureKey"] = 7
    run(
        forwarder(modules, arn, RECORD_FORMAT="cloudwatch", EXCLUDE_PATTERN=r"line 0-[0-4] ", REDACT="ipv4"),
        t.lambda_event(doc),
    )
    (record,) = stream_records(aws("kinesis"), name)
    got = json.loads(gzip.decompress(record))
    want = {
        **doc,
        "logEvents": [
            {**e, "message": e["message"].replace(f"10.0.0.{i}", "[REDACTED:ipv4]")}
            for i, e in enumerate(doc["logEvents"])
            if i >= 5
        ],
    }
    assert got == want


def test_given_a_document_too_big_for_one_record_then_cloudwatch_format_cuts_it_into_documents(modules, aws):
    name, arn = new_stream(aws)
    rng = random.Random(5)
    # 8 events of 200 KB of base64 (gzip takes a quarter off): ~1.2 MB of gzip, over Kinesis' 1 MiB per record
    msgs = [base64.b64encode(rng.randbytes(150_000)).decode() for _ in range(8)]
    doc = t.make_document(msgs, log_group=GROUP, log_stream=STREAM, start_ms=int(time.time() * 1000) - 1000)
    answer, own = run(forwarder(modules, arn, RECORD_FORMAT="cloudwatch"), t.kinesis_event([doc]))
    assert answer == {"batchItemFailures": []}
    records = stream_records(aws("kinesis"), name)
    assert len(records) >= 2 and all(len(r) + len(f"{GROUP}/{STREAM}") <= 1024 * 1024 for r in records)
    pieces = [json.loads(gzip.decompress(r)) for r in records]
    assert [e for p in pieces for e in p["logEvents"]] == doc["logEvents"]
    assert all(
        {k: v for k, v in p.items() if k != "logEvents"} == {k: v for k, v in doc.items() if k != "logEvents"}
        for p in pieces
    )
    assert own["EventsOut"] == 8


def test_given_ndjson_gzip_and_a_256kb_event_of_control_characters_then_its_parts_arrive(modules, aws):
    name, arn = new_stream(aws)
    message = "".join(chr(i % 32) for i in range(256 * 1024))  # 1.5 MB as JSON, compresses well
    doc = t.make_document([message, "after"], start_ms=int(time.time() * 1000))
    run(forwarder(modules, arn, RECORD_FORMAT="ndjson-gzip"), t.kinesis_event([doc]))
    lines = [
        json.loads(x) for r in stream_records(aws("kinesis"), name) for x in gzip.decompress(r).splitlines()
    ]
    parts = [x for x in lines if "part" in x]
    assert [(p["part"], p["parts"]) for p in parts] == [(1, 2), (2, 2)]
    assert "".join(p["message"] for p in parts) == message and lines[-1]["message"] == "after"
