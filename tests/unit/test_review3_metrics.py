"""Third review of the metrics, as an operator comparing them with Lambda's console, the
AWS/Lambda namespace, the bill and fluentd's monitor_agent: every expected value is written
out by hand from the line it comes from.
"""

from __future__ import annotations

import pytest

from logstream.metrics import fluentd_data, report_data
from logstream.models import LogEvent, LogStream, MessageType
from logstream.parsers.fluentd import parse_status
from logstream.parsers.lambda_report import parse_report

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
