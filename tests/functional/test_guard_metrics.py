"""The metrics handlers when processing fails or runs late: a Kinesis record (or one document of
a subscription event) whose processing raises costs only itself (dead-lettered with its data,
counted, logged), processing stops in time for Lambda's deadline, and nothing is counted twice:
what is reported for retry never had its metrics sent.

SQS and CloudWatch are moto's server over HTTP (boto3, as the handlers use them). A failing
parser is the real parser with a monkeypatched wrapper; time is a clock whose sleeps pass at once.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from contextlib import redirect_stdout

import pytest

import logstream.parsers.fluentd as fluentd_module
import logstream.parsers.lambda_report as report_module
from handlers._config import Config
from logstream import DeliveryError, iter_log_streams
from logstream import testing as t
from logstream.sinks import EmfSink
from tests.functional.test_forward_failures import (
    assert_dead_lettered_poison,
    log_records,
    multi_document_payload,
    run,
)
from tests.functional.wire import emf_documents, new_queue, read_queue
from tests.lambda_sim import Context, FakeClock, run_like_event_source_mapping

SELF = "/aws/lambda/logstream-self"
REPORT = (
    "REPORT RequestId: {rid}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 64 MB\t\n"
)

#: Invocations, Duration, ColdStart, Timeout, OutOfMemory, BilledDuration, MaxMemoryUsed,
#: MemoryUtilization, EstimatedCost: the metric data of one REPORT line without Init Duration.
PER_REPORT = 9


@pytest.fixture(scope="module")
def mods(handler_modules):
    return handler_modules


def config(**kw) -> Config:
    return Config.load({"AWS_REGION": "us-east-1"}, skip_log_groups=frozenset({SELF}), **kw)


def now_ms() -> int:
    return int(time.time() * 1000) - 60_000


def report_docs(names: list[str], when: int) -> list[dict]:
    """One document per function, each holding one REPORT line (request id = the name)."""
    return [
        t.make_document([(when, REPORT.format(rid=name))], log_group=f"/aws/lambda/{name}") for name in names
    ]


def poisoned_reports(monkeypatch) -> None:
    """The REPORT parser raises for a request id holding ``poison`` (a parser bug, as the handler
    sees it); every other line is parsed as usual."""
    real = report_module.parse_report

    def parse_report(message):
        if "poison" in message:
            raise RuntimeError("parser bug on purpose")
        return real(message)

    monkeypatch.setattr(report_module, "parse_report", parse_report)


def slow_reports(monkeypatch, clock: FakeClock, seconds: float) -> None:
    """The REPORT parser takes ``seconds`` per REPORT line."""
    real = report_module.parse_report

    def parse_report(message):
        if message.startswith("REPORT"):
            clock.sleep(seconds)
        return real(message)

    monkeypatch.setattr(report_module, "parse_report", parse_report)


def functions_in(emf_text: str) -> list[str]:
    return sorted(d["FunctionName"] for d in emf_documents(emf_text, "Logstream/Lambda"))


def invocations_counted(cw, namespace: str, function: str, when_ms: int) -> float:
    """The sum of the ``Invocations`` metric CloudWatch holds for ``function`` around ``when_ms``."""
    points = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=(when_ms - 120_000) / 1000,
        EndTime=(when_ms + 120_000) / 1000,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


# ------------------------------------------------------------------------------ poison records
def test_given_a_kinesis_record_whose_parsing_raises_then_it_alone_is_dead_lettered_and_the_rest_counted(
    mods, aws, monkeypatch
):
    poisoned_reports(monkeypatch)
    queue = new_queue(aws)
    emf = io.StringIO()
    mod = mods["lambda_metrics"]
    handler = mod.build(config(dead_letter_queue_url=queue), sink=EmfSink("Logstream/Lambda", stream=emf))
    event = t.kinesis_event(report_docs(["f0", "f1", "poison", "f3", "f4"], now_ms()))
    poison = event["Records"][2]

    with log_records(mod.logger) as log:
        answer, own = run(handler, event, Context())

    assert answer == {"batchItemFailures": []}  # dead-lettered and acknowledged, never retried
    assert functions_in(emf.getvalue()) == ["f0", "f1", "f3", "f4"]
    (letter,) = read_queue(aws("sqs"), queue)
    assert_dead_lettered_poison(letter, poison, log, "parser bug")
    assert (own["EventsIn"], own["DecodeErrors"], own["FailedEntries"]) == (5, 1, 0)
    assert own["EventsOut"] == 4 * PER_REPORT


def test_given_a_poisoned_record_when_run_like_the_event_source_mapping_then_each_report_counts_once(
    mods, aws, monkeypatch
):
    poisoned_reports(monkeypatch)
    ns = f"Once/{uuid.uuid4().hex[:8]}"
    queue = new_queue(aws)
    handler = mods["lambda_metrics"].build(
        config(metrics_output="cloudwatch", metrics_namespace=ns, dead_letter_queue_url=queue)
    )
    when = now_ms()
    event = t.kinesis_event(report_docs(["g0", "g1", "poison", "g3"], when))

    with redirect_stdout(io.StringIO()):
        invocations, discarded = run_like_event_source_mapping(handler, event["Records"])

    assert (invocations, discarded) == (1, [])
    for name in ("g0", "g1", "g3"):
        assert invocations_counted(aws("cloudwatch"), ns, name, when) == 1.0, name
    assert [x["data"] for x in read_queue(aws("sqs"), queue)] == [event["Records"][2]["kinesis"]["data"]]


def test_given_an_async_event_whose_document_raises_then_it_is_dead_lettered_and_acknowledged(
    mods, aws, monkeypatch
):
    poisoned_reports(monkeypatch)
    queue = new_queue(aws)
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(
        config(dead_letter_queue_url=queue), sink=EmfSink("Logstream/Lambda", stream=emf)
    )
    event = t.lambda_event(report_docs(["poison"], now_ms())[0])

    answer, own = run(handler, event, Context())

    assert answer == {"reports": 0, "metrics": 0, "dropped": 0, "deadLettered": 1}
    assert emf.getvalue() == ""
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["data"] == event["awslogs"]["data"]
    assert letter["source"] == {"source": "subscription", "step": "process"}
    assert letter["reason"].startswith("process: RuntimeError: parser bug on purpose")
    assert (own["EventsIn"], own["EventsOut"], own["DecodeErrors"]) == (1, 0, 1)


def test_given_an_async_event_of_three_documents_one_raising_then_the_two_are_counted(mods, aws, monkeypatch):
    poisoned_reports(monkeypatch)
    queue = new_queue(aws)
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(
        config(dead_letter_queue_url=queue), sink=EmfSink("Logstream/Lambda", stream=emf)
    )
    docs = report_docs(["one", "poison", "three"], now_ms())

    answer, own = run(handler, {"awslogs": {"data": multi_document_payload(docs)}}, Context())

    assert answer == {"reports": 2, "metrics": 2 * PER_REPORT, "dropped": 0, "deadLettered": 1}
    assert functions_in(emf.getvalue()) == ["one", "three"]
    (letter,) = read_queue(aws("sqs"), queue)
    (stream,) = iter_log_streams(letter["data"])  # the one document, as received
    assert stream.to_document() == docs[1]
    assert letter["reason"].startswith("document 2: process: RuntimeError: parser bug on purpose")
    assert own["DecodeErrors"] == 1


def test_given_a_fluentd_record_whose_parsing_raises_then_it_alone_is_dead_lettered(mods, aws, monkeypatch):
    real = fluentd_module.parse_status

    def parse_status(message):
        if "poison" in message:
            raise KeyError("parser bug on purpose")
        return real(message)

    monkeypatch.setattr(fluentd_module, "parse_status", parse_status)
    queue = new_queue(aws)
    emf = io.StringIO()
    mod = mods["fluentd_metrics"]
    handler = mod.build(config(dead_letter_queue_url=queue), sink=EmfSink("fluentd", stream=emf))
    when = now_ms()
    event = t.kinesis_event(
        [
            t.make_document([(when, f'{{"plugin_id":"{p}","retry_count":1}}')], log_group="/ecs/fluentd")
            for p in ("out_a", "poison", "out_c")
        ]
    )

    with log_records(mod.logger) as log:
        answer, own = run(handler, event, Context())

    assert answer == {"batchItemFailures": []}
    assert sorted(d["PluginId"] for d in emf_documents(emf.getvalue(), "fluentd")) == ["out_a", "out_c"]
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["data"] == event["Records"][1]["kinesis"]["data"]
    assert letter["reason"].startswith("record 2: process: KeyError: 'parser bug on purpose'")
    assert own["DecodeErrors"] == 1
    assert any(r.exc_info and "record 2 (sequenceNumber" in r.getMessage() for r in log)


def test_given_a_timeout_line_and_its_report_in_different_records_then_the_report_is_a_timeout(mods):
    """Each record is processed on its own, yet a report is still marked by a ``Task timed out``
    line anywhere in the batch, as ``logstream report`` marks it across documents."""
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(config(), sink=EmfSink("Logstream/Lambda", stream=emf))
    rid = "5a1b2c3d-0000-4000-8000-000000000001"
    when = now_ms()
    first = t.make_document(
        [(when, f"2024-05-01T12:00:03.003Z {rid} Task timed out after 3.00 seconds\n")],
        log_group="/aws/lambda/slow",
    )
    second = t.make_document([(when + 1, REPORT.format(rid=rid))], log_group="/aws/lambda/slow")
    other = report_docs(["quick"], when)[0]

    answer, _ = run(handler, t.kinesis_event([first, other, second]), Context())

    assert answer == {"batchItemFailures": []}
    timeouts = {d["FunctionName"]: d["Timeout"] for d in emf_documents(emf.getvalue(), "Logstream/Lambda")}
    assert timeouts == {"slow": 1, "quick": 0}


# ---------------------------------------------------------------------------------- deadline
def test_given_a_kinesis_batch_too_slow_to_parse_in_time_then_the_rest_is_reported_and_nothing_twice(
    mods, monkeypatch
):
    clock = FakeClock()
    slow_reports(monkeypatch, clock, 1.5)
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(
        config(), sink=EmfSink("Logstream/Lambda", stream=emf), clock=clock
    )
    names = [f"f{i}" for i in range(10)]
    event = t.kinesis_event(report_docs(names, now_ms()))
    context = Context(10.0, clock=clock)

    answer, own = run(handler, event, context)

    # As the forwarder (README, "Deadline"): 9 s before the margin, 2 s kept for sending, no
    # record started with less time left than the slowest took: 0 -> 1.5 -> 3 -> 4.5 -> 6 s,
    # then 7 - 6 = 1 s < 1.5 s.
    processed = 4
    assert context.elapsed() < 10.0
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs[processed:]]}
    assert functions_in(emf.getvalue()) == names[:processed]  # none of the reported ones
    assert (own["EventsIn"], own["FailedEntries"]) == (10, 10 - processed)


def test_given_a_slow_batch_when_run_like_the_event_source_mapping_then_every_report_counts_once(
    mods, aws, monkeypatch
):
    clock = FakeClock()
    slow_reports(monkeypatch, clock, 1.5)
    ns = f"Slow/{uuid.uuid4().hex[:8]}"
    handler = mods["lambda_metrics"].build(
        config(metrics_output="cloudwatch", metrics_namespace=ns), clock=clock
    )
    when = now_ms()
    names = [f"h{i}" for i in range(10)]
    event = t.kinesis_event(report_docs(names, when))

    with redirect_stdout(io.StringIO()):
        invocations, discarded = run_like_event_source_mapping(
            handler, event["Records"], context=lambda: Context(10.0, clock=clock)
        )

    assert (invocations, discarded) == (3, [])  # 4 + 4 + 2 records
    counted = {name: invocations_counted(aws("cloudwatch"), ns, name, when) for name in names}
    assert counted == {name: 1.0 for name in names}


def test_given_an_async_event_with_no_time_to_process_then_it_raises_and_sends_nothing(mods, monkeypatch):
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(config(), sink=EmfSink("Logstream/Lambda", stream=emf))
    event = t.lambda_event(report_docs(["late"], now_ms())[0])

    answer, own = run(handler, event, Context(0.4))  # less than the 0.5 s safety margin left

    assert isinstance(answer, DeliveryError) and "DeadlineExceeded" in str(answer)
    assert "no metric data sent" in str(answer)
    assert emf.getvalue() == ""  # Lambda's retry counts it once
    assert (own["EventsIn"], own["EventsOut"], own["FailedEntries"]) == (1, 0, 1)


def test_given_an_async_event_partly_processed_in_time_then_the_late_documents_are_dead_lettered(
    mods, aws, monkeypatch
):
    clock = FakeClock()
    slow_reports(monkeypatch, clock, 4.0)
    queue = new_queue(aws)
    emf = io.StringIO()
    handler = mods["lambda_metrics"].build(
        config(dead_letter_queue_url=queue), sink=EmfSink("Logstream/Lambda", stream=emf), clock=clock
    )
    docs = report_docs(["a", "b", "c"], now_ms())
    context = Context(10.0, clock=clock)

    answer, own = run(handler, {"awslogs": {"data": multi_document_payload(docs)}}, context)

    # 0 -> 4 s; then 7 - 4 = 3 s < 4 s: documents 2 and 3 are not processed. Document 1's
    # metrics went out, so raising (Lambda retries the whole event) would count it twice.
    assert context.elapsed() < 10.0
    assert answer == {"reports": 1, "metrics": PER_REPORT, "dropped": 0, "deadLettered": 2}
    assert functions_in(emf.getvalue()) == ["a"]
    letters = read_queue(aws("sqs"), queue)
    assert sorted(next(iter(iter_log_streams(x["data"]))).log_group for x in letters) == [
        "/aws/lambda/b",
        "/aws/lambda/c",
    ]
    assert all(x["source"] == {"source": "subscription", "step": "deadline"} for x in letters)
    assert sorted(x["reason"].split(" (")[0] for x in letters) == [
        "document 2: deadline: not processed before the deadline",
        "document 3: deadline: not processed before the deadline",
    ]
    assert own["FailedEntries"] == 2
    assert json.dumps(answer)  # the answer stays plain JSON
