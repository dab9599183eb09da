"""Values Lambda never writes in a REPORT line or a platform.report record: a negative duration
or memory size. Such a line is not a report Lambda wrote: ``parse_report`` gives ``None``,
exactly as for other malformed numbers (``Memory Size: inf MB``, ``Duration: lots ms``), so no
invocation, metric or estimated cost is made from it. Zero is a value Lambda can write.

Expected values are written out.
"""

from __future__ import annotations

import json

import pytest

from logstream import decode_log_stream
from logstream.metrics import estimated_cost, report_data
from logstream.parsers.lambda_report import InvocationReport, iter_reports, parse_report
from logstream.testing import lambda_event, make_document
from tests.conftest import run_cli

#: text field -> (the value in the valid line, the InvocationReport attribute it fills)
TEXT_FIELDS = {
    "Duration": ("46.84 ms", "duration_ms"),
    "Billed Duration": ("47 ms", "billed_duration_ms"),
    "Memory Size": ("192 MB", "memory_size_mb"),
    "Max Memory Used": ("72 MB", "max_memory_used_mb"),
    "Init Duration": ("120.50 ms", "init_duration_ms"),
    "Restore Duration": ("300.12 ms", "restore_duration_ms"),
    "Billed Restore Duration": ("150 ms", "billed_restore_duration_ms"),
}
#: JSON metric -> (the value in the valid record, the InvocationReport attribute it fills)
JSON_FIELDS = {
    "durationMs": (46.84, "duration_ms"),
    "billedDurationMs": (47, "billed_duration_ms"),
    "memorySizeMB": (192, "memory_size_mb"),
    "maxMemoryUsedMB": (72, "max_memory_used_mb"),
    "initDurationMs": (120.5, "init_duration_ms"),
    "restoreDurationMs": (300.12, "restore_duration_ms"),
    "billedRestoreDurationMs": (150, "billed_restore_duration_ms"),
}


def _usual(rid: str, duration: str, billed: str, memory: str, used: str) -> str:
    """A REPORT line in Lambda's usual layout."""
    return (
        f"REPORT RequestId: {rid}\tDuration: {duration} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: {memory} MB\tMax Memory Used: {used} MB\t"
    )


def _text_line(**changed: str) -> str:
    values = {name: value for name, (value, _) in TEXT_FIELDS.items()} | changed
    return "REPORT RequestId: r1\t" + "".join(f"{name}: {value}\t" for name, value in values.items())


def _json_line(**changed: float) -> str:
    metrics = {name: value for name, (value, _) in JSON_FIELDS.items()} | changed
    return json.dumps(
        {
            "time": "2024-05-01T12:00:00.000Z",
            "type": "platform.report",
            "record": {"requestId": "r1", "metrics": metrics, "status": "success"},
        }
    )


def test_given_the_valid_lines_then_every_field_is_read():
    text, record = parse_report(_text_line()), parse_report(_json_line())
    assert text is not None and record is not None
    assert {attr: getattr(text, attr) for _, attr in TEXT_FIELDS.values()} == {
        "duration_ms": 46.84,
        "billed_duration_ms": 47.0,
        "memory_size_mb": 192,
        "max_memory_used_mb": 72,
        "init_duration_ms": 120.5,
        "restore_duration_ms": 300.12,
        "billed_restore_duration_ms": 150.0,
    }
    assert {attr: getattr(record, attr) for _, attr in JSON_FIELDS.values()} == {
        attr: getattr(text, attr) for _, attr in TEXT_FIELDS.values()
    }


@pytest.mark.parametrize("field", list(TEXT_FIELDS))
@pytest.mark.parametrize("value", ["-5.00", "-1", "-0.01"])
def test_given_a_negative_value_in_a_text_report_then_not_a_report(field, value):
    unit = TEXT_FIELDS[field][0].split()[1]
    line = _text_line(**{field: f"{value} {unit}"})
    assert parse_report(line) is None
    assert parse_report(line.replace("\t", "    ")) is None  # runs of spaces between the fields
    assert parse_report(line + "\nXRAY TraceId: 1-5e1b4151-5ac6c58f5b5daa6532b2f9c4\tSampled: true\t") is None


@pytest.mark.parametrize("field", list(JSON_FIELDS))
@pytest.mark.parametrize("value", [-5.0, -1, -0.01])
def test_given_a_negative_value_in_a_json_record_then_not_a_report(field, value):
    assert parse_report(_json_line(**{field: value})) is None


@pytest.mark.parametrize(
    "line",
    [
        # Lambda's usual layout and the short one of Managed Instances
        _usual("r1", "-5.00", "6", "128", "36"),
        _usual("r1", "5.00", "6", "128", "-1"),
        "REPORT RequestId: r1\tDuration: -5.00 ms",
    ],
)
def test_given_the_lines_of_the_issue_then_not_a_report(line):
    assert parse_report(line) is None


def test_given_zero_values_then_a_report():
    r = parse_report(
        _text_line(**{"Duration": "0.00 ms", "Billed Duration": "0 ms", "Max Memory Used": "0 MB"})
    )
    assert r is not None and (r.duration_ms, r.billed_duration_ms, r.max_memory_used_mb) == (0.0, 0.0, 0)
    j = parse_report(_json_line(durationMs=0, billedDurationMs=0, maxMemoryUsedMB=0))
    assert j is not None and (j.duration_ms, j.billed_duration_ms, j.max_memory_used_mb) == (0.0, 0, 0)


def test_given_a_batch_with_a_negative_report_then_it_makes_no_invocation_and_no_cost():
    good = _usual("g", "10.00", "10", "1024", "50")
    bad = _usual("b", "-5.00", "-5", "1024", "-1")
    bad_json = _json_line(billedDurationMs=-47).replace('"r1"', '"j"')
    stream = decode_log_stream(lambda_event(make_document([good, bad, bad_json], log_group="/aws/lambda/fn")))
    (report,) = iter_reports(stream)
    assert report.request_id == "g"
    # 10 ms at 1 GB: 0.01 GB-s x 0.0000166667 + 0.0000002 per request
    assert estimated_cost(report) == pytest.approx(0.01 * 0.0000166667 + 0.0000002)
    assert all(d.value >= 0 for d in report_data(report))


def test_given_a_negative_report_to_the_cli_then_no_record_for_it(tmp_path):
    good = _usual("g", "10.00", "10", "128", "50")
    bad = _usual("b", "-5.00", "6", "128", "36")
    done = run_cli(
        "report", stdin=(good + "\n" + bad + "\n" + _json_line(maxMemoryUsedMB=-1) + "\n").encode()
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["requestId"] for line in done.stdout.splitlines()] == ["g"]


def test_given_an_invocation_report_built_by_hand_then_it_is_kept_as_given():
    # the check is the parser's (what Lambda writes), not the model's: a value object stays one
    assert InvocationReport("x", -1.0).duration_ms == -1.0
