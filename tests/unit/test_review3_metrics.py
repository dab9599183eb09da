"""Third review of the metrics, as an operator comparing them with Lambda's console, the
AWS/Lambda namespace, the bill and fluentd's monitor_agent: every expected value is written
out by hand from the line it comes from.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from handlers._config import Config
from logstream import testing as t
from logstream.metrics import fluentd_data, report_data
from logstream.models import LogEvent, LogStream, MessageType
from logstream.parsers.fluentd import parse_status
from logstream.parsers.lambda_report import iter_reports, parse_report
from logstream.sinks import EmfSink
from tests.lambda_sim import Context

GROUP = "/aws/lambda/checkout"
STREAM = "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef"
T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def _stream(events: list[tuple[str, int, str]], stream: str = STREAM) -> LogStream:
    """A document of ``(id, timestamp, message)`` events."""
    return LogStream(
        MessageType.DATA_MESSAGE,
        "123456789012",
        GROUP,
        stream,
        ("f",),
        tuple(LogEvent(i, ts, m) for i, ts, m in events),
    )


def _by_name(report) -> dict[str, float]:
    return {d.name: d.value for d in report_data(report)}


# ------------------------------------------------------- a report line's own status is enough
@pytest.mark.parametrize(
    ("line", "timeout", "oom"),
    [
        (
            "REPORT RequestId: t1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 60 MB\tStatus: timeout",
            1,
            0,
        ),
        (
            "REPORT RequestId: o1\tDuration: 812.40 ms\tBilled Duration: 813 ms\tMemory Size: 256 MB\t"
            "Max Memory Used: 200 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
            0,
            1,
        ),
        (
            '{"time":"2025-11-24T16:00:03.000Z","type":"platform.report","record":{"requestId":"t2",'
            '"metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":60},'
            '"status":"timeout"}}',
            1,
            0,
        ),
        (
            '{"time":"2025-11-24T16:00:04.000Z","type":"platform.report","record":{"requestId":"o2",'
            '"metrics":{"durationMs":812.4,"billedDurationMs":813,"memorySizeMB":256,"maxMemoryUsedMB":200},'
            '"status":"error","errorType":"Runtime.OutOfMemory"}}',
            0,
            1,
        ),
    ],
)
def test_given_one_line_saying_timeout_or_oom_when_parsed_alone_then_its_metrics_say_so(line, timeout, oom):
    """``parse_report`` is public: ``report_data(parse_report(line))`` gave Timeout 0 and
    OutOfMemory 0 for a line saying ``Status: timeout`` or ``Runtime.OutOfMemory`` (only
    ``iter_reports`` set the flags), and ``to_dict()`` wrote ``"status": "timeout", "timeout": false``."""
    r = parse_report(line)
    assert (r.timeout, r.out_of_memory) == (bool(timeout), bool(oom))
    data = _by_name(r)
    assert (data["Invocations"], data["Timeout"], data["OutOfMemory"]) == (1, timeout, oom)
    assert (r.to_dict()["timeout"], r.to_dict()["outOfMemory"]) == (bool(timeout), bool(oom))


def test_given_a_report_without_status_when_parsed_alone_then_neither_timeout_nor_oom():
    r = parse_report(
        "REPORT RequestId: ok\tDuration: 9.14 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.ExitError"
    )
    # a single line cannot say more: the memory-full heuristic needs the batch (iter_reports)
    assert (r.timeout, r.out_of_memory, r.status, r.error_type) == (
        False,
        False,
        "error",
        "Runtime.ExitError",
    )


# ------------------------------------------------------------------ fluentd: every key's unit
# fluentd-docs-gitbook input/monitor_agent.md, the single-plugin example (corpus line 2), as a v1
# stdout line shipped by Docker's awslogs driver
OUT_ES = (
    "2025-05-29 16:05:40.123456789 +0900 monitor.metrics: "
    '{"plugin_id":"out_es","plugin_category":"output","type":"elasticsearch","output_plugin":true,'
    '"buffer_queue_length":1,"buffer_timekeys":[],"buffer_total_queued_size":117,"retry_count":4,'
    '"emit_records":1,"emit_size":0,"emit_count":1,"write_count":4,"write_secondary_count":0,'
    '"rollback_count":4,"slow_flush_count":0,"flush_time_count":1530,"drop_oldest_chunk_count":0,'
    '"buffer_stage_length":0,"buffer_stage_byte_size":0,"buffer_queue_byte_size":117,'
    '"buffer_available_buffer_space_ratios":100.0,'
    '"retry":{"start":"2025-05-29 16:05:36 +0900","steps":3,"next_time":"2025-05-29 16:05:52 +0900"}}'
)


def test_given_a_full_v1_status_line_then_every_counter_with_fluentds_meaning_as_its_unit():
    """fluentd's ``flush_time_count`` is the total time spent flushing, in milliseconds (fluentd
    1.6+, as fluent-plugin-prometheus documents its fluentd_output_status_flush_time_count); it
    was sent with unit Count."""
    (status,) = parse_status(OUT_ES)
    dims = (("PluginId", "out_es"),)
    ts = 1_748_502_340_123  # 2025-05-29T07:05:40.123Z
    got = {d.name: (d.value, d.unit, d.timestamp, d.dimensions) for d in fluentd_data(status)}
    want = {
        "buffer_queue_length": (1, "Count"),
        "buffer_total_queued_size": (117, "Bytes"),
        "retry_count": (4, "Count"),
        "emit_records": (1, "Count"),
        "emit_size": (0, "Bytes"),
        "emit_count": (1, "Count"),
        "write_count": (4, "Count"),
        "write_secondary_count": (0, "Count"),
        "rollback_count": (4, "Count"),
        "slow_flush_count": (0, "Count"),
        "flush_time_count": (1530, "Milliseconds"),
        "drop_oldest_chunk_count": (0, "Count"),
        "buffer_stage_length": (0, "Count"),
        "buffer_stage_byte_size": (0, "Bytes"),
        "buffer_queue_byte_size": (117, "Bytes"),
        "buffer_available_buffer_space_ratios": (100.0, "Percent"),
    }
    assert got == {k: (v, u, ts, dims) for k, (v, u) in want.items()}


# --------------------------------------------------------------------------- nothing twice
RID = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
OLD_TIMEOUT_REPORT = (  # a report of before "Status: timeout" was printed: the line says nothing
    f"REPORT RequestId: {RID}\tDuration: 3003.16 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 48 MB\t\n"
)
RETRY_REPORT = (
    f"REPORT RequestId: {RID}\tDuration: 812.50 ms\tBilled Duration: 813 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 50 MB\t\n"
)
TIMED_OUT = f"2025-11-24T16:00:03.003Z {RID} Task timed out after 3.00 seconds\n"
KILLED = f"RequestId: {RID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n"


def test_given_the_same_event_delivered_twice_in_a_batch_then_one_invocation():
    """A Kinesis record written twice, or two subscription filters of one group into one
    stream: the same CloudWatch event (id, time, message) twice is one invocation, billed once."""
    doc = [(f"{T0 + 3004:020d}1", T0 + 3004, OLD_TIMEOUT_REPORT)]
    reports = list(iter_reports([_stream(doc), _stream(doc)]))
    assert [(r.request_id, r.duration_ms) for r in reports] == [(RID, 3003.16)]


def test_given_an_async_retry_with_the_same_request_id_then_each_attempt_counts():
    """Lambda's retries of an asynchronous invocation keep the request id: two REPORT events,
    two invocations, both billed (3000 ms + 813 ms at 128 MB)."""
    reports = list(
        iter_reports(
            _stream(
                [
                    ("1", T0 + 3004, OLD_TIMEOUT_REPORT),
                    ("2", T0 + 64_000, RETRY_REPORT),  # a minute later, as Lambda retries
                ]
            )
        )
    )
    assert [r.billed_duration_ms for r in reports] == [3000.0, 813.0]


@pytest.mark.parametrize(
    ("marker", "timeouts", "ooms"),
    [(TIMED_OUT, [True, False], [False, False]), (KILLED, [False, False], [True, False])],
)
def test_given_a_retry_after_a_timeout_then_only_the_attempt_that_timed_out_is_marked(marker, timeouts, ooms):
    """The Task timed out (or signal: killed) line is written next to its REPORT (before or
    after it by a millisecond, as in the corpus); the retry a minute later with the same request
    id succeeded: it was counted as a timeout (or OOM) too."""
    events = [
        ("1", T0 + 3003, marker),
        ("2", T0 + 3004, OLD_TIMEOUT_REPORT),
        ("3", T0 + 64_000, RETRY_REPORT),
    ]
    for order in (events, [events[1], events[0], events[2]]):
        reports = list(iter_reports(_stream(order)))
        assert [r.timeout for r in reports] == timeouts
        assert [r.out_of_memory for r in reports] == ooms
    # plain log lines (no time): the line marks the report next to it
    plain = [("", 0, m) for _, _, m in events]
    assert [r.timeout for r in iter_reports(_stream(plain))] == timeouts


# ------------------------------------------------- the handler: a batch processed unit by unit
@pytest.fixture(scope="module")
def lambda_metrics(handler_modules):
    return handler_modules["lambda_metrics"]


def _run_kinesis(module, documents: list[dict]) -> list[dict]:
    """The Lambda metrics handler on a Kinesis batch of ``documents``: its EMF documents."""
    emf = io.StringIO()
    sink = EmfSink("Logstream/Lambda", stream=emf, clock=lambda: T0 / 1000 + 120)
    config = Config.load({"AWS_REGION": "us-east-1"}, skip_log_groups=frozenset(), self_metrics=False)
    handler = module.build(config, sink=sink)
    with redirect_stdout(io.StringIO()):
        assert handler(t.kinesis_event(documents), Context()) == {"batchItemFailures": []}
    return [json.loads(line) for line in emf.getvalue().splitlines()]


def _values(docs: list[dict], metric: str) -> list[tuple[int, float]]:
    """(minute, value) of every sample of ``metric``."""
    out = []
    for d in docs:
        if metric in d:
            vals = d[metric] if isinstance(d[metric], list) else [d[metric]]
            out += [(d["_aws"]["Timestamp"], v) for v in vals]
    return sorted(out)


def test_given_a_kinesis_record_written_twice_then_its_report_counts_once(lambda_metrics):
    doc = t.make_document([(T0 + 3004, RETRY_REPORT)], log_group=GROUP, log_stream=STREAM)
    other = t.make_document([(T0 + 3004, RETRY_REPORT.replace(RID, "other"))], log_group="/aws/lambda/other")
    docs = _run_kinesis(lambda_metrics, [doc, other, doc])
    by_function = {}
    for d in docs:
        by_function.setdefault(d["FunctionName"], []).extend(_values([d], "Invocations"))
    assert by_function == {"checkout": [(T0, 1.0)], "other": [(T0, 1.0)]}
    assert _values([d for d in docs if d["FunctionName"] == "checkout"], "BilledDuration") == [(T0, 813.0)]


def test_given_a_retry_after_a_timeout_in_other_records_then_only_the_attempt_that_timed_out(lambda_metrics):
    """Each Kinesis record is processed on its own; the Task timed out line (record 1) marks
    the report next to it (record 2), not the retry a minute later (record 3)."""
    docs = _run_kinesis(
        lambda_metrics,
        [
            t.make_document([(T0 + 3003, TIMED_OUT)], log_group=GROUP, log_stream=STREAM),
            t.make_document([(T0 + 3004, OLD_TIMEOUT_REPORT)], log_group=GROUP, log_stream=STREAM),
            t.make_document([(T0 + 64_000, RETRY_REPORT)], log_group=GROUP, log_stream=STREAM),
        ],
    )
    assert _values(docs, "Timeout") == [(T0, 1.0), (T0 + 60_000, 0.0)]
    assert _values(docs, "Invocations") == [(T0, 1.0), (T0 + 60_000, 1.0)]


# ------------------------------------------------------------------- custom log groups
def test_given_two_functions_sharing_a_custom_log_group_then_each_has_its_own_metrics():
    """A custom log group may take several functions' logs; Lambda names each stream
    ``YYYY/MM/DD/<function_name>[<version>]<environment id>``. Both functions were counted
    under FunctionName = the log group's name, their durations and costs mixed."""

    def doc(stream: str, rid: str, billed: int) -> LogStream:
        line = (
            f"REPORT RequestId: {rid}\tDuration: {billed - 0.5:.2f} ms\tBilled Duration: {billed} ms\t"
            "Memory Size: 1024 MB\tMax Memory Used: 90 MB\t\n"
        )
        events = (LogEvent(rid, T0, line),)
        return LogStream(MessageType.DATA_MESSAGE, "123456789012", "/myapp/lambda", stream, ("f",), events)

    reports = list(
        iter_reports(
            [
                doc("2025/11/24/checkout[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0", "a", 1000),
                doc("2025/11/24/billing-v2[7]a5b4c3d2e1f00f1e2d3c4b5a69788796", "b", 2000),
            ]
        )
    )
    assert [(r.function_name, r.function_version, r.log_group) for r in reports] == [
        ("checkout", "$LATEST", "/myapp/lambda"),
        ("billing-v2", "7", "/myapp/lambda"),
    ]
    dims = [{d.dimensions for d in report_data(r)} for r in reports]
    assert dims == [{(("FunctionName", "checkout"),)}, {(("FunctionName", "billing-v2"),)}]
    # the usual group and stream: the name from the group, as before
    (r,) = iter_reports(_stream([("1", T0, RETRY_REPORT)]))
    assert (r.function_name, r.function_version) == ("checkout", "$LATEST")
