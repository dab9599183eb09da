"""The self-metrics document (handlers/_selfmetrics.py): built from a template, it holds what
``Tally.values`` says, in the order of ``METRICS``."""

from __future__ import annotations

import json

import pytest

from handlers._selfmetrics import METRICS, Tally, emf_document


@pytest.mark.parametrize("events_out", [0, 4])
def test_given_every_count_set_then_the_document_holds_the_tallys_values_in_metrics_order(events_out):
    tally = Tally(
        events_in=7,
        events_out=events_out,
        control_messages=1,
        decode_errors=2,
        retries=3,
        failed_entries=5,
        bytes_out=1234,
        oldest_ms=1_000,
        stages={"patterns": 2, "min_level": 1, "sample": 3, "join": 9},
    )

    doc = json.loads(emf_document(tally, 'fn "quoted"', 61_000))

    expected = {
        "EventsIn": 7,
        "EventsOut": events_out,
        "ControlMessages": 1,
        "DroppedFiltered": 3,  # patterns + min_level
        "DroppedSampled": 3,
        "JoinedEvents": 9,
        "DecodeErrors": 2,
        "Retries": 3,
        "FailedEntries": 5,
        "BytesOut": 1234,
        **({"DeliveryLatency": 60_000} if events_out else {}),  # only when something went out
    }
    assert tally.values(61_000) == expected
    assert {k: v for k, v in doc.items() if k != "_aws"} == {"FunctionName": 'fn "quoted"', **expected}
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert [m["Name"] for m in directive["Metrics"]] == list(expected)
    assert [k for k in doc if k not in ("_aws", "FunctionName")] == [n for n, _ in METRICS if n in expected]
    assert doc["_aws"]["Timestamp"] == 61_000
