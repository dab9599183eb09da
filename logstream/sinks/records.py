"""Log events -> records for Kinesis and Firehose, packed up to the per-record limit.

Three record formats (``RECORD_FORMAT`` of the forwarder):

===============  =========================================================================
``ndjson``       event lines (``logstream decode``'s, or a pipeline's), packed up to the
                 record limit (default)
``ndjson-gzip``  the same lines, each record one gzip member: packed until the *compressed*
                 record reaches the limit (at most :data:`GZIP_MAX_INPUT_RECORDS` limits of
                 lines in one record)
``cloudwatch``   the subscription document, gzip, one per record, exactly as CloudWatch Logs
                 delivers it to a Kinesis stream (unknown keys kept); a document whose gzip is
                 over the limit is cut into documents of fewer events (same keys)
===============  =========================================================================

An event whose line cannot fit in one record (a 256 KB message of control characters is a
1.5 MB JSON line) is split into several lines with the same ``id`` and ``part``/``parts``
(1-based); concatenating their ``message`` values in part order gives the message back. Parts
leave out ``json`` (a pipeline's parsed copy of the message: the message is whole again once
the parts are joined) and share out a joined event's ``joinedIds`` (concatenated in part order
they give the list back; a trace of 20,000 lines has 1.2 MB of them).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

import msgspec

from ..models import LogEvent, LogStream
from ..ndjson import escape_breaks, event_lines

_MAX_KEY = 256
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(str)
_dec_line = msgspec.json.Decoder(dict[str, Any])

NDJSON, NDJSON_GZIP, CLOUDWATCH = "ndjson", "ndjson-gzip", "cloudwatch"
#: ``RECORD_FORMAT`` values.
RECORD_FORMATS = (NDJSON, NDJSON_GZIP, CLOUDWATCH)
#: ndjson-gzip: a record holds at most this many record limits of uncompressed lines (~10x
#: compression is usual for logs; more would make one failed record costly to re-send).
GZIP_MAX_INPUT_RECORDS = 4
#: Room kept for gzip's header and trailer and for incompressible data growing a little.
_GZIP_SLACK = 1024

#: What turns one stream into its event lines (``event_lines`` or a pipeline's ``lines``).
LinesOf = Callable[[LogStream], bytes]


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
    """``logGroup/logStream`` (a stream's records on one shard, in order unless some of them are
    retried after a partial failure); hashed when over Kinesis' 256 chars."""
    key = f"{stream.log_group}/{stream.log_stream}"
    if len(key) > _MAX_KEY:
        key = key[: _MAX_KEY - 41] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key


def event_records(
    streams: Iterable[Any],
    max_record_bytes: int,
    *,
    record_format: str = NDJSON,
    lines: LinesOf | None = None,
) -> Iterator[Record | Oversize]:
    """Pack each stream's event lines (``logstream decode`` format, with ``id``) into records of at
    most ``max_record_bytes`` (data + partition key). An event line that cannot fit is split
    into parts (see the module docstring); one that cannot be split is yielded as
    :class:`Oversize` for the sink to report.

    ``streams`` holds :class:`LogStream` objects or ``(tag, LogStream)`` pairs; a tag is copied
    onto every record made from that stream so failures can be traced back to their source.
    ``record_format`` is one of :data:`RECORD_FORMATS`; ``lines(stream)`` makes the event lines
    (default :func:`~logstream.ndjson.event_lines`; a processing pipeline's ``lines``). The
    ``cloudwatch`` format sends documents: give it streams that hold what should leave.
    """
    if record_format not in RECORD_FORMATS:
        raise ValueError(f"record format must be one of {', '.join(RECORD_FORMATS)}: {record_format!r}")
    lines_of = lines or event_lines
    for item in streams:
        tag, stream = item if isinstance(item, tuple) else (None, item)
        if stream.is_control:
            continue
        key = partition_key(stream)
        budget = max_record_bytes - len(key.encode())
        if record_format == CLOUDWATCH:
            yield from _document_records(stream, key, budget, tag)
        elif record_format == NDJSON_GZIP:
            yield from _gzip_records(_fitting_lines(lines_of(stream), key, budget, tag), key, budget, tag)
        else:
            parts: list[bytes] = []
            size = 0
            for piece in _fitting_lines(lines_of(stream), key, budget, tag):
                if isinstance(piece, Oversize):
                    yield piece
                    continue
                if parts and size + len(piece) > budget:
                    yield Record(b"".join(parts), key, len(parts), tag)
                    parts, size = [], 0
                parts.append(piece)
                size += len(piece)
            if parts:
                yield Record(b"".join(parts), key, len(parts), tag)


def _fitting_lines(data: bytes, key: str, budget: int, tag: Hashable) -> Iterator[bytes | Oversize]:
    """Each line (with its newline) of at most ``budget`` bytes; longer ones split into parts,
    or :class:`Oversize` when they cannot be."""
    start = 0
    while (end := data.find(b"\n", start)) >= 0:
        line = data[start : end + 1]
        start = end + 1
        if len(line) <= budget:
            yield line
        elif (pieces := split_line(line, budget)) is not None:
            yield from pieces
        else:
            yield Oversize(line, key, tag)


def _gzip_records(
    pieces: Iterable[bytes | Oversize], key: str, budget: int, tag: Hashable
) -> Iterator[Record | Oversize]:
    """Lines packed into gzip members of at most ``budget`` bytes."""
    limit = budget * GZIP_MAX_INPUT_RECORDS
    group: list[bytes] = []
    size = 0
    for piece in pieces:
        if isinstance(piece, Oversize):
            yield piece
            continue
        if group and size + len(piece) > limit:
            yield from _compressed(group, key, budget, tag)
            group, size = [], 0
        group.append(piece)
        size += len(piece)
    if group:
        yield from _compressed(group, key, budget, tag)


def _compressed(group: list[bytes], key: str, budget: int, tag: Hashable) -> Iterator[Record | Oversize]:
    data = gzip.compress(b"".join(group), compresslevel=6, mtime=0)
    if len(data) <= budget:
        yield Record(data, key, len(group), tag)
    elif len(group) > 1:  # compressed less than expected: halve (a few compressions at most)
        half = len(group) // 2
        yield from _compressed(group[:half], key, budget, tag)
        yield from _compressed(group[half:], key, budget, tag)
    else:  # one line (<= budget) that gzip makes longer: split it so each part compresses to fit
        pieces = split_line(group[0], budget - _GZIP_SLACK - budget // 64)
        if pieces is None:
            yield Oversize(group[0], key, tag)
        else:
            for piece in pieces:
                yield Record(gzip.compress(piece, mtime=0), key, 1, tag)


def _document_records(stream: LogStream, key: str, budget: int, tag: Hashable) -> Iterator[Record | Oversize]:
    """The document as CloudWatch sends it (gzip of its JSON); cut by events when too big."""
    if not stream.log_events:
        return
    raw = stream.raw if stream.raw is not None else _enc.encode(stream.to_document())
    data = gzip.compress(raw, mtime=0)
    if len(data) <= budget:
        yield Record(data, key, len(stream.log_events), tag)
        return
    yield from _document_pieces(stream.to_document(), list(stream.log_events), key, budget, tag)


def _document_pieces(
    doc: dict[str, Any], events: list[LogEvent], key: str, budget: int, tag: Hashable
) -> Iterator[Record | Oversize]:
    data = gzip.compress(_enc.encode({**doc, "logEvents": [e.to_dict() for e in events]}), mtime=0)
    if len(data) <= budget:
        yield Record(data, key, len(events), tag)
    elif len(events) > 1:
        half = len(events) // 2
        yield from _document_pieces(doc, events[:half], key, budget, tag)
        yield from _document_pieces(doc, events[half:], key, budget, tag)
    else:  # one event whose document cannot fit: reported with its data, never dropped
        yield Oversize(_enc.encode({**doc, "logEvents": [events[0].to_dict()]}) + b"\n", key, tag)


def split_line(line: bytes, budget: int) -> list[bytes] | None:
    """An NDJSON event line split into lines of at most ``budget`` bytes that share its keys
    (but ``json``) and carry ``part``/``parts``; ``None`` when even an empty message does not fit.
    A joined event's ``joinedIds`` are shared out too (each id in one part, in order; parts after
    the message's carry only ids), so a trace of many thousand lines still fits.

    Example
    -------
    >>> parts = split_line(b'{"id":"1","message":"' + b"x" * 100 + b'","json":{"a":1}}\\n', 80)
    >>> import json; [(json.loads(p)["part"], len(json.loads(p)["message"])) for p in parts]
    [(1, 29), (2, 29), (3, 29), (4, 13)]
    >>> parts = split_line(b'{"id":"1","message":"ab","joinedIds":["2","3","4","5"]}\\n', 80)
    >>> [(json.loads(p)["message"], json.loads(p).get("joinedIds")) for p in parts]
    [('ab', ['2', '3', '4']), ('', ['5'])]
    """
    try:
        fields = _dec_line.decode(line)
    except msgspec.DecodeError:
        return None
    message = fields.get("message")
    if not isinstance(message, str):
        return None
    fields.pop("json", None)
    ids = fields.get("joinedIds")
    if not (isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids)):
        ids = None
    bare = {k: v for k, v in fields.items() if k != "joinedIds"} if ids else fields
    escaped = _enc.encode(message)[1:-1]
    overhead = len(_fields_line(bare, "", 99_999, 99_999))
    room = budget - overhead
    if room < max(16, budget // 8):  # the context fills the record: parts would be crumbs
        return None
    chunks = split_escaped(escaped, room)
    if ids is None:
        n = len(chunks)
        return [_fields_line(fields, chunk, i, n) for i, chunk in enumerate(chunks, 1)]
    # each part takes the ids that fit beside its piece of the message; parts of ids follow
    parts: list[tuple[str, list[str]]] = []
    key = len(b',"joinedIds":[]')
    j = 0
    for chunk in [*chunks, *([""] * len(ids))]:
        if j == len(ids) and len(parts) >= len(chunks):
            break
        free = budget - len(_fields_line(bare, chunk, 99_999, 99_999)) - key
        taken: list[str] = []
        while j < len(ids) and (size := len(_enc.encode(ids[j])) + 1) <= free:
            taken.append(ids[j])
            free -= size
            j += 1
        if not chunk and not taken:  # not one id fits an empty part
            return None
        parts.append((chunk, taken))
    n = len(parts)
    return [
        _fields_line({**fields, "joinedIds": taken} if taken else bare, chunk, i, n)
        for i, (chunk, taken) in enumerate(parts, 1)
    ]


def _fields_line(fields: dict[str, Any], message: str, part: int, parts: int) -> bytes:
    return escape_breaks(_enc.encode({**fields, "message": message, "part": part, "parts": parts})) + b"\n"


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


#: What decoding a cut piece raises: inside an escape (msgspec), inside a UTF-8 sequence (codec).
_CUT = (msgspec.DecodeError, UnicodeDecodeError)


def split_escaped(escaped: bytes, room: int) -> list[str]:
    r"""Split the inside of a JSON string (as encoded) into strings whose encodings are at most
    ``room`` bytes each (one character whose encoding is longer goes alone), never cut inside an
    escape or a UTF-8 sequence; they concatenate to the original string.

    Example
    -------
    >>> split_escaped(rb"ab\u0001cd", 5), split_escaped(rb"ab\u0001cd", 7)
    (['ab', '\x01', 'cd'], ['ab', '\x01c', 'd'])
    >>> split_escaped("aé漢".encode(), 2), split_escaped("aé漢".encode(), 4)
    (['a', 'é', '漢'], ['aé', '漢'])
    """
    chunks: list[str] = []
    start = 0
    while start < len(escaped):
        end = min(len(escaped), start + room)
        while end > start:  # back off to a boundary between characters and escapes (a few bytes)
            try:
                chunks.append(_dec.decode(b'"' + escaped[start:end] + b'"'))
                break
            except _CUT:
                end -= 1
        else:  # one character's encoding is longer than room: it goes alone
            end = start + 1
            while True:
                try:
                    chunks.append(_dec.decode(b'"' + escaped[start:end] + b'"'))
                    break
                except _CUT:
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
