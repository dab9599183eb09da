"""NDJSON, encoded in one place: the event lines of ``logstream decode`` (shared by the CLI and
the Kinesis/Firehose sinks) and any other JSON line.

U+2028, U+2029 and U+0085 are valid unescaped in JSON, but some line splitters
(``str.splitlines``, JavaScript) take them for line breaks. They are escaped here, inside the
JSON text, so every consumer sees exactly one object per line and the JSON value is unchanged.
Bytes that are not NDJSON (``--messages`` text, gzip output) are never rewritten.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .models import LogEvent, LogStream

__all__ = ["event_lines", "encode_line", "escape_breaks"]

_enc = msgspec.json.Encoder()
_EVENTS_SEP = b'},{"id":'
_LINE_BREAKS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def escape_breaks(data: bytes | bytearray) -> bytes:
    if b"\xe2" in data or b"\xc2" in data:  # one-byte probes: memchr-fast on ASCII
        for raw, escaped in _LINE_BREAKS:
            data = data.replace(raw, escaped)
    return data


def encode_line(value: Any) -> bytes:
    """One NDJSON line: compact JSON of ``value`` and ``\\n``.

    Example
    -------
    >>> encode_line({"m": "a\\u2028b"})
    b'{"m":"a\\\\u2028b"}\\n'
    """
    return escape_breaks(_enc.encode(value)) + b"\n"


def event_lines(stream: LogStream, events: tuple[LogEvent, ...] | None = None) -> bytes | bytearray:
    """The NDJSON lines of ``logstream decode`` for one stream: one event per line with context.

    Encodes all events in one call, then splices the stream context in at each event boundary
    (``},{"id":`` cannot occur inside a JSON string, where quotes are escaped).
    """
    events = stream.log_events if events is None else events
    if not events:
        return b""
    if len(events) == 1:  # one event, maybe huge: encode it once, in place, with its newline
        line = bytearray()
        _enc.encode_into(_one_line(stream, events[0]), line)
        line += b"\n"
        return escape_breaks(line)  # a bytearray: bytes-like, not copied again
    prefix = _enc.encode(stream.context)[:-1] + b","
    close = (
        b"}" if stream.policy_level is None else b',"policyLevel":' + _enc.encode(stream.policy_level) + b"}"
    )
    # two buffers of the output's size, not four (encode, slice, replace, join): each is fresh
    # memory the kernel maps page by page, which cost as much as the encoding itself
    line = bytearray(prefix)
    at = len(prefix) - 2
    _enc.encode_into(events, line, at)  # '[{"id":...}]', its '[{' over the prefix's last two bytes
    line[at : at + 2] = prefix[-2:]
    line[-2:] = close + b"\n"  # its '}]'
    return escape_breaks(line.replace(_EVENTS_SEP, close + b"\n" + prefix + b'"id":'))


def _one_line(stream: LogStream, event: LogEvent) -> dict[str, Any]:
    line = {**stream.context, **event.to_dict()}
    if stream.policy_level is not None:
        line["policyLevel"] = stream.policy_level
    return line
