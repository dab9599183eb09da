"""The operations dashboard in sam-template.yaml shows what the handlers really emit: its body is
read after the template's substitutions (parameter defaults, the region), every widget's metric
is looked up among the EMF documents the handlers print for real input, and the dashboard covers
what operators ask for (duration percentiles, cold starts, timeouts, OOMs, memory, cost, fluentd
buffers and retries, every self-metric)."""

from __future__ import annotations

import io
import json
import re
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from handlers._config import Config
from handlers._selfmetrics import METRICS
from logstream import testing as t
from logstream.sinks import EmfSink
from tests.lambda_sim import Context
from tests.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SEARCH = re.compile(r"^SEARCH\('\{([^,}]+),([^}]+)\} MetricName=\"([^\"]+)\"', '(\w+)', (\d+)\)$")


@pytest.fixture(scope="module")
def dashboard() -> dict:
    template = load_template()
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    values["AWS::Region"] = "eu-west-1"

    def sub(m: re.Match) -> str:
        return values[m.group(1)]  # a KeyError: a substitution CloudFormation could not make

    return json.loads(re.sub(r"\$\{([^}!]+)\}", sub, body))


def metric_widgets(dashboard):
    return [w for w in dashboard["widgets"] if w["type"] == "metric"]


def referenced(dashboard) -> list[tuple[str, frozenset[str], str, str]]:
    """``(namespace, dimension names, metric name, statistic)`` of every metric of every widget."""
    out = []
    for widget in metric_widgets(dashboard):
        for (query,) in widget["properties"]["metrics"]:
            m = SEARCH.match(query["expression"])
            assert m, query
            namespace, dims, name, stat, period = m.groups()
            assert int(period) == widget["properties"]["period"] == 300
            out.append((namespace, frozenset(dims.split(",")), name, stat))
    return out


def emitted_by_handlers(handler_modules) -> set[tuple[str, frozenset[str], str]]:
    """Run the metrics handlers and the Firehose transform on real-looking input and collect
    ``(namespace, dimension names, metric name)`` from every EMF document they print. The modules
    are the ones every test shares (``handler_modules``): Powertools configures a service's logger
    once per process, so importing them here with another log level would change what the
    handler tests see of their logs."""
    now = int(time.time() * 1000) - 1000
    report = "REPORT RequestId: r{0}\tDuration: 10.0 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
    lines = [
        report.format(1) + "Max Memory Used: 64 MB\tInit Duration: 120.5 ms\t\n",
        report.format(2) + "Max Memory Used: 128 MB\tStatus: timeout\n",
        report.format(3) + "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n",
    ]
    reports = t.make_document([(now, x) for x in lines], log_group="/aws/lambda/checkout")
    status = {
        "plugin_id": "out_s3",
        "plugin_category": "output",
        "buffer_queue_length": 2,
        "buffer_total_queued_size": 4096,
        "retry_count": 1,
    }
    fluentd = t.make_document([(now, json.dumps(status))], log_group="/ecs/fluentd")
    out = io.StringIO()
    with redirect_stdout(out):
        lambda_metrics = handler_modules["lambda_metrics"]
        fluentd_metrics = handler_modules["fluentd_metrics"]
        transform = handler_modules["firehose_transform"]
        lambda_metrics.build(Config.load({}), sink=EmfSink("Logstream/Lambda"))(
            t.lambda_event(reports), Context()
        )
        fluentd_metrics.build(Config.load({}), sink=EmfSink("fluentd"))(t.lambda_event(fluentd), Context())
        transform.build(Config.load({}))(t.firehose_event([reports]), Context())
    found = set()
    for line in out.getvalue().splitlines():
        doc = json.loads(line)
        if "_aws" not in doc:  # the handlers' own log lines (JSON too)
            continue
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            (dims,) = directive["Dimensions"]
            for metric in directive["Metrics"]:
                found.add((directive["Namespace"], frozenset(dims), metric["Name"]))
    return found


def test_given_the_dashboard_body_then_every_widget_metric_is_one_a_handler_emits(dashboard, handler_modules):
    emitted = emitted_by_handlers(handler_modules)
    refs = referenced(dashboard)
    assert refs
    missing = [(ns, sorted(d), name) for ns, d, name, _ in refs if (ns, d, name) not in emitted]
    assert missing == []
    assert all(w["properties"]["region"] == "eu-west-1" for w in metric_widgets(dashboard))


def test_given_the_dashboard_then_it_shows_what_operators_ask_for(dashboard):
    shown = {(ns, name, stat) for ns, _, name, stat in referenced(dashboard)}
    lam = "Logstream/Lambda"  # the MetricsNamespace default
    for stat in ("p50", "p95", "p99"):
        assert (lam, "Duration", stat) in shown
    for name in ("ColdStart", "Timeout", "OutOfMemory", "EstimatedCost"):
        assert (lam, name, "Sum") in shown
    assert (lam, "MemoryUtilization", "Maximum") in shown
    assert {("fluentd", n, "Maximum") for n in ("buffer_queue_length", "retry_count")} <= shown
    assert {name for ns, name, _ in shown if ns == "Logstream/Pipeline"} == {name for name, _ in METRICS}


def test_given_the_widgets_then_they_sit_on_the_24_column_grid_without_overlap(dashboard):
    cells = set()
    for w in dashboard["widgets"]:
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24
        area = {
            (x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])
        }
        assert not area & cells, w["properties"].get("title")
        cells |= area
