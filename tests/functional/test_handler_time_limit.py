"""The forwarder and the Firehose transformation when one unit's processing alone would outlast
the invocation: a catastrophic user regex (``REDACT_PATTERNS`` in the pipeline) meeting a
hostile line. The metrics handlers run no user pattern and arm no alarm (their units are only
paced). The unit is interrupted when the time for processing runs out: the cause (it had
nearly all that time) is dead-lettered or answered ProcessingFailed with its data as received,
a unit that started late is reported for retry, and the rest of the batch is answered before
the deadline.

The alarm is real (SIGALRM) and so is the regex, which would run for hours; deadlines are about
a second. A unit that took long but ended is a stage that moves a clock forward; where the
handler must see the hostile unit start with all its time whatever the machine's load, its
clock moves only that way (StageClock). Kinesis and SQS are moto's server over HTTP where the
forwarder sends.
"""

from __future__ import annotations

import base64
import io
import json
import signal
import time
from contextlib import redirect_stdout

import pytest

import logstream.parsers.lambda_report as report_module
import logstream.process.pipeline as pipeline_module
from handlers._config import Config
from handlers._pace import TimeLimit
from logstream import iter_log_streams
from logstream import testing as t
from logstream.sinks import EmfSink
from tests.functional.test_forward_failures import log_records, messages_in, slow_redaction
from tests.functional.wire import (
    ACCOUNT,
    SELF_NAMESPACE,
    emf_documents,
    new_queue,
    new_stream,
    read_queue,
    stream_records,
)
from tests.lambda_sim import Context, FakeClock, run_like_event_source_mapping

SELF = "/aws/lambda/logstream-self"
CATASTROPHIC = r"(a+)+$"  # backtracks 2**n times on n a's not followed by the end
HOSTILE = "a" * 64 + "!"
REPORT = (
    "REPORT RequestId: {rid}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 64 MB\t\n"
)


@pytest.fixture(scope="module")
def mods(handler_modules):
    return handler_modules


class StageClock(FakeClock):
    """The handlers' clock, still but for the time a stage says it took (``sleep``). The alarm
    that interrupts a unit stays real: set for the time the handler had, it goes off when that
    has passed for real."""

    def __init__(self) -> None:
        super().__init__()
        self.start = time.monotonic()

    def __call__(self) -> float:
        return self.start + self.slept


def config(env: dict | None = None, **kw) -> Config:
    return Config.load({"AWS_REGION": "us-east-1", **(env or {})}, skip_log_groups=frozenset({SELF}), **kw)


def run(handler, event, context):
    """Invoke; the answer, what was printed and the self-metrics document."""
    out = io.StringIO()
    with redirect_stdout(out):
        answer = handler(event, context)
    (own,) = emf_documents(out.getvalue(), SELF_NAMESPACE)
    return answer, out.getvalue(), own


def logged_dead_letters(log) -> list[dict]:
    """The dead letters the handler logged with their data (no queue took them)."""
    return [json.loads(r.deadLetterBody) for r in log if hasattr(r, "deadLetterBody")]


# -------------------------------------------------------------------- Firehose transformation
def transform_answer(mods, event, clock=None, context=None):
    transform = mods["firehose_transform"]
    handler = transform.build(
        config({"REDACT_PATTERNS": CATASTROPHIC}), **({"clock": clock} if clock else {})
    )
    with log_records(transform.logger) as log:
        answer, _, own = run(handler, event, context)
    return answer, own, log


def test_given_a_record_that_would_outlast_the_invocation_then_the_transform_fails_it_with_its_data_in_time(
    mods,
):
    event = t.firehose_event(
        [t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(["one", HOSTILE, "3"])]
    )
    clock = StageClock()
    context = Context(1.0, clock=clock)  # 0.5 s to the deadline (the margin), 0.25 s of it for processing

    began = time.monotonic()
    answer, own, log = transform_answer(mods, event, clock=clock, context=context)

    assert time.monotonic() - began < 1.0
    assert [r["result"] for r in answer["records"]] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert [r["data"] for r in answer["records"][1:]] == [r["data"] for r in event["records"][1:]]
    lines = [json.loads(x) for x in base64.b64decode(answer["records"][0]["data"]).splitlines()]
    assert [x["message"] for x in lines] == ["one"]
    # record 2 is the cause (counted as a record whose processing raised), record 3 was not reached
    assert (own["EventsOut"], own["DecodeErrors"], own["FailedEntries"]) == (1, 1, 1)
    (logged,) = [r for r in log if r.exc_info]
    assert isinstance(logged.exc_info[1], TimeLimit) and logged.step == "time limit"
    rid = event["records"][1]["recordId"]
    assert f"record 2 (recordId {rid}): time limit: processing still running after" in logged.getMessage()


def test_given_a_record_interrupted_after_a_slow_one_then_it_is_failed_as_not_processed_in_time(
    mods, monkeypatch
):
    clock = StageClock()
    slow_redaction(monkeypatch, clock, 0.1, "slow")  # of the 0.25 s for processing: the next starts with 60%
    docs = [t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(["slow", HOSTILE, "3"])]
    event = t.firehose_event(docs)

    answer, own, log = transform_answer(mods, event, clock=clock, context=Context(1.0, clock=clock))

    assert [r["result"] for r in answer["records"]] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert (own["DecodeErrors"], own["FailedEntries"]) == (0, 2)
    assert not [r for r in log if r.exc_info]


# ---------------------------------------------------------------------------- metrics handler
def timer_watch(monkeypatch) -> list[float]:
    """The REPORT parser notes the real-time timer's seconds left each time it runs."""
    real = report_module.parse_report
    seen: list[float] = []

    def parse_report(message):
        seen.append(signal.getitimer(signal.ITIMER_REAL)[0])
        return real(message)

    monkeypatch.setattr(report_module, "parse_report", parse_report)
    return seen


def report_event(names: list[str]) -> dict:
    """A Kinesis batch, one record per request id, each a REPORT line of a minute ago (metric
    data older than two weeks is dropped) from the function ``f<index>``."""
    when = int(time.time() * 1000) - 60_000
    return t.kinesis_event(
        [
            t.make_document([(when, REPORT.format(rid=n))], log_group=f"/aws/lambda/f{i}")
            for i, n in enumerate(names)
        ]
    )


def test_given_the_metrics_handler_then_no_alarm_is_armed_and_its_records_are_only_paced(mods, monkeypatch):
    """The metrics handlers run nothing user-supplied, only logstream's parsers (linear in
    their input): no time limit, which would cost every invocation the alarm's arming."""
    seen = timer_watch(monkeypatch)
    mod = mods["lambda_metrics"]
    emf = io.StringIO()
    handler = mod.build(config(), sink=EmfSink("Logstream/Lambda", stream=emf))
    event = report_event(["one", "two", "three"])
    before = signal.getitimer(signal.ITIMER_REAL)[0]  # the test runner's own timer, or none (0)

    answer, _, own = run(handler, event, Context(30.0))

    assert answer == {"batchItemFailures": []}
    assert len(seen) == 3 and all(abs(left - before) < 5 for left in seen)  # only the runner's timer
    functions = [d["FunctionName"] for d in emf_documents(emf.getvalue(), "Logstream/Lambda")]
    assert functions == ["f0", "f1", "f2"]
    assert (own["DecodeErrors"], own["FailedEntries"]) == (0, 0)


def test_given_the_forwarder_then_the_alarm_is_armed_while_it_processes(mods, aws, monkeypatch):
    """The contrast: the forwarder runs user patterns, so its processing runs under the alarm
    (set for when the time for processing ends: about 25 s into a 30 s invocation)."""
    seen: list[float] = []
    real = pipeline_module.redact_events

    def redact_events(events, redactor):
        seen.append(signal.getitimer(signal.ITIMER_REAL)[0])
        return real(events, redactor)

    monkeypatch.setattr(pipeline_module, "redact_events", redact_events)
    name, arn = new_stream(aws)
    handler = mods["forward"].build(config({"REDACT": "email"}, destination_arn=arn))
    event = t.lambda_event(t.make_document(["mail bob@example.org\n"]))
    before = signal.getitimer(signal.ITIMER_REAL)[0]  # the test runner's own timer, or none (0)

    answer, _, _ = run(handler, event, Context(30.0))

    assert answer["delivered"] == 1
    assert messages_in(stream_records(aws("kinesis"), name)) == ["mail [REDACTED:email]\n"]
    assert len(seen) == 1 and 20.0 < seen[0] < 28.0  # armed, to go off before the deadline
    assert abs(signal.getitimer(signal.ITIMER_REAL)[0] - before) < 5  # ours disarmed, theirs back


# -------------------------------------------------------------------------------- forwarder
def test_given_an_async_event_whose_document_would_outlast_the_invocation_then_it_is_dead_lettered(mods):
    mod = mods["forward"]
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/unused"  # nothing to send
    handler = mod.build(config({"REDACT_PATTERNS": CATASTROPHIC}, destination_arn=arn))
    event = t.lambda_event(t.make_document([f"x {HOSTILE}"]))
    context = Context(1.0)

    with log_records(mod.logger) as log:
        answer, _, own = run(handler, event, context)

    assert context.elapsed() < 1.0
    assert answer == {"delivered": 0, "requests": 0, "deadLettered": 1}  # acknowledged, not retried
    (letter,) = logged_dead_letters(log)
    assert letter["data"] == event["awslogs"]["data"]
    assert letter["source"] == {"source": "subscription", "step": "time limit"}
    assert letter["reason"].startswith("time limit: processing still running after")
    assert own["DecodeErrors"] == 1


def test_given_a_poisoned_kinesis_record_when_run_like_the_event_source_mapping_then_the_rest_arrives_once(
    mods, aws, monkeypatch
):
    clock = FakeClock()
    slow_redaction(monkeypatch, clock, 0.3, "slow")  # of 2 s for processing: the next starts with 85% left
    name, arn = new_stream(aws)
    queue = new_queue(aws)
    mod = mods["forward"]
    handler = mod.build(
        config({"REDACT_PATTERNS": CATASTROPHIC}, destination_arn=arn, dead_letter_queue_url=queue),
        clock=clock,
    )
    messages = ["slow one", f"poison {HOSTILE}", "three"]
    event = t.kinesis_event([t.make_document([m], log_stream=f"s{i}") for i, m in enumerate(messages)])
    answers = []

    def invoke(batch, context):
        answers.append(handler(batch, context))
        return answers[-1]

    with redirect_stdout(io.StringIO()):
        # 4.5 s: 4 s to the deadline, 2 s of it for processing, 2 s kept for sending
        invocations, discarded = run_like_event_source_mapping(
            invoke, event["Records"], context=lambda: Context(4.5, clock=clock)
        )

    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert (invocations, discarded) == (3, [])
    assert answers == [
        {"batchItemFailures": [{"itemIdentifier": seqs[1]}, {"itemIdentifier": seqs[2]}]},  # retried
        {"batchItemFailures": [{"itemIdentifier": seqs[2]}]},  # the cause, dead-lettered
        {"batchItemFailures": []},
    ]
    assert messages_in(stream_records(aws("kinesis"), name)) == ["slow one", "three"]  # once each
    (letter,) = read_queue(aws("sqs"), queue)
    assert letter["data"] == event["Records"][1]["kinesis"]["data"]  # as received
    assert letter["source"] == {
        "eventSourceARN": event["Records"][1]["eventSourceARN"],
        "sequenceNumber": seqs[1],
        "partitionKey": event["Records"][1]["kinesis"]["partitionKey"],
        "step": "time limit",
    }
    assert letter["reason"].startswith("record 1: time limit: processing still running after")
    assert [e.message for s in iter_log_streams(letter["data"]) for e in s.log_events] == [messages[1]]
