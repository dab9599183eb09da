"""Log events -> NDJSON records for Kinesis and Firehose, packed up to the per-record limit."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from ..models import LogStream
from ..ndjson import event_lines

_MAX_KEY = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One record: NDJSON lines (each ending in a newline) and its partition key."""

    data: bytes
    partition_key: str
    events: int
    tag: Hashable = None  # what the caller wants failures mapped back to (e.g. a source record)


@dataclasses.dataclass(frozen=True, slots=True)
class Oversize:
    """One event line that cannot fit in a record on its own: reported, never dropped."""

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
    most ``max_record_bytes`` (data + partition key). A single event line that cannot fit is
    yielded as :class:`Oversize` for the sink to report, never dropped silently.

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
        for line in _lines(event_lines(stream)):
            if len(line) > budget:
                yield Oversize(line, key, tag)
                continue
            if parts and size + len(line) > budget:
                yield Record(b"".join(parts), key, len(parts), tag)
                parts, size = [], 0
            parts.append(line)
            size += len(line)
        if parts:
            yield Record(b"".join(parts), key, len(parts), tag)


def _lines(data: bytes) -> list[bytes]:
    return [line + b"\n" for line in data.split(b"\n")[:-1]]
