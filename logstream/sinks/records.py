"""Log events -> NDJSON records for Kinesis and Firehose, packed up to the per-record limit.

An event whose line cannot fit in one record (a 256 KB message of control characters is a
1.5 MB JSON line) is split into several lines with the same ``id`` and ``part``/``parts``
(1-based); concatenating their ``message`` values in part order gives the message back.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

import msgspec

from ..models import LogEvent, LogStream
from ..ndjson import event_lines

_MAX_KEY = 256
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(str)


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One record: NDJSON lines (each ending in a newline) and its partition key."""

    data: bytes
    partition_key: str
    events: int
    tag: Hashable = None  # what the caller wants failures mapped back to (e.g. a source record)


@dataclasses.dataclass(frozen=True, slots=True)
class Oversize:
    """One event that cannot be sent even in parts (its context alone fills a record):
    reported, never dropped."""

    line: bytes
    partition_key: str
    tag: Hashable = None


def partition_key(stream: LogStream) -> str:
    """``logGroup/logStream`` (keeps per-stream order); hashed when over Kinesis' 256 chars."""
    key = f"{stream.log_group}/{stream.log_stream}"
    if len(key) > _MAX_KEY:
        key = key[: _MAX_KEY - 41] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key


def event_records(streams: Iterable[Any], max_record_bytes: int) -> Iterator[Record | Oversize]:
    """Pack each stream's event lines (``logstream decode`` format, with ``id``) into records of at
    most ``max_record_bytes`` (data + partition key). An event line that cannot fit is split
    into parts (see the module docstring); one that cannot be split is yielded as
    :class:`Oversize` for the sink to report.

    ``streams`` holds :class:`LogStream` objects or ``(tag, LogStream)`` pairs; a tag is copied
    onto every record made from that stream so failures can be traced back to their source.
    """
    for item in streams:
        tag, stream = item if isinstance(item, tuple) else (None, item)
        if stream.is_control:
            continue
        key = partition_key(stream)
        budget = max_record_bytes - len(key.encode())
        parts: list[bytes] = []
        size = 0
        lines = _lines(event_lines(stream))
        for index, line in enumerate(lines):
            if len(line) > budget:
                pieces = split_event(stream, stream.log_events[index], budget)
                if pieces is None:
                    yield Oversize(line, key, tag)
                    continue
            else:
                pieces = [line]
            for piece in pieces:
                if parts and size + len(piece) > budget:
                    yield Record(b"".join(parts), key, len(parts), tag)
                    parts, size = [], 0
                parts.append(piece)
                size += len(piece)
        if parts:
            yield Record(b"".join(parts), key, len(parts), tag)


def split_event(stream: LogStream, event: LogEvent, budget: int) -> list[bytes] | None:
    """The lines of one event split so each (with its newline) is at most ``budget`` bytes, or
    ``None`` when even an empty message does not fit.

    Example
    -------
    >>> from logstream import decode_log_stream, testing
    >>> s = decode_log_stream(testing.lambda_event(testing.make_document(["\\x01" * 100])))
    >>> lines = split_event(s, s.log_events[0], 400)
    >>> import json; parts = [json.loads(x) for x in lines]
    >>> [(p["part"], p["parts"]) for p in parts], "".join(p["message"] for p in parts) == "\\x01" * 100
    ([(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)], True)
    """
    escaped = _enc.encode(event.message)[1:-1]  # the message as it appears inside the JSON string
    overhead = len(_part_line(stream, event, "", 99_999, 99_999))
    room = budget - overhead
    if room < max(16, budget // 8):  # the context fills the record: parts would be crumbs
        return None
    chunks = split_escaped(escaped, room)
    n = len(chunks)
    return [_part_line(stream, event, chunk, i, n) for i, chunk in enumerate(chunks, 1)]


def split_escaped(escaped: bytes, room: int) -> list[str]:
    r"""Split the inside of a JSON string (as encoded) into strings whose encodings are at most
    ``room`` bytes each (one character whose encoding is longer goes alone), never cut inside an
    escape or a UTF-8 sequence; they concatenate to the original string.

    Example
    -------
    >>> split_escaped(rb"ab\u0001cd", 5), split_escaped(rb"ab\u0001cd", 7)
    (['ab', '\x01', 'cd'], ['ab', '\x01c', 'd'])
    """
    chunks: list[str] = []
    start = 0
    while start < len(escaped):
        end = min(len(escaped), start + room)
        while end > start:  # back off to a boundary between characters and escapes (a few bytes)
            try:
                chunks.append(_dec.decode(b'"' + escaped[start:end] + b'"'))
                break
            except msgspec.DecodeError:
                end -= 1
        else:  # one character's encoding is longer than room: it goes alone
            end = start + 1
            while True:
                try:
                    chunks.append(_dec.decode(b'"' + escaped[start:end] + b'"'))
                    break
                except msgspec.DecodeError:
                    if end >= len(escaped):
                        raise ValueError("not the inside of an encoded JSON string") from None
                    end += 1
        start = end
    return chunks


def _part_line(stream: LogStream, event: LogEvent, message: str, part: int, parts: int) -> bytes:
    line: dict[str, Any] = {**stream.context, **event.to_dict(), "message": message}
    if stream.policy_level is not None:
        line["policyLevel"] = stream.policy_level
    line["part"] = part
    line["parts"] = parts
    return _enc.encode(line) + b"\n"


def _lines(data: bytes) -> list[bytes]:
    return [line + b"\n" for line in data.split(b"\n")[:-1]]
