"""The processing pipeline on the 10,000-event payload: every stage on, each stage alone, and the
pipeline with every stage off, against what ``logstream decode`` does today (decode + NDJSON)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from logstream import decode_log_stream
from logstream.ndjson import event_lines
from logstream.process import Pipeline, PipelineConfig

from .harness import compare
from .payloads import lambda_event

EVENTS = 10_000

#: Every stage on: what a user turning everything on would configure.
ALL = {
    "PARSE_MESSAGES": "true",
    "JOIN_MULTILINE": "true",
    "EXCLUDE_PATTERN": "GET /health",
    "MIN_LEVEL": "DEBUG",
    "SAMPLE_RATE": "0.5",
    "REDACT": "all",
    "ENRICH": "true",
    "TAGS": "team=payments,env=prod",
    "AWS_REGION": "us-east-1",
}
#: Each stage alone (parse without the enrichment it turns on by default).
STAGES = {
    "parse": {"PARSE_MESSAGES": "true", "ENRICH": "false"},
    "join": {"JOIN_MULTILINE": "true"},
    "include/exclude": {"INCLUDE_PATTERN": "RequestId|level|INFO|WARN", "EXCLUDE_PATTERN": "GET /health"},
    "min level (parses for levels)": {"MIN_LEVEL": "INFO"},
    "sample 0.5 (parses dropped ones)": {"SAMPLE_RATE": "0.5"},
    "redact all": {"REDACT": "all"},
    "enrich": {"ENRICH": "true", "AWS_REGION": "us-east-1"},
    "tags": {"TAGS": "team=payments"},
}


def _pipelines() -> dict[str, Pipeline]:
    out = {"all": Pipeline(PipelineConfig.from_env(ALL)), "off": Pipeline(PipelineConfig.from_env({}))}
    for name, env in STAGES.items():
        out[name] = Pipeline(PipelineConfig.from_env(env))
    return out


def check(size: int = 200) -> None:
    """Like with like: the pipeline with every stage off writes ``logstream decode``'s bytes, and
    every configuration runs on the payload."""
    event = lambda_event(size)
    stream = decode_log_stream(event)
    pipelines = _pipelines()
    assert not pipelines["off"].enabled
    assert pipelines["off"].lines(stream) == event_lines(stream)
    for name, p in pipelines.items():
        assert p.enabled == (name != "off"), name
        p.lines(stream)


def measure(*, rounds: int = 15) -> dict[str, Any]:
    """Seconds per call for decode alone, decode + lines, and decode + pipeline lines."""
    event = lambda_event(EVENTS)
    pipelines = _pipelines()
    calls: dict[str, Callable[[], Any]] = {
        "decode": lambda: decode_log_stream(event),
        "decode+lines": lambda: event_lines(decode_log_stream(event)),
    }
    for name, p in pipelines.items():
        calls[name] = lambda p=p: p.lines(decode_log_stream(event))
    return compare(calls, rounds=rounds)


#: 256 KB events built to make a regex backtrack (long runs a rule's first part takes, then a
#: secret): redaction must stay linear in the event's size.
HOSTILE = {
    "hex run": "deadbeef" * 32_000,
    "dotted run": "a." * 128_000,
    "digit run": "1" * 256_000,
    "dotted digits": "1." * 128_000,
    "colon run": "a:" * 128_000,
    "bearer run": "Bearer " + "x" * 256_000,
    "dashed run": "a-" * 128_000,
}


def hostile(*, rounds: int = 3) -> dict[str, float]:
    """Seconds per 256 KB hostile event through every stage (the slowest of ``rounds``)."""
    from logstream.testing import make_document

    pipeline = Pipeline(PipelineConfig.from_env(ALL))
    out = {}
    for name, body in HOSTILE.items():
        stream = decode_log_stream(make_document([body + " mail bob@example.org from 10.0.0.1\n"]))
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            pipeline.lines(stream)
            times.append(time.perf_counter() - t0)
        out[name] = max(times)
    return out


def escaped_json(*, rounds: int = 7) -> dict[str, float]:
    """10,000 JSON log lines whose strings hold escapes (a Python traceback in ``stack``): the
    messages redaction must decode and search as objects. Seconds per call for decode + NDJSON
    and for ``REDACT=all`` with and without parsing."""
    from logstream.testing import lambda_event as wrap
    from logstream.testing import make_document

    stack = (
        'Traceback (most recent call last):\\n  File \\"/var/task/app.py\\", line {n}, in handler\\n'
        "    charge(order)\\nValueError: card declined"
    )
    lines = [
        f'{{"level":"ERROR","msg":"payment failed","order":"o-{i}","stack":"{stack.format(n=i % 400)}"}}\n'
        for i in range(EVENTS)
    ]
    event = wrap(make_document(lines, log_group="/aws/lambda/checkout-api"))
    redact = Pipeline(PipelineConfig.from_env({"REDACT": "all"}))
    both = Pipeline(PipelineConfig.from_env({"REDACT": "all", "PARSE_MESSAGES": "true", "ENRICH": "false"}))
    return compare(
        {
            "decode+lines": lambda: event_lines(decode_log_stream(event)),
            "redact": lambda: redact.lines(decode_log_stream(event)),
            "redact+parse": lambda: both.lines(decode_log_stream(event)),
        },
        rounds=rounds,
    )
