"""Record formats at small limits: every record within the limit, nothing lost, what cannot fit
reported as Oversize (the forwarder dead-letters it with its data)."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from logstream import decode_log_stream
from logstream import testing as t
from logstream.ndjson import event_lines
from logstream.sinks import Oversize, Record, event_records


def stream(messages):
    return decode_log_stream(t.lambda_event(t.make_document(messages, log_group="/g", log_stream="s")))


def noise(rng, n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


@pytest.mark.parametrize("limit", [2_000, 5_000, 50_000])
def test_given_ndjson_gzip_then_every_record_fits_and_the_lines_come_back_in_order(limit):
    rng = random.Random(limit)
    s = stream([noise(rng, rng.randint(10, 1_500)) for _ in range(300)])  # barely compressible
    out = list(event_records([s], limit, record_format="ndjson-gzip"))
    assert all(isinstance(r, Record) for r in out)
    assert all(len(r.data) + len(r.partition_key) <= limit for r in out)
    assert b"".join(gzip.decompress(r.data) for r in out) == event_lines(s)
    assert sum(r.events for r in out) == 300


def test_given_ndjson_gzip_and_a_line_longer_than_the_record_then_it_leaves_in_parts():
    rng = random.Random(1)
    message = noise(rng, 6_000)
    out = list(event_records([stream([message])], 2_000, record_format="ndjson-gzip"))
    parts = [json.loads(line) for r in out for line in gzip.decompress(r.data).splitlines()]
    assert len(parts) > 3 and all(len(r.data) + 1 <= 2_000 for r in out)
    assert "".join(p["message"] for p in parts) == message
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))


def test_given_cloudwatch_format_then_a_document_that_fits_is_sent_as_received():
    s = stream(["a\n", "b\n"])
    (record,) = event_records([s], 10_000, record_format="cloudwatch")
    assert gzip.decompress(record.data) == s.raw and record.events == 2


def test_given_cloudwatch_format_and_one_event_whose_document_cannot_fit_then_it_is_oversize():
    rng = random.Random(2)
    s = stream(["small\n", noise(rng, 8_000), "small again\n"])
    out = list(event_records([("tag", s)], 4_000, record_format="cloudwatch"))
    kinds = [type(x).__name__ for x in out]
    assert kinds == ["Record", "Oversize", "Record"]
    (big,) = [x for x in out if isinstance(x, Oversize)]
    assert json.loads(big.line)["logEvents"][0]["message"] == s.log_events[1].message and big.tag == "tag"
    assert [
        json.loads(gzip.decompress(x.data))["logEvents"][0]["message"] for x in out if isinstance(x, Record)
    ] == [
        "small\n",
        "small again\n",
    ]


def test_given_a_pipeline_line_with_json_then_its_parts_leave_the_parsed_copy_out():
    from logstream.process import Pipeline, PipelineConfig

    body = json.dumps({"level": "INFO", "message": "x" * 3_000})
    s = stream([body])
    pipeline = Pipeline(PipelineConfig(parse=True))
    out = list(event_records([s], 1_500, lines=pipeline.lines))
    parts = [json.loads(line) for r in out for line in r.data.splitlines()]
    assert len(parts) > 2 and all("json" not in p and p["level"] == "INFO" for p in parts)
    assert "".join(p["message"] for p in parts) == body


def test_given_an_unknown_format_then_value_error():
    with pytest.raises(ValueError, match="avro"):
        list(event_records([stream(["a"])], 1_000, record_format="avro"))
