"""Parsers over every corpus line, with the expected values written out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream import ParseError, decode_log_stream, iter_log_streams
from logstream.models import LogEvent, LogStream, MessageType
from logstream.parsers.fluentd import iter_statuses, parse_status
from logstream.parsers.lambda_report import (
    InvocationReport,
    function_name,
    function_version,
    iter_reports,
    parse_killed,
    parse_report,
    parse_timeout,
)
from logstream.testing import lambda_event, make_document
from tests.conftest import corpus_path, load_jsonl

REPORT_LINES = [d["line"] for d in load_jsonl("report_lines.jsonl")]
FLUENTD_LINES = [d["line"] for d in load_jsonl("fluentd_status.jsonl")]


def R(rid, dur, billed, mem, maxmem, init, status, xray):  # noqa: N802 - a table row
    # the line's own status marks a timeout (Status: timeout, "status": "timeout")
    timeout = status == "timeout"
    return InvocationReport(
        rid, dur, billed, mem, maxmem, init, status=status, xray_trace_id=xray, timeout=timeout
    )


# index in report_lines.jsonl -> expected report, or the request id of a timeout line, or None
EXPECTED_REPORTS = [
    (0, None),  # START
    (1, None),  # END
    (
        2,
        R(
            "06e46194-f277-454e-88d3-1dd7e3860eaa",
            9.14,
            10.0,
            128,
            36,
            190.62,
            None,
            "1-636d1462-33ef10600061cad86dab71c8",
        ),
    ),
    (3, None),
    (4, None),
    (
        5,
        R(
            "4dfec460-05bb-4f62-8fed-e5cade099a36",
            0.97,
            1.0,
            128,
            37,
            None,
            None,
            "1-636d12bb-42356e4e68523f1d0eb810e6",
        ),
    ),
    (6, None),
    (7, None),  # literal backslash-n START
    (8, None),
    (
        9,
        R("db275f87-a934-471a-8980-b63bf4dc1beb", 1.76, 100.0, 128, 48, 120.96, None, None),
    ),  # literal \t separators
    (10, None),
    (11, None),
    (12, R("7c9567b5-107b-4a6c-8798-0157ac21db52", 3003.16, 3000.0, 128, 48, 127.02, None, None)),
    (13, "7c9567b5-107b-4a6c-8798-0157ac21db52"),  # Task timed out, literal \n\n
    (14, None),
    (
        15,
        R(
            "f08bb4c8-d6b2-4f05-ac17-af7e2ba005fb",
            619.31,
            700.0,
            128,
            118,
            None,
            None,
            "1-5e61292c-cc1229a4dfbeae1043928548",
        ),
    ),
    (16, R("2ea49a23-ff39-4bf5-8761-439f99b7c5f6", 3003.28, 3000.0, 128, 35, None, None, None)),  # no newline
    (17, R("2ea49a23-ff39-4bf5-8761-439f99b7c5f6", 3003.28, 3000.0, 128, 35, None, None, None)),
    (18, "2ea49a23-ff39-4bf5-8761-439f99b7c5f6"),
    (19, None),  # REPORT invalid report log line: never a zero-filled record
    (
        20,
        R("8edab1f8-7d34-4a8e-a965-15ccbbb78d4c", 0.62, 100.0, 128, 51, None, None, None),
    ),  # spaces, no tabs
    (21, R("8edab1f8-7d34-4a8e-a965-15ccbbb78d4c", 0.81, 100.0, 128, 90, 1234.0, None, None)),
    (
        22,
        R(
            "814ba7cb-071e-4181-9a09-fa41db5bccad",
            1711.87,
            1800.0,
            128,
            98,
            None,
            None,
            "1-5d83c0ad-b8eb33a0b1de97d804fac890",
        ),
    ),
    (
        23,
        R("4d789d71-2f2c-4c66-a4b5-531a0223233d", 0.62, 100.0, 128, 51, None, "success", None),
    ),  # platform.report
    (24, R("4d789d71-2f2c-4c66-a4b5-531a0223233d", 0.81, 100.0, 128, 90, 1234.0, "success", None)),
    (25, R("b441820a-ebe5-4d5f-93bc-f945707b0225", 30000.0, 30000.0, 128, 74, 985.413, "timeout", None)),
    (
        26,
        R("4f423807-598d-47ae-9652-4f7ee31d4d10", 2.524, None, None, None, None, "success", None),
    ),  # managed instances
    (27, R("4d789d71-2f2c-4c66-a4b5-531a0223233d", 3470.65, 3500.0, 128, 89, None, "success", None)),
    (
        28,
        R(
            "fe1467d6-1458-4e20-8e40-9aaa4be7a0f4",
            3470.65,
            3500.0,
            128,
            89,
            None,
            None,
            "1-5d8bba5a-dc2932496a65bab91d2d42d4",
        ),
    ),
    (29, "7c9567b5-107b-4a6c-8798-0157ac21db52"),
    (30, None),
    (31, None),
    (
        32,
        R("b3c55437-3847-4230-a1ed-0e94425372e8", 245.44, None, None, None, None, None, None),
    ),  # truncated REPORT
    (33, "b3c55437-3847-4230-a1ed-0e94425372e8"),
]


def test_every_corpus_line_is_in_the_table():
    assert [i for i, _ in EXPECTED_REPORTS] == list(range(len(REPORT_LINES)))


@pytest.mark.parametrize(("index", "expected"), EXPECTED_REPORTS)
def test_given_corpus_line_then_expected_report(index, expected):
    line = REPORT_LINES[index]
    if isinstance(expected, InvocationReport):
        assert parse_report(line) == expected
    else:
        assert parse_report(line) is None
        assert parse_timeout(line) == expected


HAND = {
    # SnapStart, timeout and OOM variants from the AWS docs (no licensed corpus had them)
    "snapstart": "REPORT RequestId: a\tDuration: 5.00 ms\tBilled Duration: 6 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 80 MB\tRestore Duration: 300.12 ms\tBilled Restore Duration: 150 ms\t",
    "timeout": "REPORT RequestId: b\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 60 MB\tStatus: timeout\n",
    "oom": "REPORT RequestId: c\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n",
    "emulator": "REPORT RequestId: d\tInit Duration: 0.40 ms\tDuration: 95.09 ms\tBilled Duration: 96 ms\t"
    "Memory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
}


def test_given_snapstart_line_then_restore_fields_and_a_cold_start():
    r = parse_report(HAND["snapstart"])
    assert (r.restore_duration_ms, r.billed_restore_duration_ms) == (300.12, 150.0)
    assert (r.cold_start, r.snap_start_restore) == (True, True)


def test_given_snapstart_restore_then_record_says_cold_start_and_restore():
    record = parse_report(HAND["snapstart"]).to_dict()
    assert (record["coldStart"], record["snapStartRestore"]) == (True, True)


def test_given_init_without_restore_then_cold_start_without_restore_flag():
    record = parse_report(HAND["emulator"]).to_dict()
    assert record["coldStart"] is True
    assert "snapStartRestore" not in record


def test_given_json_platform_report_with_restore_then_cold_start():
    line = (
        '{"time":"2024-05-01T12:00:00.000Z","type":"platform.report","record":{"requestId":"r1",'
        '"metrics":{"durationMs":5.0,"billedDurationMs":6,"memorySizeMB":512,"maxMemoryUsedMB":80,'
        '"restoreDurationMs":300.12,"billedRestoreDurationMs":150},"status":"success"}}'
    )
    r = parse_report(line)
    assert (r.cold_start, r.snap_start_restore, r.restore_duration_ms) == (True, True, 300.12)


def test_given_status_fields_then_status_and_error_type():
    assert parse_report(HAND["timeout"]).status == "timeout"
    oom = parse_report(HAND["oom"])
    assert (oom.status, oom.error_type) == ("error", "Runtime.OutOfMemory")


def test_given_fields_in_any_order_then_same_values():
    r = parse_report(HAND["emulator"])
    assert (r.init_duration_ms, r.duration_ms, r.billed_duration_ms, r.memory_size_mb) == (
        0.4,
        95.09,
        96.0,
        3008,
    )


_FIELD = st.sampled_from(["0", "1.5", "12.34", "900", "1.2.3", "7e2"])


@given(
    rid=st.from_regex(r"[0-9a-f-]{1,36}", fullmatch=True),
    d=_FIELD,
    b=_FIELD,
    m=_FIELD,
    x=_FIELD,
    init=st.none() | _FIELD,
    end=st.sampled_from(["", "\n", "\t\n", "\n\nXRAY TraceId: 1-a-b\t"]),
    order=st.permutations(range(5)),
)
def test_usual_layout_fast_path_equals_order_independent_parser(rid, d, b, m, x, init, end, order):
    from logstream.parsers.lambda_report import _parse_text

    parts = [
        f"RequestId: {rid}",
        f"Duration: {d} ms",
        f"Billed Duration: {b} ms",
        f"Memory Size: {m} MB",
        f"Max Memory Used: {x} MB",
    ] + ([f"Init Duration: {init} ms"] if init else [])
    line = "REPORT " + "\t".join(parts) + "\t" + end
    assert parse_report(line) == _parse_text(line)  # the one-match fast path agrees with the general one
    shuffled = "REPORT " + "\t".join([parts[i] for i in order] + parts[5:]) + "\t" + end
    assert parse_report(shuffled) == parse_report(line)


@pytest.mark.parametrize(
    "line",
    [
        "REPORT invalid report log line",
        "app says: REPORT RequestId: x Duration: 1 ms",  # not at the start
        "REPORT RequestId: x\tDuration: lots ms\t",
        "REPORT the quarterly numbers",
        '{"type": "platform.start", "record": {"requestId": "x"}}',
        '{"type": "platform.report", "record": {"requestId": "x"}}',  # no metrics
    ],
)
def test_given_line_that_only_looks_like_report_then_none(line):
    assert parse_report(line) is None


def _stream(messages, group="/aws/lambda/fn", stream="2024/01/01/[7]abc"):
    return decode_log_stream(lambda_event(make_document(messages, log_group=group, log_stream=stream)))


def test_given_batch_then_derived_fields():
    s = _stream(
        [
            HAND["timeout"],
            HAND["oom"],
            "2024-01-01T00:00:00.000Z e Task timed out after 3.00 seconds\n",
            "REPORT RequestId: e\tDuration: 3003.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 50 MB\t",
            "RequestId: f Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n",
            "REPORT RequestId: f\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 127 MB\t",
            "REPORT RequestId: g\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 128 MB\t",
        ]
    )
    got = {r.request_id: (r.timeout, r.out_of_memory, r.status) for r in iter_reports(s)}
    assert got == {
        "b": (True, False, "timeout"),
        "c": (False, True, "error"),
        "e": (True, False, "timeout"),
        "f": (False, True, None),
        "g": (False, False, None),  # full memory without an error is not an OOM
    }
    first = next(iter(iter_reports(s)))
    assert (first.function_name, first.function_version, first.timestamp) == (
        "fn",
        "7",
        s.log_events[0].timestamp,
    )


def test_given_corpus_documents_then_reports_with_derived_fields():
    def reports(name):
        (s,) = iter_log_streams(corpus_path("documents", name).read_bytes())
        return [(r.request_id, r.cold_start, r.timeout, r.out_of_memory) for r in iter_reports(s)]

    assert reports("datadog__snapshots__cloudwatch_log_timeout.json") == [
        ("7c9567b5-107b-4a6c-8798-0157ac21db52", True, True, False)
    ]
    assert reports("datadog__snapshots__cloudwatch_log_coldstart.json") == [
        ("db275f87-a934-471a-8980-b63bf4dc1beb", True, False, False)
    ]
    assert reports("newrelic__entry_lambda_oom.json") == [
        ("2ea49a23-ff39-4bf5-8761-439f99b7c5f6", False, False, True)
    ]
    assert reports("newrelic__entry_lambda_timeout.json") == [
        ("2ea49a23-ff39-4bf5-8761-439f99b7c5f6", False, True, False)
    ]


def test_function_name_and_version():
    assert function_name("/aws/lambda/my-fn") == "my-fn"
    assert function_name("/aws/lambda/us-east-1.my-edge-fn") == "my-edge-fn"
    assert function_name("/aws/lambda/eu-west-1.x") == "x"
    assert function_name("/ecs/app") is None
    assert function_version("2024/01/01/[$LATEST]abc") == "$LATEST"
    assert function_version("no-version") is None
    assert parse_killed("RequestId: z Error: Runtime exited with error: signal: killed") == "z"


# ------------------------------------------------------------------------------------ fluentd
# index in fluentd_status.jsonl -> (plugin_id, buffer_queue_length, buffer_total_queued_size, retry_count)
# ("absent": the key is not in the status at all, v0.12 input plugins)
EXPECTED_STATUS = [
    (0, [("in_monitor_agent", None, None, None), ("in_forward", None, None, None), ("out_es", 0, 0, 0)]),
    (1, [("out_es", 1, 117, 4)]),
    (2, [("in_monitor_agent", None, None, None), ("in_forward", None, None, None), ("out_es", 0, 0, 0)]),
    (3, [("out_es", 1, 0, 3)]),
    (4, [("object:3ffd9988bea0", None, None, None)]),
    (5, [("in_forward", None, None, None)]),
    (6, [("out_out", None, None, 0)]),
    (
        7,
        [
            ("object:3fec669d6ac4", None, None, "absent"),
            ("object:3fec669dfa48", None, None, "absent"),
            ("object:3fec66aead48", 0, 0, 0),
        ],
    ),
    (
        8,
        [
            ("object:f48698", None, None, None),
            ("object:e27138", None, None, None),
            ("object:d74060", None, None, None),
            ("object:11a5e2c", None, None, 0),
            ("object:11237ec", 0, 0, 0),
            ("object:output_td_1", 0, 0, 0),
            ("object:output_td_2", 0, 0, 0),
        ],
    ),
    (9, [("object:3feb368cfad0", 0, 53, 0), ("object:155633c", None, None, None)]),
    (10, [("object:3feb368cfad0", 0, 53, 0), ("object:155633c", None, None, None)]),
    (11, [("out_file", 0, 10940, 0), ("out_mackerel", 0, 53, 0)]),
    (12, [("match_plugin_id", 0, 10940, 0), ("do_not_match_plugin_id", 0, 53, 0)]),
]


def test_every_fluentd_line_is_in_the_table():
    assert [i for i, _ in EXPECTED_STATUS] == list(range(len(FLUENTD_LINES)))


def _summary(statuses):
    return [
        (
            s.plugin_id,
            s.get("buffer_queue_length"),
            s.get("buffer_total_queued_size"),
            s.get("retry_count", "absent"),
        )
        for s in statuses
    ]


@pytest.mark.parametrize(("index", "expected"), EXPECTED_STATUS)
def test_given_fluentd_corpus_body_then_statuses(index, expected):
    assert _summary(parse_status(FLUENTD_LINES[index])) == expected


@pytest.mark.parametrize(("index", "expected"), EXPECTED_STATUS[4:7])
def test_given_v1_and_v012_prefixed_lines_then_time_and_tag(index, expected):
    body = " ".join(FLUENTD_LINES[index].split())
    v1 = parse_status(f"2024-05-01 12:00:00.123456789 +0000 debug.monitor: {body}")
    v012 = parse_status(f"2017-01-16 12:34:56 +0900 fluent.status: {body}")
    assert _summary(v1) == _summary(v012) == expected
    assert (v1[0].timestamp, v1[0].tag) == (1714564800123, "debug.monitor")
    assert v012[0].timestamp == 1484537696000  # 03:34:56 UTC


@pytest.mark.parametrize(
    "line",
    [
        "2024-05-01 12:00:00 +0000 [info]: starting fluentd-1.16.2 pid=7",
        "2024-05-01 12:00:00 +0000 [warn]: #0 buffer flush took longer time than slow_flush_log_threshold",
        '{"hello": "world"}',
        "plain text",
    ],
)
def test_given_fluentd_own_log_lines_then_not_status(line):
    assert parse_status(line) is None


def test_given_status_prefix_with_broken_json_then_parse_error():
    with pytest.raises(ParseError, match="monitor.tag"):
        parse_status('2024-05-01 12:00:00 +0000 monitor.tag: {"plugin_id": ')


def test_given_stream_then_event_time_and_context_fill_in():
    stream = LogStream(
        MessageType.DATA_MESSAGE,
        "1",
        "/ecs/fluentd",
        "fluentd/abc",
        (),
        (LogEvent("1", 1_700_000_000_000, '{"plugin_id":"out_s3","retry_count":null}\n'),),
    )
    (status,) = iter_statuses(stream)
    assert status.to_dict() == {
        "plugin_id": "out_s3",
        "retry_count": None,
        "timestamp": 1_700_000_000_000,
        "logGroup": "/ecs/fluentd",
        "logStream": "fluentd/abc",
    }
    assert json.loads(json.dumps(status.to_dict()))["retry_count"] is None
