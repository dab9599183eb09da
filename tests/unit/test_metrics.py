"""Metric data, aggregation into PutMetricData requests and EMF documents."""

from __future__ import annotations

import random
from collections import Counter

import msgspec
import pytest

from logstream import limits
from logstream.metrics import (
    Datum,
    Pricing,
    emf_documents,
    estimated_cost,
    fluentd_data,
    put_metric_data_requests,
    report_data,
)
from logstream.parsers.fluentd import parse_status
from logstream.parsers.lambda_report import InvocationReport

MINUTE = 1_700_000_040_000  # a minute boundary


def _reports(n=10_000, functions=50, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            InvocationReport(
                f"req-{i}",
                round(rnd.uniform(1, 900), 2),
                billed_duration_ms=float(rnd.randint(1, 900)),
                memory_size_mb=128,
                max_memory_used_mb=rnd.randint(40, 128),
                init_duration_ms=150.5 if i % 25 == 0 else None,
                timestamp=MINUTE + rnd.randint(0, 59_999),
                function_name=f"fn-{i % functions}",
                timeout=i % 97 == 0,
            )
        )
    return out


def test_cost_uses_billed_duration_memory_and_architecture():
    r = InvocationReport("x", 95.0, billed_duration_ms=100.0, memory_size_mb=512, init_duration_ms=300.0)
    assert estimated_cost(r) == pytest.approx(0.1 * 0.5 * 0.0000166667 + 0.2e-6)
    assert estimated_cost(r, Pricing(architecture="arm64")) == pytest.approx(
        0.1 * 0.5 * 0.0000133334 + 0.2e-6
    )
    assert estimated_cost(InvocationReport("x", 1.0)) is None  # managed instances: no billed duration


def test_report_data_names_units_and_dimension():
    r = InvocationReport(
        "x",
        95.0,
        billed_duration_ms=100.0,
        memory_size_mb=512,
        max_memory_used_mb=128,
        init_duration_ms=300.0,
        timestamp=MINUTE,
        function_name="fn",
    )
    data = {d.name: (d.value, d.unit) for d in report_data(r)}
    assert data["MemoryUtilization"] == (25.0, "Percent")
    assert data["ColdStart"] == (1, "Count") and data["InitDuration"] == (300.0, "Milliseconds")
    assert data["MaxMemoryUsed"] == (128, "Megabytes")
    assert {d.dimensions for d in report_data(r)} == {(("FunctionName", "fn"),)}
    assert {d.timestamp for d in report_data(r)} == {MINUTE}  # from the event, not the clock


def test_given_10k_reports_50_functions_then_at_most_5_requests_with_exact_samples():
    reports = _reports()
    data = [d for r in reports for d in report_data(r)]
    requests = put_metric_data_requests("Logstream/Lambda", data)
    assert len(requests) <= 5
    for req in requests:
        assert len(req["MetricData"]) <= limits.PUT_METRIC_DATA_MAX_DATUMS
        for datum in req["MetricData"]:
            assert len(datum["Values"]) == len(datum["Counts"]) <= limits.PUT_METRIC_DATA_MAX_VALUES
    # every Duration sample is recoverable exactly from Values/Counts
    got: dict[str, Counter] = {}
    for req in requests:
        for datum in req["MetricData"]:
            if datum["MetricName"] == "Duration":
                fn = datum["Dimensions"][0]["Value"]
                got.setdefault(fn, Counter()).update(dict(zip(datum["Values"], datum["Counts"], strict=True)))
    want: dict[str, Counter] = {}
    for r in reports:
        want.setdefault(r.function_name, Counter())[r.duration_ms] += 1
    assert got == want


def test_requests_are_cut_under_1mb():
    data = [Datum("M", float(i), "Count", MINUTE, (("K", f"v{i % 2000}"),)) for i in range(300_000)]
    requests = put_metric_data_requests("ns", data)
    assert len(requests) > 1
    for req in requests:
        # the query-protocol encoding is the largest botocore could send
        size = sum(
            len(msgspec.json.encode(d)) + 48 * (6 + 2 * len(d["Dimensions"]) + 2 * len(d["Values"]))
            for d in req["MetricData"]
        )
        assert size < limits.PUT_METRIC_DATA_MAX_BYTES


def test_emf_keeps_every_sample_within_limits():
    reports = _reports(n=2_000, functions=5)
    data = [d for r in reports for d in report_data(r)]
    docs = emf_documents("Logstream/Lambda", data)
    samples: Counter = Counter()
    for doc in docs:
        meta = doc["_aws"]["CloudWatchMetrics"][0]
        assert len(meta["Metrics"]) <= limits.EMF_MAX_METRICS
        assert isinstance(doc["_aws"]["Timestamp"], int)
        for m in meta["Metrics"]:
            values = doc[m["Name"]] if isinstance(doc[m["Name"]], list) else [doc[m["Name"]]]
            assert len(values) <= limits.EMF_MAX_VALUES
            if m["Name"] == "Duration":
                samples.update((doc["FunctionName"], v) for v in values)
    assert samples == Counter((r.function_name, r.duration_ms) for r in reports)


def test_fluentd_data_numeric_counters_only():
    (status,) = parse_status(
        '{"plugin_id":"out_es","output_plugin":true,"buffer_queue_length":1,'
        '"buffer_total_queued_size":117,"retry_count":4,"type":"elasticsearch"}'
    )
    data = {d.name: (d.value, d.unit, d.dimensions) for d in fluentd_data(status)}
    assert data == {
        "buffer_queue_length": (1, "Count", (("PluginId", "out_es"),)),
        "buffer_total_queued_size": (117, "Bytes", (("PluginId", "out_es"),)),
        "retry_count": (4, "Count", (("PluginId", "out_es"),)),
    }
    (inp,) = parse_status('{"plugin_id":"in_forward","retry_count":null}')
    assert fluentd_data(inp) == []  # null stays null, never a zero metric
