"""The forwarder's self-metrics with the whole pipeline on, under the failures production has:
boto3 -> fault-injecting proxy (tests/faultproxy.py) -> moto's server; what arrived is read
back from moto directly. The numbers must add up with what arrived, whatever was retried.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections import Counter
from contextlib import redirect_stdout

import boto3
import pytest

from handlers._config import Config
from logstream import testing as t
from tests.faultproxy import FaultProxy
from tests.functional.wire import SELF_NAMESPACE, emf_documents, new_stream, stream_records
from tests.lambda_sim import Context

SELF = "/aws/lambda/logstream-self"
RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
PIPELINE = {
    "PARSE_MESSAGES": "true",
    "JOIN_MULTILINE": "true",
    "EXCLUDE_PATTERN": "GET /health",
    "SAMPLE_RATE": "0.5",
    "REDACT": "email",
    "TAGS": "team=payments",
}
N_DOCS, TRACE = 1_200, 3  # per document: 1 health check, 4 info lines, 1 error + 3 trace lines


@pytest.fixture(scope="module")
def forward(handler_modules):
    return handler_modules["forward"]


def direct(aws_endpoint):
    return boto3.client("kinesis", region_name="us-east-1", endpoint_url=aws_endpoint)


def documents() -> list[dict]:
    now = int(time.time() * 1000) - 10_000
    docs = []
    for d in range(N_DOCS):
        lines = [f"GET /health 200 {d}\n"]
        lines += [
            f"2026-11-23T10:00:00.123Z\t{RID}\tINFO\torder {d}-{i} for jane@example.com\n" for i in range(4)
        ]
        lines += [f"2026-11-23T10:00:00.123Z\t{RID}\tERROR\tpayment {d} failed\n"]
        lines += [f"\tat com.shop.Payments.charge(Payments.java:{i})\n" for i in range(TRACE)]
        docs.append(
            t.make_document(
                lines,
                log_group=f"/aws/lambda/fn{d % 7}",
                log_stream=f"2026/11/23/[$LATEST]{d:032x}",
                start_ms=now,
            )
        )
    return docs


def invoke(handler, event):
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(event, Context(300))
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, own


def test_given_the_pipeline_and_failing_requests_and_entries_then_the_self_metrics_add_up_with_what_arrived(
    aws_endpoint, forward, monkeypatch
):
    docs = documents()
    event = t.kinesis_event(docs)
    # the same batch without faults: what should arrive (sampling is by event id)
    ref_name, ref_arn = new_stream(lambda _: direct(aws_endpoint))
    config = {"AWS_REGION": "us-east-1", **PIPELINE}
    invoke(forward.build(Config.load({**config, "DESTINATION_ARN": ref_arn}), dead_letters=None), event)
    want = stream_records(direct(aws_endpoint), ref_name)

    name, arn = new_stream(lambda _: direct(aws_endpoint))
    with FaultProxy(
        aws_endpoint, seed=7, request_failure=0.25, entry_failure=0.2, only={"PutRecords"}
    ) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        handler = forward.build(Config.load({**config, "DESTINATION_ARN": arn}), dead_letters=None)
        answer, own = invoke(handler, event)
    got = stream_records(direct(aws_endpoint), name)

    assert answer == {"batchItemFailures": []}
    assert Counter(got) == Counter(want)  # every record once: retries re-sent only what failed
    lines = [json.loads(x) for r in got for x in r.splitlines()]
    events = N_DOCS * (6 + TRACE)
    assert own["EventsIn"] == events
    assert own["EventsOut"] == len(lines)
    assert own["BytesOut"] == sum(len(r) for r in got)
    assert own["DroppedFiltered"] == N_DOCS  # the health checks
    assert own["JoinedEvents"] == N_DOCS * TRACE  # the trace lines, joined into their error line
    # every event taken in went out, was dropped or was joined: nothing else
    dropped = own["DroppedFiltered"] + own["DroppedSampled"] + own["JoinedEvents"]
    assert own["EventsIn"] - own["EventsOut"] == dropped
    assert all(len(x["joinedIds"]) == TRACE for x in lines if x.get("level") == "ERROR")
    assert own["FailedEntries"] == 0
    first_attempts = math.ceil(len(got) / 500)  # small records: batches are cut by count
    assert own["Retries"] == proxy.stats["requests:PutRecords"] - first_attempts > 0
    assert proxy.stats["dropped:PutRecords"] > 0


def test_given_a_share_of_requests_denied_then_failed_entries_and_item_failures_name_what_did_not_arrive(
    aws_endpoint, forward, monkeypatch
):
    """AccessDenied is fatal: the records of a denied request fail at once. FailedEntries is the
    records that did not arrive; batchItemFailures names exactly the source records with one of
    them; EventsOut and BytesOut are what arrived."""
    docs = documents()  # 1,200 records: three PutRecords requests
    event = t.kinesis_event(docs)
    name, arn = new_stream(lambda _: direct(aws_endpoint))
    config = {"AWS_REGION": "us-east-1", "DESTINATION_ARN": arn, **PIPELINE, "SAMPLE_RATE": ""}
    with FaultProxy(
        aws_endpoint, seed=11, request_failure=0.0, entry_failure=0.0, deny=0.5, only={"PutRecords"}
    ) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        handler = forward.build(Config.load(config), dead_letters=None)
        answer, own = invoke(handler, event)
    got = stream_records(direct(aws_endpoint), name)
    lines = [json.loads(x) for r in got for x in r.splitlines()]
    arrived = {x["logStream"] for x in lines}
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    by_seq = {r["kinesis"]["sequenceNumber"]: d for r, d in zip(event["Records"], docs, strict=True)}
    assert failed == {seq for seq, d in by_seq.items() if d["logStream"] not in arrived}
    assert own["EventsOut"] == len(lines) and own["BytesOut"] == sum(len(r) for r in got)
    assert own["FailedEntries"] == len(failed) > 0  # one record per source record here
    assert 0 < proxy.stats["denied:PutRecords"] < proxy.stats["requests:PutRecords"]
    assert own["Retries"] == 0  # fatal: never re-sent
