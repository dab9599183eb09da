"""Second review of the REPORT parser, the Lambda metrics and `report --summary`: real report
shapes (text and JSON log formats, SnapStart, timeouts, OOM, X-Ray, INIT_REPORT), the cost
arithmetic done by hand, nearest-rank percentiles on small counts and ties, nothing counted twice.
"""

from __future__ import annotations

import math

import pytest

from logstream.metrics import Pricing, estimated_cost, report_data
from logstream.models import LogEvent, LogStream, MessageType
from logstream.parsers.lambda_report import InvocationReport, iter_reports, parse_report
from logstream.summary import FunctionSummary, Summary

# A SnapStart restore as Lambda printed it (SAM CLI's `sam logs` documentation, 2023):
# Duration 306.34 + Billed Restore Duration 303 = 609.34 -> Billed Duration 610: the billed
# restore is already inside Billed Duration (three more real lines agree: 149.53 + 163 -> 313,
# 2338.66 + 182 -> 2521, 127.10 + 26 -> 154).
SNAPSTART = (
    "REPORT RequestId: b771fecc-1b53-4faf-922d-1d74357b1676\tDuration: 306.34 ms\tBilled Duration: 610 ms\t"
    "Memory Size: 3009 MB\tMax Memory Used: 155 MB\tRestore Duration: 511.25 ms\t"
    "Billed Restore Duration: 303 ms\t"
)
# The same shape with spaces, X-Ray on the same line (a Logs Insights copy, 2024)
SNAPSTART_SPACES = (
    "REPORT RequestId: 24addd09-6e64-49fb-b187-94ba9b60b59a Duration: 127.10 ms Billed Duration: 154 ms "
    "Memory Size: 2048 MB Max Memory Used: 212 MB Restore Duration: 325.93 ms Billed Restore Duration: 26 ms "
    "XRAY TraceId: 1-66d978e5-56c7378e556e94b5461da07c SegmentId: 29c3839e6ecb5895 Sampled: true"
)


def _stream(messages: list[str], group: str = "/aws/lambda/checkout") -> LogStream:
    events = tuple(LogEvent(str(i), 1_700_000_000_000 + i, m) for i, m in enumerate(messages))
    return LogStream(MessageType.DATA_MESSAGE, "1", group, "2026/11/23/[$LATEST]abc", ("f",), events)


# ----------------------------------------------------------------------------- cost by hand
def test_given_a_snapstart_report_then_cost_is_billed_duration_only_never_plus_billed_restore():
    r = parse_report(SNAPSTART)
    assert (r.billed_duration_ms, r.billed_restore_duration_ms, r.restore_duration_ms) == (
        610.0,
        303.0,
        511.25,
    )
    # 0.610 s x 3009/1024 GB x $0.0000166667 + $0.0000002 = $0.00003007457146777...
    assert estimated_cost(r) == pytest.approx(0.0000300745714677734375, rel=1e-12)
    assert r.cold_start and r.snap_start_restore and r.init_duration_ms is None


def test_given_the_spaced_snapstart_line_with_xray_then_every_field():
    r = parse_report(SNAPSTART_SPACES)
    assert (r.duration_ms, r.billed_duration_ms, r.memory_size_mb, r.max_memory_used_mb) == (
        127.1,
        154.0,
        2048,
        212,
    )
    assert (r.restore_duration_ms, r.billed_restore_duration_ms) == (325.93, 26.0)
    assert r.xray_trace_id == "1-66d978e5-56c7378e556e94b5461da07c"
    # 0.154 s x 2 GB x $0.0000166667 + $0.0000002 = $0.0000053333436
    assert estimated_cost(r) == pytest.approx(0.0000053333436, rel=1e-12)


def test_given_arm64_then_the_arm_price_per_gb_second():
    r = parse_report(
        "REPORT RequestId: 1\tDuration: 1999.01 ms\tBilled Duration: 2000 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 80 MB\t"
    )
    # 2 s x 0.5 GB x $0.0000133334 + $0.0000002 = $0.0000135334
    assert estimated_cost(r, Pricing(architecture="arm64")) == pytest.approx(0.0000135334, rel=1e-12)
    # a price of your own (another region, a Savings Plan) replaces the table's: 2 x 0.5 x 0.00001 + 0.0000002
    assert estimated_cost(r, Pricing(price_per_gb_second=0.00001)) == pytest.approx(0.0000102, rel=1e-12)


def test_given_three_invocations_then_the_summary_cost_is_their_sum():
    lines = [
        "REPORT RequestId: a\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 100 MB\t",
        "REPORT RequestId: b\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 100 MB\tStatus: timeout",
        "REPORT RequestId: c\tDuration: 2.00 ms\tBilled Duration: 250 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 100 MB\t"
        "Init Duration: 247.51 ms\t",
    ]
    summary = Summary().update(iter_reports(_stream(lines)))
    (row,) = summary.rows()
    # (0.1 + 3.0 + 0.25) s x 1 GB x $0.0000166667 + 3 x $0.0000002 = $0.00005643344
    assert row[0] == "checkout" and row[-1] == "0.00005643"
    assert summary.functions["checkout"].cost == pytest.approx(0.000056433445, rel=1e-12)
    assert (row[7], row[8], row[9]) == ("1", "1", "0")  # cold, timeouts, OOMs


# ------------------------------------------------------------------------ every real shape
def test_given_json_log_format_timeout_and_oom_then_flags_and_no_made_up_fields():
    timeout = (
        '{"time":"2026-11-23T10:00:03.000Z","type":"platform.report","record":{"requestId":"t",'
        '"metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":60},'
        '"status":"timeout"}}'
    )
    oom = (
        '{"time":"2026-11-23T10:00:04.000Z","type":"platform.report","record":{"requestId":"o",'
        '"metrics":{"durationMs":812.4,"billedDurationMs":813,"memorySizeMB":128,"maxMemoryUsedMB":128},'
        '"tracing":{"spanId":"0a1b","type":"X-Amzn-Trace-Id","value":"Root=1-6565a2ad-5d2e;Parent=0a1b;Sampled=1"},'
        '"status":"error","errorType":"Runtime.OutOfMemory"}}'
    )
    t, o = iter_reports(_stream([timeout, oom]))
    assert (t.timeout, t.out_of_memory, t.status, t.cold_start) == (True, False, "timeout", False)
    assert (o.timeout, o.out_of_memory, o.error_type, o.xray_trace_id) == (
        False,
        True,
        "Runtime.OutOfMemory",
        "1-6565a2ad-5d2e",
    )
    assert o.init_duration_ms is None and o.restore_duration_ms is None


@pytest.mark.parametrize(
    "line",
    [
        "INIT_REPORT Init Duration: 10003.52 ms\tPhase: init\tStatus: timeout",
        "INIT_REPORT Init Duration: 402.61 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError",
        "RESTORE_REPORT Restore Duration: 10000.00 ms\tStatus: timeout",
        '{"time":"2026-11-23T10:00:00.000Z","type":"platform.initReport","record":{"initializationType":"on-demand",'
        '"phase":"init","status":"timeout","metrics":{"durationMs":10003.52}}}',
        '{"time":"2026-11-23T10:00:00.000Z","type":"platform.restoreReport","record":{"status":"success",'
        '"metrics":{"durationMs":511.25}}}',
        "EXTENSION\tName: datadog-agent\tState: Ready\tEvents: [INVOKE, SHUTDOWN]",
        "XRAY TraceId: 1-636d1462-33ef10600061cad86dab71c8\tSegmentId: 7ccb4860675ee485\tSampled: true\t",
    ],
)
def test_given_a_phase_report_or_extension_line_then_not_an_invocation(line):
    assert parse_report(line) is None


# --------------------------------------------------------------------- nothing counted twice
def test_given_a_timeout_told_twice_then_one_invocation_one_timeout():
    rid = "5bb8d4e0-4f4c-4a4f-9b34-1f0f5b1d2c3a"
    stream = _stream(
        [
            f"START RequestId: {rid} Version: $LATEST",
            f"2026-11-23T10:00:03.000Z {rid} Task timed out after 3.00 seconds",
            f"END RequestId: {rid}",
            f"REPORT RequestId: {rid}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
            f"Max Memory Used: 60 MB\tStatus: timeout\n"
            "XRAY TraceId: 1-636d1462-33ef10600061cad86dab71c8\tSegmentId: 7ccb4860675ee485\t"
            "Sampled: true\t\n",
        ]
    )
    (r,) = iter_reports(stream)
    assert r.timeout
    data = {d.name: d.value for d in report_data(r)}
    assert (data["Invocations"], data["Timeout"], data["OutOfMemory"], data["ColdStart"]) == (1, 1, 0, 0)


def test_given_an_oom_told_three_ways_then_counted_once():
    rid = "9b1c"
    stream = _stream(
        [
            f"RequestId: {rid} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
            f"REPORT RequestId: {rid}\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
        ]
    )
    summary = Summary().update(iter_reports(stream))
    fs = summary.functions["checkout"]
    assert (fs.invocations, fs.out_of_memory, fs.timeouts) == (1, 1, 0)


# ---------------------------------------------------------------- percentiles, by hand
def _percentiles(durations: list[float]) -> list[float]:
    fs = FunctionSummary()
    for i, d in enumerate(durations):
        fs.add(InvocationReport(str(i), d), Pricing())
    return fs.percentiles(50, 95, 99)


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ([7.0], [7.0, 7.0, 7.0]),  # one: all three are it
        ([2.0, 1.0], [1.0, 2.0, 2.0]),  # ranks ceil(1.0)=1, ceil(1.9)=2, ceil(1.98)=2
        ([5.0, 100.0, 5.0, 5.0], [5.0, 100.0, 100.0]),  # ties: ranks 2, 4, 4
        ([float(i) for i in range(20, 0, -1)], [10.0, 19.0, 20.0]),  # ranks 10, 19, 20
        ([float(i) for i in range(1, 101)], [50.0, 95.0, 99.0]),  # ranks 50, 95, 99 (not 100)
        ([float(i) for i in range(1, 201)], [100.0, 190.0, 198.0]),
    ],
)
def test_nearest_rank_percentiles_on_small_counts_and_ties(durations, expected):
    assert _percentiles(durations) == expected


def test_given_a_duration_that_is_not_a_number_then_percentiles_come_from_the_others():
    # README: "Duration: nan ms loses its Duration only": the invocation still counts
    nan = parse_report("REPORT RequestId: n\tDuration: nan ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t")
    assert nan is not None and math.isnan(nan.duration_ms)
    fs = FunctionSummary()
    for r in [nan, InvocationReport("a", 30.0), InvocationReport("b", 10.0), InvocationReport("c", 20.0)]:
        fs.add(r, Pricing())
    assert fs.invocations == 4
    assert fs.percentiles(50, 95, 99) == [20.0, 30.0, 30.0]  # over 10, 20, 30: ranks 2, 3, 3
    only_nan = Summary().update([InvocationReport("n", math.nan, function_name="f")])
    assert only_nan.rows()[0][:5] == ("f", "1", "-", "-", "-")
