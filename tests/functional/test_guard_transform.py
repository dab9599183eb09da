"""The Firehose transformation when processing fails or runs late: a record whose processing
raises is answered ProcessingFailed with its data while the others get Ok, and records not
processed before the deadline are answered ProcessingFailed instead of the invocation timing out.

A failing or slow stage is the real stage with a monkeypatched wrapper; time is a clock whose
sleeps pass at once.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from contextlib import redirect_stdout

import pytest

import handlers._transform as transform_module
import logstream.process.pipeline as pipeline_module
from handlers._config import Config
from logstream import testing as t
from tests.functional.test_forward_failures import log_records, poisoned_redaction
from tests.functional.wire import SELF_NAMESPACE, emf_documents
from tests.lambda_sim import Context, FakeClock

SELF = "/aws/lambda/logstream-self"


@pytest.fixture(scope="module")
def transform(handler_modules):
    return handler_modules["firehose_transform"]


def config(env: dict | None = None) -> Config:
    return Config.load({"AWS_REGION": "us-east-1", **(env or {})}, skip_log_groups=frozenset({SELF}))


def run(handler, event, context):
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(event, context)
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, own


def messages(answer: dict) -> list[str]:
    return [
        json.loads(line)["message"]
        for r in answer["records"]
        if r["result"] == "Ok"
        for line in base64.b64decode(r["data"]).splitlines()
    ]


@pytest.mark.parametrize("where", ["a pipeline stage", "event lines (no pipeline)"])
def test_given_a_record_whose_processing_raises_then_it_alone_is_processing_failed_with_its_data(
    transform, monkeypatch, where
):
    if where == "a pipeline stage":
        poisoned_redaction(monkeypatch)
        env = {"REDACT": "email"}
    else:
        real_lines = transform_module.event_lines

        def event_lines(stream, *args):
            if any("poison" in e.message for e in stream.log_events):
                raise RuntimeError("stage bug on purpose")
            return real_lines(stream, *args)

        monkeypatch.setattr(transform_module, "event_lines", event_lines)
        env = {}
    handler = transform.build(config(env))
    docs = [t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(["one", "poison", "three"])]
    event = t.firehose_event(docs)
    poison = event["records"][1]

    with log_records(transform.logger) as log:
        answer, own = run(handler, event, Context())

    assert [r["recordId"] for r in answer["records"]] == [r["recordId"] for r in event["records"]]
    assert [r["result"] for r in answer["records"]] == ["Ok", "ProcessingFailed", "Ok"]
    assert answer["records"][1]["data"] == poison["data"]  # as received
    assert messages(answer) == ["one", "three"]
    assert (own["EventsOut"], own["DecodeErrors"], own["FailedEntries"]) == (2, 1, 0)
    (logged,) = [r for r in log if r.exc_info]
    assert logged.levelname == "ERROR" and isinstance(logged.exc_info[1], RuntimeError)
    assert (
        f"record 2 (recordId {poison['recordId']}): processing raised RuntimeError: stage bug"
        in logged.getMessage()
    )


def test_given_records_too_slow_to_process_in_time_then_the_rest_is_processing_failed_before_the_deadline(
    transform, monkeypatch
):
    clock = FakeClock()
    real = pipeline_module.redact_events

    def redact_events(events, redactor):
        clock.sleep(1.5)
        return real(events, redactor)

    monkeypatch.setattr(pipeline_module, "redact_events", redact_events)
    handler = transform.build(config({"REDACT": "email"}), clock=clock)
    event = t.firehose_event([t.make_document([f"m{i}"], log_stream=f"s{i}") for i in range(10)])
    context = Context(10.0, clock=clock)

    std = logging.getLogger(transform.logger.name)  # an earlier import may have set ERROR
    level = std.level
    std.setLevel(logging.INFO)
    try:
        with log_records(transform.logger) as log:
            answer, own = run(handler, event, context)
    finally:
        std.setLevel(level)

    # The forwarder's rule (README, "Deadline"): 0 -> 1.5 -> 3 -> 4.5 -> 6 s, then 7 - 6 = 1 s
    # < 1.5 s: records 5-10 are not processed.
    processed = 4
    assert context.elapsed() < 10.0
    assert [r["result"] for r in answer["records"]] == ["Ok"] * processed + ["ProcessingFailed"] * 6
    assert [r["data"] for r in answer["records"][processed:]] == [
        r["data"] for r in event["records"][processed:]
    ]
    assert messages(answer) == [f"m{i}" for i in range(processed)]
    assert (own["EventsOut"], own["FailedEntries"]) == (processed, 6)
    assert any("records 5-10 (6) not processed before the deadline" in r.getMessage() for r in log)


def test_given_an_undecodable_record_then_its_processing_failed_answer_holds_its_data(transform):
    handler = transform.build(config())
    event = t.firehose_event([t.make_document(["good"])])
    event["records"].append({"recordId": "bad", "approximateArrivalTimestamp": 0, "data": "%%%"})

    answer, own = run(handler, event, Context())

    assert answer["records"][1] == {"recordId": "bad", "result": "ProcessingFailed", "data": "%%%"}
    assert own["DecodeErrors"] == 1
