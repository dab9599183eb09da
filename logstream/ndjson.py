"""The NDJSON event lines of ``logstream decode``, shared by the CLI and the Kinesis/Firehose sinks."""

from __future__ import annotations

import msgspec

from .models import LogEvent, LogStream

__all__ = ["event_lines"]

_enc = msgspec.json.Encoder()
_EVENTS_SEP = b'},{"id":'


def event_lines(stream: LogStream, events: tuple[LogEvent, ...] | None = None) -> bytes:
    """The NDJSON lines of ``logstream decode`` for one stream: one event per line with context.

    Encodes all events in one call, then splices the stream context in at each event boundary
    (``},{"id":`` cannot occur inside a JSON string, where quotes are escaped).
    """
    events = stream.log_events if events is None else events
    if not events:
        return b""
    prefix = _enc.encode(stream.context)[:-1] + b","
    close = (
        b"}" if stream.policy_level is None else b',"policyLevel":' + _enc.encode(stream.policy_level) + b"}"
    )
    body = _enc.encode(events)[2:-2]  # strip '[{' and '}]'
    return b"".join((prefix, body.replace(_EVENTS_SEP, close + b"\n" + prefix + b'"id":'), close, b"\n"))
