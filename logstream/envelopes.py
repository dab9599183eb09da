"""Unwrap every transport CloudWatch Logs subscriptions deliver through.

=============================  ==============================================================
shape                          where the payload sits
=============================  ==============================================================
Lambda subscription event      ``awslogs.data``
Kinesis -> Lambda event        ``Records[i].kinesis.data``
Firehose transformation event  ``records[i].data`` (with ``recordId``)
Firehose HTTP endpoint body    ``records[i].data`` (with top-level ``requestId``)
Firehose -> S3 object          the object bytes: gzip members back to back, glued documents,
                               sometimes gzip on top
custom wrapper                 any string value that is base64 of gzip/zlib (``{"payload": ...}``)
bare payloads                  one base64 payload per line, raw gzip/zlib bytes, decoded
                               documents (pretty, compact, glued, newline-delimited, arrays)
``logstream decode`` NDJSON    one event per line with its stream context
=============================  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec

from .decode import (
    DEFAULT_MAX_SIZE,
    b64decode,
    decompress,
    document_from_mapping,
    fast_payload,
    is_compressed,
    iter_json_values,
)
from .errors import DecodeError, DecompressError, EnvelopeError, SchemaError
from .models import CONTROL_OWNER, LogEvent, LogStream, MessageType

__all__ = ["iter_log_streams", "decode_log_stream", "payload_streams", "kinesis_batch", "ErrorHandler"]

#: Called with each :class:`DecodeError` instead of raising it, so the remaining input is decoded.
ErrorHandler = Callable[[DecodeError], None]
#: Called with each run of plain text lines (for parsers: log lines that are not payloads).
PlainHandler = Callable[[list[str]], Iterator[LogStream]]

_BOM = b"\xef\xbb\xbf"
_B64_LINE = re.compile(rb"^[A-Za-z0-9+/]+={0,2}$")
# base64 of a gzip header ("H4sI") or of the common zlib headers (78 01 / 78 5e / 78 9c / 78 da)
_PAYLOAD_PREFIXES = ("H4sI", "eJ", "eAE", "eF", "eNo", "eNr")
_MAX_DEPTH = 4


class _EventLine(msgspec.Struct, frozen=True, rename="camel"):
    log_group: str
    id: str
    timestamp: int
    message: Any
    owner: str = ""
    log_stream: str = ""
    subscription_filters: tuple[str, ...] = ()
    extracted_fields: dict[str, str] | None = None
    policy_level: str | None = None


def iter_log_streams(
    obj: Any,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    source: str | None = None,
    on_error: ErrorHandler | None = None,
    plain_lines: PlainHandler | None = None,
) -> Iterator[LogStream]:
    """Yield one :class:`LogStream` per subscription document found in ``obj``, in order.

    Parameters
    ----------
    obj
        Any transport of DESIGN.md section 2: an event mapping (Lambda, Kinesis, Firehose
        transformation, Firehose HTTP delivery), its JSON text, a base64 payload, raw
        gzip/zlib bytes (several members allowed, gzip on top allowed), decoded documents.
    max_size
        Cap on the decompressed size of each payload, in bytes.
    source
        Name used in error messages (a file name).
    on_error
        When given, each :class:`DecodeError` is passed to it and decoding goes on with the
        next record or document; when ``None`` the first error is raised.
    plain_lines
        When given, runs of text lines that are neither JSON nor base64 are handed to it
        (the CLI's parsers read plain log lines this way); otherwise they are errors.

    Example
    -------
    >>> from logstream.testing import kinesis_event, make_document
    >>> event = kinesis_event([make_document(["a"]), make_document(["b"])])
    >>> [s.log_events[0].message for s in iter_log_streams(event)]
    ['a', 'b']
    """
    yield from _Walker(max_size, source, on_error, plain_lines).value(obj, {})


def decode_log_stream(data: Any, *, max_size: int = DEFAULT_MAX_SIZE) -> LogStream:
    """Decode one subscription payload into a :class:`LogStream`.

    ``data`` is a subscription event (mapping or its JSON text), the base64 ``awslogs.data``
    string, or compressed or plain bytes. Anything that holds more or less than one document
    raises :class:`EnvelopeError` (use :func:`iter_log_streams` for those).

    Raises
    ------
    DecodeError
        A subclass naming the step: EnvelopeError, Base64Error, DecompressError,
        SizeLimitError, JSONError, SchemaError.

    Example
    -------
    >>> from logstream.testing import lambda_event, make_document
    >>> stream = decode_log_stream(lambda_event(make_document(["hello\\n"], log_group="/g")))
    >>> stream.log_group, stream.log_events[0].message
    ('/g', 'hello\\n')
    """
    if isinstance(data, Mapping):
        awslogs = data.get("awslogs")
        if isinstance(awslogs, Mapping) and len(data) == 1:  # the hot path: a Lambda event
            payload = awslogs.get("data")
            if isinstance(payload, str) and (stream := fast_payload(payload, max_size)) is not None:
                return stream
            streams = list(_Walker(max_size, None, None, None).payload(payload, {}))
        else:
            streams = list(iter_log_streams(data, max_size=max_size))
    else:
        streams = list(iter_log_streams(data, max_size=max_size))
    if len(streams) != 1:
        raise EnvelopeError(
            f"expected one document, found {len(streams)}"
            + ("; use iter_log_streams() for several" if streams else "")
        )
    return streams[0]


def payload_streams(data: Any, *, max_size: int = DEFAULT_MAX_SIZE) -> list[LogStream]:
    """The documents in one record's base64 ``data`` (Kinesis or Firehose record).

    Raises
    ------
    DecodeError
    """
    return list(_Walker(max_size, None, None, None).payload(data, {}))


def kinesis_batch(
    records: Any, *, ignore_log_group: str | None = None, max_size: int = DEFAULT_MAX_SIZE
) -> tuple[list[tuple[str, LogStream]], dict[str, DecodeError]]:
    """Decode a Kinesis event-source batch (``event["Records"]``) record by record.

    Returns ``(streams, failures)``: ``(sequenceNumber, LogStream)`` pairs for the data messages
    (control messages and ``ignore_log_group`` left out), and the :class:`DecodeError` of each
    record that cannot be decoded, by sequence number. One bad record never hides the others.

    >>> from logstream.testing import kinesis_event, make_document
    >>> event = kinesis_event([make_document(["a"]), make_document(["b"])])
    >>> event["Records"][1]["kinesis"]["data"] = "not base64!"
    >>> streams, failures = kinesis_batch(event["Records"])
    >>> [s.log_events[0].message for _, s in streams], [e.step for e in failures.values()]
    (['a'], ['base64'])
    """
    streams: list[tuple[str, LogStream]] = []
    failures: dict[str, DecodeError] = {}
    for index, record in enumerate(records):
        kin = record.get("kinesis") if isinstance(record, Mapping) else None
        seq = str(kin.get("sequenceNumber", index)) if isinstance(kin, Mapping) else str(index)
        try:
            if kin is None or "data" not in kin:
                raise EnvelopeError("not a Kinesis record (no kinesis.data)")
            decoded = list(_Walker(max_size, None, None, None).payload(kin["data"], {}))
        except DecodeError as err:  # the whole record fails: none of it is acted on
            failures[seq] = err.locate(record=index)
            continue
        streams += [(seq, s) for s in decoded if not s.is_control and s.log_group != ignore_log_group]
    return streams, failures


class _Walker:
    __slots__ = ("max_size", "source", "on_error", "plain_lines")

    def __init__(self, max_size: int, source: str | None, on_error, plain_lines) -> None:
        self.max_size = max_size
        self.source = source
        self.on_error = on_error
        self.plain_lines = plain_lines

    def fail(self, err: DecodeError, where: dict[str, int]) -> None:
        err.locate(source=self.source, **where)
        if self.on_error is None:
            raise err
        self.on_error(err)

    # ------------------------------------------------------------------ dispatch on Python type
    def value(self, obj: Any, where: dict[str, int], depth: int = 0) -> Iterator[LogStream]:
        if isinstance(obj, LogStream):
            yield obj
        elif isinstance(obj, Mapping):
            yield from self.mapping(obj, where, depth)
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            yield from self.data(bytes(obj), where, top=True, depth=depth)
        elif isinstance(obj, str):
            text = obj.lstrip("\ufeff \t\r\n")
            if text[:1] in ("{", "[") or "\n" in text.strip():  # JSON, or lines of payloads
                yield from self.data(text.encode(), where, top=True, depth=depth)
            else:
                yield from self.payload(text, where, depth)
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                yield from self.value(item, {**where, "document": i}, depth)
        else:
            self.fail(EnvelopeError(f"cannot decode a {type(obj).__name__}"), where)

    def payload(self, data: Any, where: dict[str, int], depth: int = 0) -> Iterator[LogStream]:
        """A base64 string holding compressed (or plain JSON) documents."""
        if not isinstance(data, (str, bytes)):
            self.fail(SchemaError(f"payload 'data' is {_kind(data)}, expected a base64 string"), where)
            return
        try:
            raw = b64decode(data)
        except DecodeError as err:
            self.fail(err, where)
            return
        yield from self.data(raw, where, top=False, depth=depth + 1)

    # ----------------------------------------------------------------------------------- bytes
    def data(self, buf: bytes, where: dict[str, int], *, top: bool, depth: int) -> Iterator[LogStream]:
        if buf[:3] == _BOM:
            buf = buf[3:]
        if is_compressed(buf):
            if depth > _MAX_DEPTH:
                self.fail(DecompressError("too many nested compression layers"), where)
                return
            try:
                buf = decompress(buf, self.max_size)
            except DecodeError as err:
                self.fail(err, where)
                return
            yield from self.data(buf, where, top=top, depth=depth + 1)
            return
        first = buf.lstrip()[:1]
        if first in (b"{", b"["):
            yield from self.json(buf, where, depth)
        elif top:
            yield from self.lines(buf, where, depth)
        elif not buf.strip():
            self.fail(DecompressError("empty payload"), where)
        else:
            self.fail(DecompressError("not gzip or zlib data, nor a JSON document"), where)

    def json(self, buf: bytes, where: dict[str, int], depth: int) -> Iterator[LogStream]:
        index = 0
        line, line_at = 1, 0  # line numbers counted incrementally: O(n) over a big object
        multiline = "line" not in where and b"\n" in buf
        for offset, value in iter_json_values(buf):
            here = dict(where)
            if index or offset:
                here.setdefault("document", index)
            if multiline and (index or offset):
                line += buf.count(b"\n", line_at, offset)
                line_at = offset
                here["line"] = line
            if isinstance(value, LogStream):
                yield value
            elif isinstance(value, DecodeError):
                self.fail(value, here)
            elif isinstance(value, Mapping):
                yield from self.mapping(value, here, depth)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    yield from self.value(item, {**here, "document": i}, depth)
            else:
                self.fail(EnvelopeError(f"a JSON {_kind(value)} is not a document"), here)
            index += 1

    def lines(self, buf: bytes, where: dict[str, int], depth: int) -> Iterator[LogStream]:
        plain: list[str] = []
        for lineno, line in enumerate(buf.split(b"\n"), 1):
            line = line.strip()
            if not line:
                continue
            if _B64_LINE.match(line) and (len(line) % 4 == 0) and len(line) >= 8:
                if plain:
                    yield from self._plain(plain)
                    plain = []
                yield from self.payload(line, {**where, "line": lineno}, depth)
            elif line[:1] == b"{" and (self.plain_lines is None or line[-1:] == b"}"):
                if plain:
                    yield from self._plain(plain)
                    plain = []
                yield from self.json(line, {**where, "line": lineno}, depth)
            elif self.plain_lines is not None:
                plain.append(line.decode("utf-8", "replace"))
            else:
                self.fail(EnvelopeError("neither JSON nor a base64 payload"), {**where, "line": lineno})
        if plain:
            yield from self._plain(plain)

    def _plain(self, lines: list[str]) -> Iterator[LogStream]:
        assert self.plain_lines is not None
        yield from self.plain_lines(lines)

    # -------------------------------------------------------------------------------- mappings
    def mapping(self, m: Mapping[str, Any], where: dict[str, int], depth: int) -> Iterator[LogStream]:
        awslogs = m.get("awslogs")
        if isinstance(awslogs, Mapping) and "data" in awslogs:
            yield from self.payload(awslogs["data"], where, depth)
            return
        records = m.get("Records")
        if isinstance(records, list):
            for i, rec in enumerate(records):
                kin = rec.get("kinesis") if isinstance(rec, Mapping) else None
                if isinstance(kin, Mapping) and "data" in kin:
                    yield from self.payload(kin["data"], {**where, "record": i}, depth)
                else:
                    self.fail(EnvelopeError("not a Kinesis record (no kinesis.data)"), {**where, "record": i})
            return
        records = m.get("records")
        if isinstance(records, list):  # Firehose transformation event or HTTP endpoint delivery
            for i, rec in enumerate(records):
                if isinstance(rec, Mapping) and "data" in rec:
                    yield from self.payload(rec["data"], {**where, "record": i}, depth)
                else:
                    self.fail(EnvelopeError("not a Firehose record (no data)"), {**where, "record": i})
            return
        if "logEvents" in m or "messageType" in m:
            try:
                yield document_from_mapping(dict(m))
            except DecodeError as err:
                self.fail(err, where)
            return
        if "logGroup" in m and "message" in m and "id" in m:
            try:
                yield _from_event_line(m)
            except msgspec.ValidationError as exc:
                self.fail(SchemaError(f"event line: {exc}".replace("`", "'")), where)
            return
        if depth < _MAX_DEPTH and _holds_payload(m):
            for value in m.values():
                if isinstance(value, str) and value.startswith(_PAYLOAD_PREFIXES):
                    yield from self.payload(value, where, depth)
                elif isinstance(value, Mapping) and _holds_payload(value):
                    yield from self.mapping(value, where, depth + 1)
            return
        if self.plain_lines is not None:  # parsers read other JSON (fluentd status) as a log line
            yield from self.plain_lines([msgspec.json.encode(m).decode()])
            return
        self.fail(
            EnvelopeError("a JSON object that is neither a CloudWatch Logs document nor a known envelope"),
            where,
        )


def _holds_payload(m: Mapping[str, Any], depth: int = 0) -> bool:
    """True when a (nested) value is a known envelope or looks like a base64 gzip/zlib payload."""
    if depth > _MAX_DEPTH:
        return False
    if "awslogs" in m or "logEvents" in m or "messageType" in m:
        return True
    for value in m.values():
        if isinstance(value, str) and value.startswith(_PAYLOAD_PREFIXES):
            return True
        if isinstance(value, Mapping) and _holds_payload(value, depth + 1):
            return True
    return False


def _from_event_line(m: Mapping[str, Any]) -> LogStream:
    line = msgspec.convert(dict(m), _EventLine)
    message = line.message if isinstance(line.message, str) else msgspec.json.encode(line.message).decode()
    return LogStream(
        MessageType.CONTROL_MESSAGE if line.owner == CONTROL_OWNER else MessageType.DATA_MESSAGE,
        line.owner,
        line.log_group,
        line.log_stream,
        line.subscription_filters,
        (LogEvent(line.id, line.timestamp, message, line.extracted_fields),),
        line.policy_level,
    )


def _kind(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
