"""What users already have, through `decode` and `report`: AWS CLI output (logs
filter-log-events / get-log-events, kinesis get-records, sqs receive-message of the failure
queue), a Lambda on-failure record, Firehose's error output lines. Fixtures: tests/data/cli."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

DATA = Path(__file__).resolve().parent.parent / "data" / "cli"
GROUP = "/aws/lambda/checkout-api"
STREAM = "2024/05/01/[$LATEST]3f1c9d2e8b7a4c6d9e0f1a2b3c4d5e6f"
RID = ["0f7c1e2a-5b6d-4c8e-9a1b-2c3d4e5f6a7b", "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"]
T0 = 1714564800000
MESSAGES = [
    (T0, f"START RequestId: {RID[0]} Version: $LATEST\n"),
    (T0 + 41, f"[INFO]\t2024-05-01T12:00:00.041Z\t{RID[0]}\torder accepted\n"),
    (T0 + 52, f"END RequestId: {RID[0]}\n"),
    (
        T0 + 52,
        f"REPORT RequestId: {RID[0]}\tDuration: 51.37 ms\tBilled Duration: 52 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 88 MB\tInit Duration: 412.50 ms\t\n",
    ),
    (T0 + 3000, f"START RequestId: {RID[1]} Version: $LATEST\n"),
    (T0 + 6003, f"2024-05-01T12:00:06.003Z {RID[1]} Task timed out after 3.00 seconds\n"),
    (T0 + 6004, f"END RequestId: {RID[1]}\n"),
    (
        T0 + 6004,
        f"REPORT RequestId: {RID[1]}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 91 MB\t\n",
    ),
]
REPORTS = [
    {
        "requestId": RID[0],
        "timestamp": T0 + 52,
        "durationMs": 51.37,
        "billedDurationMs": 52,
        "memorySizeMB": 512,
        "maxMemoryUsedMB": 88,
        "initDurationMs": 412.5,
        "coldStart": True,
        "timeout": False,
        "outOfMemory": False,
    },
    {
        "requestId": RID[1],
        "timestamp": T0 + 6004,
        "durationMs": 3000.0,
        "billedDurationMs": 3000,
        "memorySizeMB": 512,
        "maxMemoryUsedMB": 91,
        "status": "timeout",
        "coldStart": False,
        "timeout": True,
        "outOfMemory": False,
    },
]
WITH_GROUP = {"functionName": "checkout-api", "logGroup": GROUP}
SUBSCRIPTION_SHAPES = [
    "kinesis-get-records.json",
    "sqs-receive-message.json",
    "on-failure-record.json",
    "firehose-errors.jsonl",
]


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.split(b"\n") if line]


@pytest.mark.parametrize("name", SUBSCRIPTION_SHAPES)
def test_given_subscription_data_inside_aws_output_then_decode_gives_every_event(name):
    res = run_cli("decode", str(DATA / name))
    assert res.returncode == 0, res.stderr
    out = lines(res.stdout)
    assert [(e["logGroup"], e["logStream"], e["timestamp"], e["message"]) for e in out] == [
        (GROUP, STREAM, ts, msg) for ts, msg in MESSAGES
    ]
    assert {e["owner"] for e in out} == {"123456789012"}
    assert {tuple(e["subscriptionFilters"]) for e in out} == {("logstream-forward",)}


@pytest.mark.parametrize("name", SUBSCRIPTION_SHAPES)
def test_given_subscription_data_inside_aws_output_then_report_finds_both_invocations(name):
    res = run_cli("report", str(DATA / name))
    assert res.returncode == 0, res.stderr
    assert lines(res.stdout) == [{**WITH_GROUP, **r} for r in REPORTS]


def test_given_kinesis_get_records_then_control_message_skipped_unless_asked():
    res = run_cli("decode", "--include-control", str(DATA / "kinesis-get-records.json"))
    out = lines(res.stdout)
    assert len(out) == len(MESSAGES) + 1
    assert out[4]["owner"] == "CloudwatchLogs"


def test_given_filter_log_events_then_stream_time_id_and_message_of_each_event():
    res = run_cli("decode", str(DATA / "filter-log-events.json"))
    assert res.returncode == 0, res.stderr
    out = lines(res.stdout)
    source = json.loads((DATA / "filter-log-events.json").read_text())["events"]
    assert [(e["logStream"], e["id"], e["timestamp"], e["message"]) for e in out] == [
        (STREAM, ev["eventId"], ts, msg) for ev, (ts, msg) in zip(source, MESSAGES, strict=True)
    ]
    assert {e["logGroup"] for e in out} == {""}  # the AWS CLI output does not name the group


@pytest.mark.parametrize("name", ["filter-log-events.json", "get-log-events.json"])
def test_given_aws_logs_output_and_group_then_report_names_the_function(name):
    res = run_cli("report", "--group", GROUP, str(DATA / name))
    assert res.returncode == 0, res.stderr
    assert lines(res.stdout) == [{**WITH_GROUP, **r} for r in REPORTS]
    bare = lines(run_cli("report", str(DATA / name)).stdout)
    assert bare == REPORTS


def test_given_aws_logs_output_then_summary_over_the_group():
    res = run_cli("report", "--summary", "--group", GROUP, str(DATA / "filter-log-events.json"))
    assert [line.split() for line in res.stdout.decode().splitlines()] == [
        ["function", "invocations", "p50", "ms", "p95", "ms", "p99", "ms", "max", "MB", "mem", "%"]
        + ["cold", "timeouts", "OOMs", "est.", "cost", "$"],
        ["checkout-api", "2", "51.37", "3000.00", "3000.00", "91", "18", "1", "1", "0", "0.00002583"],
    ]


def test_given_every_shape_at_once_then_one_stream_of_events():
    files = [str(DATA / n) for n in SUBSCRIPTION_SHAPES]
    res = run_cli("decode", "--messages", *files)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "".join(m for _, m in MESSAGES).encode() * len(files)
