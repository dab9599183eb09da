"""Plain log lines carry no time: what is derived from them says so instead of writing 0
(1970-01-01, a time CloudWatch refuses)."""

from __future__ import annotations

import json

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
