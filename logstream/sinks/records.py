"""Log events -> NDJSON records for Kinesis and Firehose, packed up to the per-record limit."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator

from ..models import LogStream
from ..ndjson import event_lines

_MAX_KEY = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One record: NDJSON lines (each ending in a newline) and its partition key."""

    data: bytes
    partition_key: str
    events: int


def partition_key(stream: LogStream) -> str:
    """``logGroup/logStream`` (keeps per-stream order); hashed when over Kinesis' 256 chars."""
    key = f"{stream.log_group}/{stream.log_stream}"
    if len(key) > _MAX_KEY:
        key = key[: _MAX_KEY - 41] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key


def event_records(streams: Iterable[LogStream], max_record_bytes: int) -> Iterator[Record | tuple[bytes, str]]:
    """Pack each stream's event lines (``logstream decode`` format, with ``id``) into records of at
    most ``max_record_bytes`` (data + partition key). A single event line that cannot fit is
    yielded as ``(line, partition_key)`` for the sink to report, never dropped silently."""
    for stream in streams:
        if stream.is_control:
            continue
        key = partition_key(stream)
        budget = max_record_bytes - len(key.encode())
        parts: list[bytes] = []
        size = 0
        for line in _lines(event_lines(stream)):
            if len(line) > budget:
                yield (line, key)
                continue
            if parts and size + len(line) > budget:
                yield Record(b"".join(parts), key, len(parts))
                parts, size = [], 0
            parts.append(line)
            size += len(line)
        if parts:
            yield Record(b"".join(parts), key, len(parts))


def _lines(data: bytes) -> list[bytes]:
    return [line + b"\n" for line in data.split(b"\n")[:-1]]
