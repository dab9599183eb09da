"""Per-invocation overhead of the handlers, and what each record format costs on the wire.

The metrics handler (decode, parse REPORT lines, EMF, its self-metrics document, Powertools'
logger) against its library path (decode, parse, EMF documents) on the same event; the
forwarder's records for the 10,000-event payload in each RECORD_FORMAT, with the Kinesis and
Firehose prices of ``logstream.limits``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from logstream import decode_log_stream, limits
from logstream import testing as t
from logstream.metrics import Pricing, report_data
from logstream.parsers.lambda_report import iter_reports
from logstream.sinks import Record, event_records
from logstream.sinks.emf import EmfSink

from .harness import compare
from .payloads import lambda_event, messages

SIZES = (1, 10, 100)
FORMAT_EVENTS = 10_000


class _Null(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


class _Context:
    function_name = "logstream-lambda-metrics"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logstream-lambda-metrics"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Stdout to nowhere (EMF lines), Powertools at its production level (INFO)."""
    with contextlib.redirect_stdout(_Null()):
        yield


def _handler() -> Callable[[dict[str, Any], Any], Any]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    from handlers import lambda_metrics
    from handlers._config import Config

    return lambda_metrics.build(Config.load({}), sink=EmfSink("Logstream/Lambda", stream=_Null()))


def metrics_event(n: int) -> dict[str, Any]:
    """A subscription event of ``n`` fresh Lambda log events (one event: a REPORT line)."""
    msgs = messages(max(n, 5))
    msgs = msgs[4:5] if n == 1 else msgs[:n]
    doc = t.make_document(
        msgs, log_group="/aws/lambda/checkout-api", start_ms=int(time.time() * 1000) - 60_000
    )
    return t.lambda_event(doc)


_PRICING = Pricing()
_SINK = EmfSink("Logstream/Lambda", stream=_Null())


def library_path(event: dict[str, Any], pricing: Pricing = _PRICING) -> Any:
    """What the handler does, as library calls: decode, REPORT -> data, EMF on (null) stdout."""
    stream = decode_log_stream(event)
    return _SINK.send([d for r in iter_reports([stream]) for d in report_data(r, pricing)])


def check() -> None:
    """Like with like: both paths find the same reports in each event."""
    handler = _handler()
    for n in SIZES:
        event = metrics_event(n)
        with _quiet():
            reports = handler(event, _Context())["reports"]
        assert reports == len(list(iter_reports([decode_log_stream(event)]))), n


def measure_handler(*, rounds: int = 15) -> dict[int, dict[str, float]]:
    handler = _handler()
    out = {}
    with _quiet():
        for n in SIZES:
            event = metrics_event(n)
            out[n] = compare(
                {
                    "handler": lambda event=event: handler(event, _Context()),
                    "library": lambda event=event: library_path(event),
                },
                rounds=rounds,
            )
    return out


# ------------------------------------------------------------------ record formats and prices
def format_costs(events: int = FORMAT_EVENTS) -> dict[str, dict[str, float]]:
    """Per record format: bytes per event on the wire, records, and USD per million events for
    Kinesis on-demand (per GB ingested, each record rounded up to 1 KiB) and Firehose Direct PUT
    (per GB ingested, each record rounded up to 5 KiB)."""
    stream = decode_log_stream(lambda_event(events))
    out: dict[str, dict[str, float]] = {}
    for fmt in ("ndjson", "ndjson-gzip", "cloudwatch"):
        kin = [r for r in event_records([stream], limits.KINESIS_MAX_RECORD_BYTES, record_format=fmt)]
        fh = [r for r in event_records([stream], limits.FIREHOSE_MAX_RECORD_BYTES, record_format=fmt)]
        assert all(isinstance(r, Record) for r in kin + fh)
        kin_bytes = sum(len(r.data) + len(r.partition_key) for r in kin if isinstance(r, Record))
        kin_billed = sum(
            _round_up(len(r.data) + len(r.partition_key), limits.KINESIS_ON_DEMAND_BILLING_UNIT_BYTES)
            for r in kin
            if isinstance(r, Record)
        )
        fh_billed = sum(
            _round_up(len(r.data), limits.FIREHOSE_BILLING_UNIT_BYTES) for r in fh if isinstance(r, Record)
        )
        per_million = 1_000_000 / events
        out[fmt] = {
            "bytes_per_event": kin_bytes / events,
            "records": len(kin),
            "kinesis_usd_per_million": kin_billed
            * per_million
            / 1e9
            * limits.KINESIS_ON_DEMAND_USD_PER_GB_INGESTED,
            "firehose_usd_per_million": fh_billed * per_million / 1e9 * limits.FIREHOSE_USD_PER_GB_INGESTED,
        }
    return out


def _round_up(n: int, unit: int) -> int:
    return math.ceil(n / unit) * unit
