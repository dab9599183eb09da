"""report / fluentd / metrics subcommands as a user runs them."""

from __future__ import annotations

import json

import msgspec

from logstream import testing as t
from tests.conftest import corpus_path, load_jsonl, run_cli


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.split(b"\n") if line]


KINESIS = corpus_path("events", "powertools-python__kinesisStreamCloudWatchLogsEvent.json")


def test_report_from_kinesis_event_uses_lambda_json_names():
    res = run_cli("report", str(KINESIS))
    assert res.returncode == 0, res.stderr
    first = lines(res.stdout)[0]
    assert first == {
        "functionName": "pt-1488-DummyLogDataFunction-gnWXPvL6jJyG",
        "logGroup": "/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG",
        "requestId": first["requestId"],
        "timestamp": first["timestamp"],
        **{k: first[k] for k in ("durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB")},
        **({"initDurationMs": first["initDurationMs"]} if "initDurationMs" in first else {}),
        "coldStart": "initDurationMs" in first,
        "timeout": False,
        "outOfMemory": False,
        "xrayTraceId": first["xrayTraceId"],
    }


def test_report_accepts_plain_lines_and_decode_output():
    plain = "".join(
        d["line"] if d["line"].endswith("\n") else d["line"] + "\n" for d in load_jsonl("report_lines.jsonl")
    )
    res = run_cli("report", stdin=plain.encode())
    assert res.returncode == 0
    assert (
        len(lines(res.stdout)) == 17
    )  # every REPORT/platform.report line of the corpus, not the invalid one
    decoded = run_cli("decode", str(KINESIS)).stdout
    assert lines(run_cli("report", stdin=decoded).stdout) == lines(run_cli("report", str(KINESIS)).stdout)


def test_report_summary_table():
    docs = []
    for fn, n in (("checkout", 30), ("search", 12)):
        msgs = []
        for i in range(n):
            init = "\tInit Duration: 200.00 ms" if i == 0 else ""
            msgs.append(
                f"REPORT RequestId: {fn}-{i}\tDuration: {10 + i}.00 ms\tBilled Duration: {11 + i} ms\t"
                f"Memory Size: 256 MB\tMax Memory Used: {60 + i} MB{init}\t\n"
            )
        docs.append(t.make_document(msgs, log_group=f"/aws/lambda/{fn}"))
    res = run_cli("report", "--summary", stdin=msgspec.json.encode(t.kinesis_event(docs)))
    out = res.stdout.decode().splitlines()
    assert out[0].split()[:2] == ["function", "invocations"]
    checkout = out[1].split()
    assert checkout[:5] == ["checkout", "30", "24.00", "38.00", "39.00"]  # nearest-rank p50/p95/p99
    assert checkout[5:9] == ["89", "35", "1", "0"]


def test_fluentd_from_docker_awslogs_lines():
    doc = t.make_document(
        [
            "2024-05-01 12:00:00 +0000 [info]: starting fluentd\n",
            '2024-05-01 12:00:01.5 +0000 monitor.metrics: {"plugin_id":"out_s3","buffer_queue_length":2,'
            '"buffer_total_queued_size":2048,"retry_count":1}\n',
        ],
        log_group="/ecs/fluentd",
    )
    res = run_cli("fluentd", stdin=msgspec.json.encode(t.lambda_event(doc)))
    assert lines(res.stdout) == [
        {
            "plugin_id": "out_s3",
            "buffer_queue_length": 2,
            "buffer_total_queued_size": 2048,
            "retry_count": 1,
            "timestamp": 1714564801500,
            "logGroup": "/ecs/fluentd",
            "logStream": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "tag": "monitor.metrics",
        }
    ]


def test_fluentd_accepts_plugins_json_bodies():
    body = load_jsonl("fluentd_status.jsonl")[0]["line"]
    res = run_cli("fluentd", stdin=body.encode())
    assert [o["plugin_id"] for o in lines(res.stdout)] == ["in_monitor_agent", "in_forward", "out_es"]


def test_metrics_formats():
    emf = lines(run_cli("metrics", str(KINESIS)).stdout)
    assert emf and all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Logstream/Lambda" for d in emf)
    pmd = lines(run_cli("metrics", "--format", "put-metric-data", "--namespace", "Ops", str(KINESIS)).stdout)
    assert [list(r) for r in pmd] == [["Namespace", "MetricData"]]
    names = {d["MetricName"] for d in pmd[0]["MetricData"]}
    assert {
        "Invocations",
        "Duration",
        "BilledDuration",
        "MaxMemoryUsed",
        "MemoryUtilization",
        "ColdStart",
        "EstimatedCost",
    } <= names
    body = load_jsonl("fluentd_status.jsonl")[1]["line"]
    fl = lines(run_cli("metrics", "--format", "put-metric-data", stdin=body.encode()).stdout)
    assert fl[0]["Namespace"] == "fluentd"
    assert {d["Dimensions"][0]["Name"] for d in fl[0]["MetricData"]} == {"PluginId"}


def test_report_timeout_line_in_an_earlier_document_still_marks_the_report():
    rid = "5a1b2c3d-0000-4000-8000-000000000001"
    first = t.make_document([f"2024-05-01T12:00:03.003Z {rid} Task timed out after 3.00 seconds\n"])
    second = t.make_document(
        [
            f"END RequestId: {rid}\n",
            f"REPORT RequestId: {rid}\tDuration: 3003.12 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 40 MB\t\n",
        ]
    )
    stdin = b"".join(msgspec.json.encode(t.lambda_event(d)) + b"\n" for d in (first, second))
    out = lines(run_cli("report", stdin=stdin).stdout)
    assert [(r["requestId"], r["timeout"], r["status"]) for r in out] == [(rid, True, "timeout")]


def test_given_fluentd_status_as_plain_lines_then_no_timestamp_and_from_tail_text_its_time():
    """The README listed ``timestamp`` as always there; a plain log line has no time (fluentd's
    status body holds none), so the key is left out, as logGroup, logStream and tag are."""
    status = '{"plugin_id":"out_s3","buffer_queue_length":2,"retry_count":1}'
    plain = lines(run_cli("fluentd", stdin=(status + "\n").encode()).stdout)
    assert plain == [{"plugin_id": "out_s3", "buffer_queue_length": 2, "retry_count": 1}]
    tail = f"2024-05-01T12:00:00.250000+00:00 fluentd/abc {status}\n"
    timed = lines(run_cli("fluentd", "--group", "/ecs/fluentd", stdin=tail.encode()).stdout)
    assert timed == [
        {
            "plugin_id": "out_s3",
            "buffer_queue_length": 2,
            "retry_count": 1,
            "timestamp": 1714564800250,
            "logGroup": "/ecs/fluentd",
            "logStream": "fluentd/abc",
        }
    ]


def test_given_the_same_payload_twice_when_report_fluentd_metrics_then_each_event_counts_once(tmp_path):
    """A Firehose object holding a retried batch, or a file given twice: the same CloudWatch
    events again are not more invocations or statuses (report, --summary, fluentd, metrics)."""
    report = (
        "REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 64 MB\t\n"
    )
    status = '2025-11-24 16:00:00 +0000 monitor.metrics: {"plugin_id":"out_es","retry_count":2}\n'
    doc = t.make_document([report, status], log_group="/aws/lambda/checkout")
    path = tmp_path / "event.json"
    path.write_text(json.dumps(t.lambda_event(doc)))
    twice = (str(path), str(path))

    assert [r["requestId"] for r in lines(run_cli("report", *twice).stdout)] == ["r-1"]
    table = run_cli("report", "--summary", *twice).stdout.decode().splitlines()
    assert table[1].split()[:2] == ["checkout", "1"]  # one invocation
    assert [s["plugin_id"] for s in lines(run_cli("fluentd", *twice).stdout)] == ["out_es"]
    requests = lines(run_cli("metrics", "--format", "put-metric-data", *twice).stdout)
    counts = {
        d["MetricName"]: sum(d["Counts"])
        for r in requests
        for d in r["MetricData"]
        if d["MetricName"] in ("Invocations", "retry_count")
    }
    assert counts == {"Invocations": 1, "retry_count": 1}
