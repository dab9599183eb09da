"""Unwrap every transport CloudWatch Logs subscription data travels through: one small function
per transport, one dispatch.

=================================  ==========================================================
shape                              where the payload sits
=================================  ==========================================================
Lambda subscription event          ``awslogs.data``
Kinesis -> Lambda event            ``Records[i].kinesis.data``
``aws kinesis get-records`` output ``Records[i].Data``
Firehose transformation event      ``records[i].data`` (with ``recordId``)
Firehose HTTP endpoint body        ``records[i].data`` (with top-level ``requestId``)
Firehose error output (S3)         ``rawData`` (one JSON line per failed record)
Lambda on-failure record           ``requestPayload`` (the original event)
``aws sqs receive-message`` output ``Messages[i].Body`` (an on-failure record as JSON text)
``aws logs filter-log-events`` /   ``events[i]`` (``message``, ``timestamp``, ``logStreamName``,
``get-log-events`` output          ``eventId``; no log group in the output)
Firehose -> S3 object              the object bytes: gzip members back to back, glued
                                   documents, sometimes gzip on top; each member nested
                                   its own way (gzip, zlib, base64 text or JSON inside)
decoded documents                  one, glued, newline-delimited or in an array
``logstream decode`` event line    one event with its stream context
custom wrapper                     any string value that is base64 of gzip/zlib
=================================  ==========================================================

Bytes and binary file objects may hold UTF-16 text (what Windows PowerShell and ``iconv -t
UTF-16LE`` write): with its byte order mark, or without one when :func:`utf16_codec` recognises
it; it is read as the same text in UTF-8. Guessing what a text file holds line by line (plain
log lines, one base64 payload per line) is the CLI's job (``logstream.cli``), not the library's.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, Final

import msgspec

from .decode import (
    _NOT_BASE64,
    Budget,
    Numbers,
    Piece,
    Splitter,
    _cap,
    b64decode,
    document_from_mapping,
    expand,
    fast_payload,
    is_compressed,
    payload_bytes,
    short_detail,
)
from .errors import DecodeError, DecompressError, EnvelopeError, SchemaError, SizeLimitError
from .models import CONTROL_OWNER, LogEvent, LogStream, MessageType, Timestamp

__all__ = [
    "iter_log_streams",
    "decode_log_stream",
    "payload_streams",
    "kinesis_batch",
    "ErrorHandler",
    "utf16_codec",
    "utf16_to_utf8",
]

#: Called with each :class:`DecodeError` instead of raising it, so the remaining input is decoded.
ErrorHandler = Callable[[DecodeError], None]
Where = dict[str, int]

_MAX_DEPTH: Final = 4  # nested payload layers (base64 inside JSON inside gzip ...)
_MAX_NESTING: Final = 16  # nested Python lists / wrappers
_READ_SIZE: Final = 1 << 20
_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
UTF16_HEAD: Final = 512  # bytes looked at to recognise UTF-16 text without a byte order mark
# characters that text does not hold (C0 controls but tab, line breaks, form feed, escape):
# UTF-16 "text" holding them is binary data with NULs in every other byte
_NOT_TEXT: Final = frozenset(chr(c) for c in range(32)) - set("\t\n\v\f\r\x1b")
# base64 of a gzip header ("H4sI") or of the common zlib headers (78 01 / 78 5e / 78 9c / 78 da)
_PAYLOAD_PREFIXES: Final = ("H4sI", "eJ", "eAE", "eF", "eNo", "eNr")


class _EventLine(msgspec.Struct, frozen=True, rename="camel"):
    log_group: str
    id: str
    timestamp: Timestamp
    message: Any
    owner: str = ""
    log_stream: str = ""
    subscription_filters: tuple[str, ...] = ()
    extracted_fields: dict[str, str] | None = None
    policy_level: str | None = None


class _ApiEvent(msgspec.Struct, frozen=True, rename="camel"):
    """An event of ``aws logs filter-log-events`` / ``get-log-events`` output."""

    timestamp: Timestamp
    message: str
    log_stream_name: str = ""
    event_id: str = ""


def iter_log_streams(
    obj: Any,
    *,
    max_size: int | None = None,
    source: str | None = None,
    on_error: ErrorHandler | None = None,
) -> Iterator[LogStream]:
    """Yield one :class:`LogStream` per subscription document found in ``obj``, in order.

    Parameters
    ----------
    obj
        Any transport of the table above: an event mapping, its JSON text, a base64 payload,
        raw gzip/zlib bytes (several members allowed, gzip on top allowed), decoded documents,
        or a binary file object (anything with ``read``), which is streamed: memory holds one
        gzip member or one document at a time, not the file (base64 text of a whole payload,
        the ``awslogs.data`` string saved to a file, is read whole, as from bytes, up to twice
        ``max_size``).
    max_size
        Cap on the expanded size of each payload in bytes, every nested layer counted (a gzip
        member of an S3 object is a payload of its own). Default: :func:`default_max_size`.
    source
        Name used in error messages (a file name).
    on_error
        When given, each :class:`DecodeError` is passed to it and decoding goes on with the
        next record, member or document; when ``None`` the first error is raised.

    Raises
    ------
    DecodeError
        Only subclasses of it, whatever ``obj`` holds (when ``on_error`` is ``None``).

    Example
    -------
    >>> from logstream.testing import kinesis_event, make_document
    >>> event = kinesis_event([make_document(["a"]), make_document(["b"])])
    >>> [s.log_events[0].message for s in iter_log_streams(event)]
    ['a', 'b']
    """
    yield from _Walk(_cap(max_size), source, on_error).value(obj, {}, 0)


def decode_log_stream(data: Any, *, max_size: int | None = None) -> LogStream:
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
    streams = list(iter_log_streams(data, max_size=max_size))
    if len(streams) != 1:
        raise EnvelopeError(
            f"expected one document, found {len(streams)}"
            + ("; use iter_log_streams() for several" if streams else "")
        )
    return streams[0]


def payload_streams(data: Any, *, max_size: int | None = None) -> list[LogStream]:
    """The documents in one record's base64 ``data`` (Kinesis or Firehose record).

    Raises
    ------
    DecodeError
        The first error: a record that fails part-way fails as a whole.
    """
    walk = _Walk(_cap(max_size), None, None)
    return list(walk.payload(data, {}, 0, Budget(walk.cap)))


def kinesis_batch(
    records: Any, *, ignore_log_group: str | None = None, max_size: int | None = None
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
    for index, record in enumerate(records if isinstance(records, list) else ()):
        kin = record.get("kinesis") if isinstance(record, Mapping) else None
        seq = str(kin.get("sequenceNumber", index)) if isinstance(kin, Mapping) else str(index)
        try:
            if kin is None or "data" not in kin:
                raise EnvelopeError("not a Kinesis record (no kinesis.data)")
            decoded = payload_streams(kin["data"], max_size=max_size)
        except DecodeError as err:  # the whole record fails: none of it is acted on
            failures[seq] = err.locate(record=index)
            continue
        streams += [(seq, s) for s in decoded if not s.is_control and s.log_group != ignore_log_group]
    return streams, failures


def utf16_codec(head: bytes) -> tuple[str, int] | None:
    """``(codec, length of its byte order mark)`` when ``head``, the first bytes of an input (a
    few hundred are best, :data:`UTF16_HEAD`), is UTF-16 text; else None.

    A byte order mark says so (``FF FE``: little endian, ``FE FF``: big endian). Without one the
    test is conservative, for text that is mostly ASCII (JSON, base64, log lines): NUL in at
    least half of the high bytes of the code units and in almost none (1 in 16) of the low
    bytes, and the whole head decodes to characters text holds (no NUL, no other C0 control but
    tab, line breaks and escape). Anything else (gzip, NUL padding before text, UTF-8 text,
    UTF-16 text that is mostly not Latin script) is left as it is.

    Example
    -------
    >>> utf16_codec('{"a": 1}\\n'.encode("utf-16-le")), utf16_codec(b'{"a": 1}')
    (('utf-16-le', 0), None)
    """
    codec = _UTF16_BOMS.get(head[:2])
    if codec is not None:
        return codec, 2
    n = len(head) - len(head) % 2
    pairs = n // 2
    if pairs == 0:
        return None
    even, odd = head[0:n:2].count(0), head[1:n:2].count(0)
    need, allowed = max(1, (pairs + 1) // 2), pairs // 16
    if odd >= need and even <= allowed:
        codec = "utf-16-le"
    elif even >= need and odd <= allowed:
        codec = "utf-16-be"
    else:
        return None
    try:  # (a lone surrogate is the JSON decoder's to report, a character cut at the end no error)
        text = codecs.getincrementaldecoder(codec)("surrogatepass").decode(head[:n], final=False)
    except UnicodeDecodeError:
        return None
    return None if _NOT_TEXT.intersection(text) else (codec, 0)


def utf16_to_utf8(chunks: Iterable[bytes], codec: str) -> Iterator[bytes]:
    """UTF-16 text arriving in chunks, as UTF-8 as it arrives (no empty chunk). A lone surrogate
    stays one (``surrogatepass``: a JSON error later names it); an odd byte at the very end, a
    character cut off, becomes U+FFFD."""
    decoder = codecs.getincrementaldecoder(codec)("surrogatepass")
    for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text.encode("utf-8", "surrogatepass")
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError:  # "truncated data": half a code unit
        text = "\ufffd"
    if text:
        yield text.encode("utf-8", "surrogatepass")


def _read_chunks(reader: Any) -> Iterator[bytes]:
    """What a reader has, as it arrives: ``read1`` returns what a pipe holds without waiting
    for a full chunk, so each document is decoded as soon as its bytes are in."""
    read = getattr(reader, "read1", None) or reader.read
    while chunk := read(_READ_SIZE):
        # a text-mode file gives str: its UTF-8 (a lone surrogate becomes a JSON error later)
        yield chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else bytes(chunk)


class _Walk:
    """One walk over an input: the cap, the source name and the error handler."""

    __slots__ = ("cap", "source", "on_error")

    def __init__(self, cap: int, source: str | None, on_error: ErrorHandler | None) -> None:
        self.cap = cap
        self.source = source
        self.on_error = on_error

    def fail(self, err: DecodeError, where: Where) -> None:
        err.locate(source=self.source, **where)
        if self.on_error is None:
            raise err
        self.on_error(err)

    # ------------------------------------------------------------------ dispatch on Python type
    def value(self, obj: Any, where: Where, nesting: int) -> Iterator[LogStream]:
        if nesting > _MAX_NESTING:
            self.fail(EnvelopeError("nested too deeply"), where)
        elif isinstance(obj, LogStream):
            yield obj
        elif isinstance(obj, Mapping):
            yield from self.mapping(obj, where, nesting, Budget(self.cap))
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            yield from self.data(iter([bytes(obj)]), where, 0, Budget(self.cap), top=True)
        elif isinstance(obj, str):
            text = obj.lstrip("\ufeff \t\r\n")
            if text[:1] in ("{", "["):
                raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate: a JSON error below
                yield from self.data(iter([raw]), where, 0, Budget(self.cap), top=True)
            else:
                yield from self.payload(text, where, 0, Budget(self.cap))
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                yield from self.value(item, {**where, "document": i}, nesting + 1)
        elif callable(getattr(obj, "read", None)):
            yield from self.data(_read_chunks(obj), where, 0, Budget(self.cap), top=True, whole=False)
        else:
            self.fail(EnvelopeError(f"cannot decode a {type(obj).__name__}"), where)

    def payload(self, data: Any, where: Where, depth: int, budget: Budget) -> Iterator[LogStream]:
        """A base64 string holding compressed (or plain JSON) documents."""
        if not isinstance(data, (str, bytes)):
            self.fail(SchemaError(f"payload 'data' is {_kind(data)}, expected a base64 string"), where)
            return
        if depth == 0:  # a record of an envelope is a payload of its own; nested ones share the cap
            budget = Budget(self.cap)
        try:
            raw = b64decode(data)
        except DecodeError as err:
            self.fail(err, where)
            return
        yield from self.data(iter([raw]), where, depth + 1, budget, top=False)

    # ----------------------------------------------------------------------------------- bytes
    def data(
        self,
        chunks: Iterator[bytes],
        where: Where,
        depth: int,
        budget: Budget,
        *,
        top: bool,
        whole: bool = True,
    ) -> Iterator[LogStream]:
        """Compressed bytes (layer after layer) or JSON values, arriving in chunks."""
        head, chunks = _peek(chunks)
        if top and head.startswith(_BOM):  # JSON text saved by Windows tools (RFC 8259 section 8.1)
            head, chunks = _peek(_strip_bom(chunks))
        elif top and (head[:2] in _UTF16_BOMS or (b"\x00" in head and not is_compressed(head))):
            head, chunks = _peek(chunks, UTF16_HEAD)
            utf16 = utf16_codec(head)
            if utf16 is not None:  # UTF-16 text: the same text in UTF-8, decided on from there
                text = utf16_to_utf8(_strip(chunks, utf16[1]), utf16[0])
                yield from self.data(text, where, depth, budget, top=True, whole=whole)
                return
        if is_compressed(head):
            if depth > _MAX_DEPTH:
                self.fail(DecompressError("too many nested compression layers"), where)
                return
            yield from self.layers(chunks, where, depth, budget, per_member=top)
            return
        first = head.lstrip()[:1]
        if first in (b"{", b"["):
            yield from self.json(chunks, where, depth, budget)
        elif not head.strip():
            self.fail(DecompressError("empty payload"), where)
        elif not top:
            self.fail(DecompressError("not gzip or zlib data, nor a JSON document"), where)
        else:
            # base64 text of a whole payload (the awslogs.data string saved to a file); a file
            # object is read whole only while it holds base64 text, up to twice the cap
            saved, chunks, too_long = _whole(chunks, None if whole else 2 * self.cap)
            raw = None if saved is None else payload_bytes(saved.strip())
            if too_long:  # (what it holds would expand past the cap anyway)
                self.fail(
                    SizeLimitError(
                        f"base64 text longer than twice the cap of {self.cap} bytes: not read"
                        " (a bigger max_size reads it)"
                    ),
                    where,
                )
            elif raw is not None:
                yield from self.data(iter([raw]), where, depth + 1, budget, top=False)
            else:  # bytes before the first gzip member: inflate reports them and resumes after
                yield from self.layers(chunks, where, depth, budget, per_member=True)

    def layers(
        self, chunks: Iterator[bytes], where: Where, depth: int, budget: Budget, *, per_member: bool
    ) -> Iterator[LogStream]:
        """Compressed bytes: every member, whatever it holds (another compressed layer, base64
        text or JSON: decided member by member, see :func:`~logstream.decode.flatten`), within
        one budget and one numbering of members."""
        report = lambda e: self.fail(e, where)  # noqa: E731 - one line, used twice
        splitter = Splitter(self.cap)
        numbers = Numbers()
        flat = expand(
            chunks,
            splitter=splitter,
            budget=budget,
            numbers=numbers,
            report=report,
            depth=depth,
            max_depth=_MAX_DEPTH,
            per_member=per_member,
        )
        yield from self.json(flat, where, depth + 1, budget, splitter)

    def json(
        self,
        pieces: Iterable[Piece],
        where: Where,
        depth: int,
        budget: Budget,
        splitter: Splitter | None = None,
    ) -> Iterator[LogStream]:
        splitter = Splitter(self.cap) if splitter is None else splitter
        for piece in pieces:
            for place, value in splitter.feed(piece):
                yield from self.json_value(value, {**where, **place}, depth, budget)
        for place, value in splitter.finish():
            yield from self.json_value(value, {**where, **place}, depth, budget)

    def json_value(self, value: Any, where: Where, depth: int, budget: Budget) -> Iterator[LogStream]:
        if isinstance(value, LogStream):
            yield value
        elif isinstance(value, DecodeError):
            self.fail(value, where)
        elif isinstance(value, Mapping):
            yield from self.mapping(value, where, depth, budget)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from self.json_value(item, {**where, "document": i}, depth, budget)
        else:
            self.fail(EnvelopeError(f"JSON value is {_kind(value)}, not a document"), where)

    # -------------------------------------------------------------------------------- mappings
    def mapping(self, m: Mapping[str, Any], where: Where, depth: int, budget: Budget) -> Iterator[LogStream]:
        if depth > _MAX_NESTING:  # requestPayload inside requestPayload ..., or a mapping holding itself
            self.fail(EnvelopeError("envelopes nested too deeply"), where)
            return
        for transport in _TRANSPORTS:
            found = transport(self, m, where, depth, budget)
            if found is not None:
                yield from found
                return
        self.fail(
            EnvelopeError("a JSON object that is neither a CloudWatch Logs document nor a known envelope"),
            where,
        )

    def records(
        self,
        records: list[Any],
        key: Callable[[Any], Any],
        what: str,
        where: Where,
        depth: int,
        budget: Budget,
    ) -> Iterator[LogStream]:
        for i, rec in enumerate(records):
            data = key(rec) if isinstance(rec, Mapping) else None
            if data is None:
                self.fail(EnvelopeError(f"not a {what} record"), {**where, "record": i})
            else:
                yield from self.payload(data, {**where, "record": i}, depth, budget)


# ------------------------------------------------------------------------------ one per transport
# Each takes the walk and a mapping; returns None when the mapping is not its shape.
Transport = Callable[[_Walk, Mapping[str, Any], Where, int, Budget], Iterator[LogStream] | None]


def _lambda_event(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    awslogs = m.get("awslogs")
    if isinstance(awslogs, Mapping) and "data" in awslogs:
        return w.payload(awslogs["data"], where, depth, b)
    return None


def _kinesis(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """Kinesis event source (``Records[].kinesis.data``) or ``aws kinesis get-records`` output
    (``Records[].Data``)."""
    records = m.get("Records")
    if not isinstance(records, list):
        return None

    def data(rec: Mapping[str, Any]) -> Any:
        kin = rec.get("kinesis")
        if isinstance(kin, Mapping):
            return kin.get("data")
        return rec.get("Data")

    return w.records(records, data, "Kinesis", where, depth, b)


def _firehose(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """Firehose transformation event or HTTP endpoint delivery (``records[].data``)."""
    records = m.get("records")
    if not isinstance(records, list):
        return None
    return w.records(records, lambda rec: rec.get("data"), "Firehose", where, depth, b)


def _firehose_error_output(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """A line of Firehose's error output in S3: ``{"attemptsMade", "rawData", "errorCode", ...}``."""
    if "rawData" in m and ("errorCode" in m or "attemptsMade" in m or "attemptEndingTimestamp" in m):
        return w.payload(m["rawData"], where, depth, b)
    return None


def _on_failure_record(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """Lambda's on-failure destination record: the original event under ``requestPayload``."""
    if "requestPayload" in m and ("requestContext" in m or "version" in m):
        request = m["requestPayload"]
        if isinstance(request, Mapping):
            return w.mapping(request, where, depth + 1, b)
        if isinstance(request, str):
            return w.value(request, where, depth + 1)
        return _fails(w, SchemaError(f"'requestPayload' is {_kind(request)}, expected an event"), where)
    return None


def _sqs_messages(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """``aws sqs receive-message`` output, or an SQS event: each message body is JSON text (an
    on-failure record) or a payload."""
    messages = m.get("Messages", m.get("Records"))
    if not isinstance(messages, list) or not messages:
        return None
    if not all(isinstance(msg, Mapping) and ("Body" in msg or "body" in msg) for msg in messages):
        return None

    def bodies() -> Iterator[LogStream]:
        for i, msg in enumerate(messages):
            body = msg.get("Body", msg.get("body"))
            here = {**where, "record": i}
            if not isinstance(body, str):
                w.fail(SchemaError(f"message body is {_kind(body)}, expected text"), here)
            elif body.lstrip()[:1] in ("{", "["):
                yield from w.data(iter([body.encode("utf-8", "surrogatepass")]), here, depth, b, top=False)
            else:
                yield from w.payload(body.strip(), here, depth, b)

    return bodies()


def _document(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    if "logEvents" in m or "messageType" in m:
        try:
            return iter((document_from_mapping(dict(m)),))
        except DecodeError as err:
            return _fails(w, err, where)
    return None


def _event_line(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """An event line of ``logstream decode`` (one event with its stream context)."""
    if "logGroup" in m and "message" in m and "id" in m:
        try:
            line = msgspec.convert(m, _EventLine)
        except (msgspec.ValidationError, TypeError, ValueError, RecursionError) as exc:
            return _fails(w, SchemaError(short_detail(f"event line: {exc}")), where)
        message = line.message if isinstance(line.message, str) else _json_text(line.message)
        if message is None:
            return _fails(w, SchemaError("event line: message is not JSON"), where)
        return iter(
            (
                LogStream(
                    MessageType.CONTROL_MESSAGE if line.owner == CONTROL_OWNER else MessageType.DATA_MESSAGE,
                    line.owner,
                    line.log_group,
                    line.log_stream,
                    line.subscription_filters,
                    (LogEvent(line.id, line.timestamp, message, line.extracted_fields),),
                    line.policy_level,
                ),
            )
        )
    return None


def _logs_api_events(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """``aws logs filter-log-events`` / ``get-log-events`` output: ``{"events": [...]}``. The
    output names no log group; consecutive events of one log stream make one stream."""
    events = m.get("events")
    if not isinstance(events, list) or not ("nextForwardToken" in m or "searchedLogStreams" in m or events):
        return None
    try:
        parsed = msgspec.convert(events, list[_ApiEvent])
    except (msgspec.ValidationError, TypeError, ValueError, RecursionError) as exc:
        return _fails(w, SchemaError(short_detail(f"log events: {exc}")), where)
    out: list[LogStream] = []
    run: list[LogEvent] = []
    for i, e in enumerate(parsed):
        if run and e.log_stream_name != parsed[i - 1].log_stream_name:
            out.append(_api_stream(parsed[i - 1].log_stream_name, run))
            run = []
        run.append(LogEvent(e.event_id or _synthetic_id(e.timestamp, i), e.timestamp, e.message))
    if run:
        out.append(_api_stream(parsed[-1].log_stream_name, run))
    return iter(out)


def _api_stream(log_stream: str, events: list[LogEvent]) -> LogStream:
    return LogStream(MessageType.DATA_MESSAGE, "", "", log_stream, (), tuple(events))


def _synthetic_id(timestamp: int, index: int) -> str:
    """A 56-digit id for events that came without one, unique within the input."""
    return f"{max(timestamp, 0) % 10**20:020d}{index:036d}"


def _custom_wrapper(w: _Walk, m: Mapping[str, Any], where: Where, depth: int, b: Budget) -> Any:
    """Any mapping holding base64 gzip/zlib payloads (``{"payload": "H4sI..."}``), nested too."""
    if depth >= _MAX_DEPTH or not _holds_payload(m):
        return None

    def payloads() -> Iterator[LogStream]:
        for value in m.values():
            if isinstance(value, str) and value.startswith(_PAYLOAD_PREFIXES):
                yield from w.payload(value, where, depth, b)
            elif isinstance(value, Mapping) and _holds_payload(value):
                yield from w.mapping(value, where, depth + 1, b)

    return payloads()


_TRANSPORTS: Final[tuple[Transport, ...]] = (
    _lambda_event,
    _sqs_messages,  # before Kinesis: an SQS event's messages are "Records" too
    _kinesis,
    _firehose,
    _firehose_error_output,
    _on_failure_record,
    _document,
    _event_line,
    _logs_api_events,
    _custom_wrapper,
)


def _fails(w: _Walk, err: DecodeError, where: Where) -> Iterator[LogStream]:
    w.fail(err, where)
    return iter(())


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


def _peek(chunks: Iterator[bytes], size: int = 16) -> tuple[bytes, Iterator[bytes]]:
    """The first bytes of a chunk stream (at least ``size``, enough to tell gzip from JSON, when
    the stream has them) and the whole stream."""
    held: list[bytes] = []
    for chunk in chunks:
        held.append(chunk)
        if sum(map(len, held)) >= size:
            break
    head = b"".join(held)
    return head, chain([head], chunks) if head else chunks


def _whole(chunks: Iterator[bytes], limit: int | None) -> tuple[bytes | None, Iterator[bytes], bool]:
    """The whole of a chunk stream, read into memory, and the same stream again. With ``limit``
    only while it is base64 text (base64 characters and whitespace) of at most ``limit`` bytes:
    else ``None`` and the stream, what was read put back in front, and whether it was base64
    text longer than ``limit``."""
    if limit is None:
        data = b"".join(chunks)
        return data, iter([data]), False
    held: list[bytes] = []
    size = 0
    for chunk in chunks:
        held.append(chunk)
        size += len(chunk)
        if _NOT_BASE64.search(chunk):
            return None, chain(held, chunks), False
        if size > limit:
            return None, chain(held, chunks), True
    data = b"".join(held)
    return data, iter([data]), False


def _strip_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    return _strip(chunks, len(_BOM))


def _strip(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    """The stream without its first ``n`` bytes (all in its first chunk)."""
    first = next(chunks, b"")
    yield first[n:]
    yield from chunks


def _json_text(value: Any) -> str | None:
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, ValueError, UnicodeError, RecursionError, OverflowError):
        return None


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
