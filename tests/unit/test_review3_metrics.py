"""Third review of the metrics, as an operator comparing them with Lambda's console, the
AWS/Lambda namespace, the bill and fluentd's monitor_agent: every expected value is written
out by hand from the line it comes from.
"""

from __future__ import annotations

import pytest

from logstream.metrics import report_data
from logstream.models import LogEvent, LogStream, MessageType
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
