"""The benchmarks compare like with like: every candidate returns the same events, the fast and
general REPORT paths agree, and the metric aggregation they count is the one the sinks send."""

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


def test_pipeline_benchmark_compares_like_with_like():
    from benchmarks import pipeline

    pipeline.check()
