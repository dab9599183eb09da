"""Given Lambda logs of several runtimes, when `logstream decode` runs with the processing flags
(the forwarder's pipeline), then each stage does what its flag says, in a real subprocess."""

from __future__ import annotations

import json

import msgspec

from logstream import testing as t
from tests.conftest import run_cli

NODE = "2024-05-01T12:00:00.123Z\tc0ffee-1\tERROR\tpayment failed for bob@example.com\n"
PYTHON = "[INFO]\t2024-05-01T12:00:00.200Z\tc0ffee-1\tcharged card 4111 1111 1111 1111\n"
JSON_LOG = '{"timestamp":"2024-05-01T12:00:00.300Z","level":"WARN","requestId":"c0ffee-1","message":"slow"}\n'
JAVA_TRACE = [
    "java.lang.IllegalStateException: boom\n",
    "\tat com.example.Handler.handle(Handler.java:42)\n",
    "\tat com.example.Handler.handleRequest(Handler.java:17)\n",
    "Caused by: java.io.IOException: disk\n",
]
START = "START RequestId: c0ffee-1 Version: 7\n"
GROUP = "/aws/lambda/checkout"


def _event(messages: list[str]) -> bytes:
    doc = t.make_document(messages, log_group=GROUP)
    return msgspec.json.encode(t.lambda_event(doc))


def _decode(messages: list[str], *flags: str) -> list[dict]:
    res = run_cli("decode", "-o", "ndjson", *flags, stdin=_event(messages))
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_given_parse_then_level_request_id_time_and_json_and_message_unchanged():
    lines = _decode([NODE, PYTHON, JSON_LOG], "--parse")
    assert [(x["level"], x["requestId"], x["time"]) for x in lines] == [
        ("ERROR", "c0ffee-1", "2024-05-01T12:00:00.123Z"),
        ("INFO", "c0ffee-1", "2024-05-01T12:00:00.200Z"),
        ("WARN", "c0ffee-1", "2024-05-01T12:00:00.300Z"),
    ]
    assert [x["message"] for x in lines] == [NODE, PYTHON, JSON_LOG]
    assert lines[2]["json"] == json.loads(JSON_LOG)
    assert {x["functionName"] for x in lines} == {"checkout"}  # --parse enriches too


def test_given_min_level_then_start_lines_and_warnings_stay():
    lines = _decode([START, NODE, PYTHON, JSON_LOG], "--parse", "--min-level", "WARN")
    assert [x["message"] for x in lines] == [START, NODE, JSON_LOG]


def test_given_redact_all_then_email_and_card_replaced_everywhere():
    lines = _decode([NODE, PYTHON], "--redact", "all")
    assert [x["message"] for x in lines] == [
        "2024-05-01T12:00:00.123Z\tc0ffee-1\tERROR\tpayment failed for [REDACTED:email]\n",
        "[INFO]\t2024-05-01T12:00:00.200Z\tc0ffee-1\tcharged card [REDACTED:credit-card]\n",
    ]


def test_given_join_multiline_then_a_java_trace_is_one_event_with_the_joined_ids():
    res = run_cli("decode", "-o", "ndjson", stdin=_event([START, *JAVA_TRACE]))
    ids = [json.loads(line)["id"] for line in res.stdout.splitlines()]
    lines = _decode([START, *JAVA_TRACE], "--join-multiline")
    assert [x["message"] for x in lines] == [START, "".join(JAVA_TRACE)]
    assert lines[1]["id"] == ids[1] and lines[1]["joinedIds"] == ids[2:]


def test_given_include_exclude_and_tags_then_filtered_and_tagged():
    lines = _decode([START, NODE, PYTHON], "--include", "c0ffee", "--exclude", "INFO", "--tag", "team=pay")
    assert [(x["message"], x["tags"]) for x in lines] == [(START, {"team": "pay"}), (NODE, {"team": "pay"})]


def test_given_sample_then_deterministic_and_platform_lines_kept():
    messages = [START] + [f"2024-05-01T12:00:00.000Z\tr\tINFO\tline {i}\n" for i in range(200)]
    first = _decode(messages, "--sample", "0.3")
    again = _decode(messages, "--sample", "0.3")
    assert first == again and first[0]["message"] == START
    assert 20 < len(first) < 120


def test_given_no_processing_flag_then_output_is_exactly_decode():
    plain = run_cli("decode", "-o", "ndjson", stdin=_event([NODE, PYTHON]))
    processed = run_cli("decode", "-o", "ndjson", "--sample", "1", stdin=_event([NODE, PYTHON]))
    assert processed.stdout == plain.stdout


def test_given_a_bad_flag_value_or_documents_then_usage_error():
    assert run_cli("decode", "--min-level", "LOUD", stdin=_event([NODE])).returncode == 2
    res = run_cli("decode", "--documents", "--parse", stdin=_event([NODE]))
    assert res.returncode == 2 and b"--documents" in res.stderr


def test_given_messages_with_redaction_then_redacted_text_only():
    res = run_cli("decode", "--messages", "--redact", "email", stdin=_event([NODE]))
    assert res.stdout == b"2024-05-01T12:00:00.123Z\tc0ffee-1\tERROR\tpayment failed for [REDACTED:email]\n"


def test_given_a_function_logging_to_a_custom_log_group_when_enrich_then_its_stream_names_it():
    """Lambda names a function's streams in a custom log group YYYY/MM/DD/NAME[VERSION]...:
    several functions may share the group, each event gets its own function."""
    docs = [
        t.make_document([PYTHON], log_group="/shared/app", log_stream=f"2024/05/01/{fn}[{v}]0123abcd")
        for fn, v in (("checkout", "$LATEST"), ("search", "7"))
    ]
    stdin = b"\n".join(msgspec.json.encode(t.lambda_event(d)) for d in docs)
    res = run_cli("decode", "-o", "ndjson", "--enrich", stdin=stdin)
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(x["functionName"], x["functionVersion"]) for x in got] == [
        ("checkout", "$LATEST"),
        ("search", "7"),
    ]
