"""Typed decode vs the stdlib floor and Powertools, at 1, 100, 1,000 and 10,000 events."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from typing import Any

import orjson

from logstream import decode, decode_log_stream

from .payloads import lambda_event

SIZES = (1, 100, 1_000, 10_000)


def floor(event: dict) -> list[dict]:
    """The stdlib floor: base64 + zlib + orjson into dicts."""
    return orjson.loads(zlib.decompress(base64.b64decode(event["awslogs"]["data"]), 31))["logEvents"]


def logstream_typed(event: dict) -> Any:
    return decode_log_stream(event).log_events


def powertools(event: dict) -> Any:
    from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

    return CloudWatchLogsEvent(event).parse_logs_data().log_events


def _with_accelerators(enabled: bool, fn: Callable[[dict], Any]) -> Callable[[dict], Any]:
    def run(event: dict) -> Any:
        decode.use_accelerators(enabled)
        try:
            return fn(event)
        finally:
            decode.use_accelerators(True)

    return run


CANDIDATES: dict[str, Callable[[dict], Any]] = {
    "floor (stdlib b64+zlib, orjson dicts)": floor,
    "logstream (pybase64+isal, typed)": logstream_typed,
    "logstream pure (stdlib, typed)": _with_accelerators(False, logstream_typed),
    "Powertools CloudWatchLogsEvent": powertools,
}


def _fields(e: Any) -> tuple:
    if isinstance(e, dict):
        return e["id"], e["timestamp"], e["message"]
    return getattr(e, "id", None) or e.get_id, e.timestamp, e.message


def check(size: int = 100) -> None:
    """Every candidate decodes the same events (run before timing, and by the test suite)."""
    event = lambda_event(size)
    want = [(e["id"], e["timestamp"], e["message"]) for e in floor(event)]
    for name, fn in CANDIDATES.items():
        got = [_fields(e) for e in fn(event)]
        assert got == want, name
