"""The benchmarks compare like with like: every candidate returns the same events, the fast and
general REPORT paths agree, and the metric aggregation they count is the one the sinks send."""

import pytest

from benchmarks import decode, putmetricdata, reports


def test_decode_candidates_agree_on_every_event(codec):
    decode.check(size=50)


def test_report_parsers_agree():
    reports.check()


def test_putmetricdata_requests_are_counted_from_the_real_aggregation():
    out = putmetricdata.measure()
    assert out["data points"] > out["reports"] * 8
    assert 1 <= out["logstream (Values/Counts per minute, 1,000 datums/1 MB per request)"] <= 10


def test_cli_streaming_benchmarks_measure_a_real_run():
    from benchmarks import cli

    latencies = cli.first_line_latency("base64", documents=2, pause=0)
    assert len(latencies) == 1 and latencies[0] > 0
    m = cli.peak_rss(["report", "--summary"], 1 << 20, chunk=cli._chunk(1 << 20))
    assert m["input"] >= 1 << 20 and m["rss"] > 10 << 20


def test_cli_output_and_error_benchmarks_read_everything_written():
    from benchmarks import cli

    # outputs() checks that a pipe and a socket each deliver every byte a capture run gets
    times = cli.outputs(rounds=1, payloads=3)
    assert set(times) == {"devnull", "pipe", "socket"} and min(times.values()) > 0
    e = cli.errors(rounds=1, lines=50)
    assert e["errors"] == 50  # one error line per broken payload


def test_pipeline_benchmark_compares_like_with_like():
    from benchmarks import pipeline

    pipeline.check()


def test_handler_benchmark_compares_like_with_like():
    from benchmarks import handlers

    handlers.check()


def test_record_format_costs_follow_the_bytes_sent():
    from benchmarks import handlers

    costs = handlers.format_costs(events=2_000)
    assert costs["ndjson-gzip"]["bytes_per_event"] < costs["ndjson"]["bytes_per_event"] / 5
    assert costs["cloudwatch"]["bytes_per_event"] < costs["ndjson"]["bytes_per_event"] / 5
    # 2,000 events of ~390 bytes as NDJSON: one record of ~0.8 MB (rounding to 1 KiB is noise):
    # a million events are ~0.39 GB, at $0.08 per GB on Kinesis on-demand and $0.029 on Firehose
    nd = costs["ndjson"]
    assert nd["records"] == 1 and 380 < nd["bytes_per_event"] < 400
    assert nd["kinesis_usd_per_million"] == pytest.approx(nd["bytes_per_event"] * 0.08e-3, rel=0.01)
    assert nd["firehose_usd_per_million"] == pytest.approx(nd["bytes_per_event"] * 0.029e-3, rel=0.01)
