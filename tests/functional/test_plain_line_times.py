"""Plain log lines carry no time: what is derived from them says so instead of writing 0
(1970-01-01, a time CloudWatch refuses)."""

from __future__ import annotations

import json
import time
from datetime import datetime

from logstream import testing as t
from tests.conftest import run_cli

STATUS = '{"plugin_id":"out_s3","plugin_category":"output","buffer_queue_length":1,"retry_count":0}'


def test_given_a_plain_fluentd_status_line_then_fluentd_writes_no_timestamp():
    proc = run_cli("fluentd", stdin=(STATUS + "\n").encode())

    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x) for x in proc.stdout.splitlines()] == [json.loads(STATUS)]


def test_given_a_status_line_in_a_cloudwatch_event_then_its_time_is_the_events():
    doc = t.make_document([STATUS + "\n"], log_group="/fluentd", start_ms=1_700_000_000_000)
    proc = run_cli("fluentd", stdin=json.dumps(t.lambda_event(doc)).encode())

    assert proc.returncode == 0, proc.stderr
    (line,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert line["timestamp"] == 1_700_000_000_000


REPORT_LINE = (
    "REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 64 MB\t\n"
)


def test_given_plain_report_and_status_lines_then_metrics_are_stamped_with_the_time_of_the_run():
    """EMF and PutMetricData need a time; 0 (1970) is one CloudWatch refuses."""
    for fmt, stamps in (
        ("emf", lambda d: [d["_aws"]["Timestamp"]]),
        ("put-metric-data", lambda d: [m["Timestamp"] for m in d["MetricData"]]),
    ):
        before = int(time.time() * 1000)
        lines = (REPORT_LINE + STATUS + "\n").encode()
        proc = run_cli("metrics", "--group", "/aws/lambda/f", "--format", fmt, stdin=lines)
        after = int(time.time() * 1000)
        assert proc.returncode == 0, proc.stderr
        docs = [json.loads(x) for x in proc.stdout.splitlines()]
        assert len(docs) == 2, fmt  # one for the Lambda namespace, one for fluentd's
        for doc in docs:
            for ms in stamps(doc):
                ms = ms if isinstance(ms, int) else int(datetime.fromisoformat(ms).timestamp() * 1000)
                assert before - 60_000 < ms <= after, (fmt, doc)  # (EMF: floored to its minute)


def test_given_reports_in_cloudwatch_events_then_metrics_keep_the_events_time():
    doc = t.make_document([REPORT_LINE], log_group="/aws/lambda/f", start_ms=1_700_000_040_000)
    proc = run_cli("metrics", stdin=json.dumps(t.lambda_event(doc)).encode())

    assert proc.returncode == 0, proc.stderr
    (emf,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert emf["_aws"]["Timestamp"] == 1_700_000_040_000  # a whole minute already
