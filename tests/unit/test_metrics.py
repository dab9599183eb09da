"""Metric data, aggregation into PutMetricData requests and EMF documents."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from urllib.parse import urlencode

import pytest

from logstream import limits
from logstream.metrics import Datum, Pricing, estimated_cost, fluentd_data, report_data
from logstream.parsers.fluentd import parse_status
from logstream.parsers.lambda_report import InvocationReport, parse_report
from logstream.sinks.cloudwatch import put_metric_data_requests
from logstream.sinks.emf import emf_documents
from logstream.sinks.metric_data import problem

MINUTE = 1_700_000_040_000  # a minute boundary


def _reports(n=10_000, functions=50, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            InvocationReport(
                f"req-{i}",
                round(rnd.uniform(1, 900), 3),
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


@pytest.mark.parametrize(("billed", "memory"), [(-100.0, 512), (100.0, -512), (-1.0, -1)])
def test_given_a_hand_built_report_with_a_negative_billed_duration_or_memory_then_no_cost(billed, memory):
    r = InvocationReport("x", 95.0, billed_duration_ms=billed, memory_size_mb=memory)

    assert estimated_cost(r) is None
    assert "EstimatedCost" not in [d.name for d in report_data(r)]


def test_given_zero_billed_duration_then_the_cost_is_the_request_price():
    r = InvocationReport("x", 0.0, billed_duration_ms=0.0, memory_size_mb=512)

    assert estimated_cost(r) == pytest.approx(0.2e-6)


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


def wire_bytes(request, protocol):
    """The request body botocore sends for ``protocol`` (its own serializer, no network)."""
    import botocore.session
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("cloudwatch")
    body = create_serializer(protocol).serialize_to_request(request, model.operation_model("PutMetricData"))[
        "body"
    ]
    return len(urlencode(body, doseq=True).encode() if isinstance(body, dict) else body)


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_given_10k_reports_50_functions_in_one_minute_then_few_requests_each_under_1mb_on_the_wire(protocol):
    reports = _reports()
    data = [d for r in reports for d in report_data(r)]
    requests = put_metric_data_requests("Logstream/Lambda", data, protocol)
    if protocol != "query":  # botocore's protocol today; query is sized for old versions
        assert len(requests) <= 5
    for req in requests:
        assert len(req["MetricData"]) <= limits.PUT_METRIC_DATA_MAX_DATUMS
        assert wire_bytes(req, protocol) <= limits.PUT_METRIC_DATA_MAX_BYTES
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


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_requests_are_cut_under_1mb_as_encoded(protocol):
    data = [Datum("M", i * 1.000001, "Count", MINUTE, (("K", f"v{i % 2000}"),)) for i in range(300_000)]
    requests = put_metric_data_requests("ns", data, protocol)
    assert len(requests) > 1
    for req in requests:
        assert wire_bytes(req, protocol) <= limits.PUT_METRIC_DATA_MAX_BYTES


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


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("REPORT RequestId: a\tDuration: 1.0 ms\tMemory Size: inf MB\t", "not a report"),
        (
            "REPORT RequestId: a\tDuration: nan ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t",
            "value not finite",
        ),
        (
            "REPORT RequestId: a\tDuration: "
            + "9" * 400
            + " ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t",
            "value not finite",
        ),
    ],
)
def test_given_odd_report_lines_then_only_the_odd_datum_is_refused(line, why):
    report = parse_report(line)
    if why == "not a report":
        assert report is None
        return
    data = report_data(dataclasses.replace(report, timestamp=MINUTE, function_name="f"))
    problems = {d.name: problem(d, MINUTE) for d in data}
    assert problems["Duration"] == why
    assert problems["Invocations"] is None and problems["BilledDuration"] is None


def test_given_a_400_digit_memory_size_then_no_derived_metric_and_no_exception():
    report = parse_report(
        "REPORT RequestId: a\tDuration: 1.0 ms\tBilled Duration: 1 ms\tMemory Size: "
        + "9" * 400
        + " MB\tMax Memory Used: 64 MB\t"
    )
    names = {d.name for d in report_data(dataclasses.replace(report, timestamp=MINUTE))}
    assert "MemoryUtilization" not in names and "EstimatedCost" not in names and "Invocations" in names


@pytest.mark.parametrize(
    ("value", "timestamp", "dims", "why"),
    [
        (math.inf, MINUTE, (("F", "f"),), "value not finite"),
        (2.0**361, MINUTE, (("F", "f"),), "value out of range"),
        (10**400, MINUTE, (("F", "f"),), "value out of range"),
        (1.0, MINUTE - 15 * 86_400_000, (("F", "f"),), "timestamp outside the accepted window"),
        (1.0, MINUTE + 3 * 3_600_000, (("F", "f"),), "timestamp outside the accepted window"),
        (1.0, MINUTE, (("F", " "),), "dimension value empty, too long or not ASCII"),
        (1.0, MINUTE, (("F", "é"),), "dimension value empty, too long or not ASCII"),
        (1.0, MINUTE, (("_aws", "x"),), "dimension name empty, too long or reserved"),
        (2.0**-100, MINUTE, (("F", "f"),), None),
    ],
)
def test_each_datum_is_checked_on_its_own(value, timestamp, dims, why):
    assert problem(Datum("M", value, "Count", timestamp, dims), MINUTE) == why


def test_emf_same_name_in_two_units_goes_to_two_documents():
    dims = (("F", "f"),)
    docs = emf_documents("ns", [Datum("M", 1, "Count", MINUTE, dims), Datum("M", 2, "Bytes", MINUTE, dims)])
    assert [(d["M"], d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in docs] == [
        (1.0, [{"Name": "M", "Unit": "Count"}]),
        (2.0, [{"Name": "M", "Unit": "Bytes"}]),
    ]
