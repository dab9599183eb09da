"""Transport decoding: base64 -> gzip/zlib (size-capped) -> JSON -> typed documents.

Kept apart from the envelopes (which say *where* a payload sits in an event) so each step can
fail with its own error. Accelerators are used when installed (``pybase64`` for base64, ``isal``
for inflate); the standard library path gives the same results and is tested too.
"""

from __future__ import annotations

import binascii
import re
import zlib
from collections.abc import Iterator
from typing import Any

import msgspec

from .errors import Base64Error, DecompressError, JSONError, SchemaError, SizeLimitError
from .models import LogEvent, LogStream, MessageType

__all__ = [
    "DEFAULT_MAX_SIZE",
    "b64decode",
    "decompress",
    "is_compressed",
    "iter_json_values",
    "document_from_bytes",
    "document_from_mapping",
]

#: Default cap on the decompressed size of one payload (bytes). Real payloads are at most a few
#: MB (Lambda 1 MB, Kinesis 1 MiB, Firehose objects up to 128 MiB); the cap refuses bombs.
DEFAULT_MAX_SIZE = 256 * 1024 * 1024

try:  # optional accelerator: SIMD base64
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - exercised by the pure-path tests via use_accelerators()
    _pybase64 = None

try:  # optional accelerator: Intel ISA-L inflate, same API as zlib
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover
    _isal_zlib = None

_zlib: Any = _isal_zlib or zlib
_b64: Any = _pybase64
_ZLIB_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) + (
    (_isal_zlib.error,) if _isal_zlib is not None else ()
)
_WS = re.compile(rb"[ \t\r\n]*")
_STEP = 32 << 20  # inflate step: bounds memory on a bomb to the cap plus this
_B64_WS = re.compile(r"\s+")


def use_accelerators(enabled: bool = True) -> None:
    """Switch the optional accelerators (pybase64, isal) on or off, e.g. to test the pure path.

    Example
    -------
    >>> use_accelerators(False); use_accelerators(True)
    """
    global _zlib, _b64
    _zlib = (_isal_zlib or zlib) if enabled else zlib
    _b64 = _pybase64 if enabled else None


def accelerators() -> dict[str, bool]:
    """Which accelerators are in use: ``{"pybase64": bool, "isal": bool}``."""
    return {"pybase64": _b64 is not None, "isal": _zlib is not zlib}


# --------------------------------------------------------------------------------------- base64
def b64decode(data: str | bytes) -> bytes:
    """Decode standard base64 strictly (line breaks from ``base64`` tools are allowed).

    Raises
    ------
    Base64Error
        When ``data`` is not valid base64.

    Example
    -------
    >>> b64decode("aGk=")
    b'hi'
    """
    try:
        if _b64 is not None:
            return _b64.b64decode(data, validate=True)
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        pass
    # Slow path: wrapped lines (``base64`` wraps at 76 columns) or surrounding whitespace.
    text = data.decode("ascii", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
    compact = _B64_WS.sub("", text)
    try:
        return binascii.a2b_base64(compact.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise Base64Error(f"not valid base64 ({_b64_reason(exc, compact)})") from None


def _b64_reason(exc: BaseException, text: str) -> str:
    if not text:
        return "empty"
    if len(text) % 4:
        return f"length {len(text)} is not a multiple of 4"
    msg = str(exc)
    return msg if len(msg) < 80 else "invalid character"


# ----------------------------------------------------------------------------------- compression
def is_compressed(data: bytes | memoryview) -> bool:
    """True when ``data`` starts with a gzip or zlib header."""
    if len(data) < 2:
        return False
    b0, b1 = data[0], data[1]
    if b0 == 0x1F and b1 == 0x8B:
        return True
    return (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0


def decompress(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """Inflate gzip (any number of members back to back) or zlib data, refusing bombs.

    Never produces more than ``max_size + 1`` bytes, whatever the input claims.

    Raises
    ------
    DecompressError
        Not gzip/zlib, corrupt, or truncated.
    SizeLimitError
        The output would exceed ``max_size`` bytes.

    Example
    -------
    >>> import gzip; decompress(gzip.compress(b"{}") * 2)
    b'{}{}'
    """
    if not is_compressed(data):
        raise DecompressError("not gzip or zlib data (no gzip/zlib header)")
    parts: list[bytes] = []
    total = 0
    member = 0
    while True:
        d = _zlib.decompressobj(47)  # 32 + 15: gzip or zlib header, detected per member
        pending = data
        while True:  # inflate in bounded steps so a bomb never holds more than the cap + one step
            want = min(_STEP, max_size - total + 1)
            try:
                out = d.decompress(pending, want)
            except _ZLIB_ERRORS as exc:
                raise DecompressError(f"corrupt compressed data in member {member}: {exc}") from None
            total += len(out)
            if total > max_size:
                raise SizeLimitError(f"decompressed size exceeds the cap of {max_size} bytes")
            parts.append(out)
            if d.eof:
                break
            pending = d.unconsumed_tail
            if len(out) < want and not pending:
                raise DecompressError(f"truncated compressed data in member {member}")
        rest = d.unused_data
        if not rest or not rest.strip(b"\x00"):  # trailing NUL padding is tolerated
            break
        if not is_compressed(rest):
            raise DecompressError(f"trailing bytes after compressed member {member}")
        data = rest
        member += 1
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else b"".join(parts)


# -------------------------------------------------------------------------------------- documents
class _Document(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    message_type: MessageType
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    log_events: tuple[LogEvent, ...]
    policy_level: str | None = None


class _LooseEvent(msgspec.Struct, frozen=True, gc=False, rename={"extracted_fields": "extractedFields"}):
    id: str
    timestamp: int
    message: Any
    extracted_fields: dict[str, str] | None = None


class _LooseDocument(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    message_type: MessageType
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    log_events: tuple[_LooseEvent, ...]
    policy_level: str | None = None


_typed = msgspec.json.Decoder(_Document)
_loose = msgspec.json.Decoder(_LooseDocument)
_any = msgspec.json.Decoder()
_json_text = msgspec.json.Encoder()
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_DOC_KEYS = frozenset(("messageType", "logEvents"))


def _stream(doc: _Document | _LooseDocument, raw: bytes | None) -> LogStream:
    events = doc.log_events
    if events and type(events[0]) is _LooseEvent:
        events = tuple(
            LogEvent(
                e.id,
                e.timestamp,
                e.message if isinstance(e.message, str) else _json_text.encode(e.message).decode(),
                e.extracted_fields,
            )
            for e in events  # type: ignore[union-attr]
        )
    return LogStream(
        doc.message_type,
        doc.owner,
        doc.log_group,
        doc.log_stream,
        doc.subscription_filters,
        events,  # type: ignore[arg-type]
        doc.policy_level,
        raw,
    )


def _schema_detail(exc: msgspec.ValidationError) -> str:
    return str(exc).replace("`", "'")


def document_from_bytes(buf: bytes) -> LogStream:
    """Decode exactly one subscription document from JSON bytes.

    Raises
    ------
    JSONError, SchemaError
    """
    try:
        return _stream(_typed.decode(buf), buf)
    except msgspec.ValidationError as exc:
        return _stream(_loose_decode(buf, exc), buf)
    except msgspec.DecodeError as exc:
        raise JSONError(_json_detail(exc)) from None


def _loose_decode(buf: bytes | memoryview, first: msgspec.ValidationError) -> _LooseDocument:
    """Second chance for documents whose ``message`` is not a string (hand-made fixtures)."""
    if ".message" not in str(first):
        raise SchemaError(_schema_detail(first)) from None
    try:
        return _loose.decode(buf)
    except msgspec.ValidationError as exc:
        raise SchemaError(_schema_detail(exc)) from None


def _json_detail(exc: msgspec.DecodeError) -> str:
    msg = str(exc)
    return msg.replace("JSON is malformed: ", "invalid JSON: ") if "malformed" in msg else msg


def fast_payload(payload: str, max_size: int = DEFAULT_MAX_SIZE) -> LogStream | None:
    """The common case in one pass: base64 of one gzip member holding one valid document.

    Returns ``None`` for anything else (the general path then decodes it, or names the step
    that fails); never raises for bad input.
    """
    try:
        raw = (
            _b64.b64decode(payload, validate=True)
            if _b64 is not None
            else binascii.a2b_base64(payload, strict_mode=True)
        )
        if raw[:2] != b"\x1f\x8b":
            return None
        d = _zlib.decompressobj(31)
        buf = d.decompress(raw, min(max_size, _STEP) + 1)  # bigger (or a bomb): the general path
        if not d.eof or d.unused_data or len(buf) > max_size:
            return None
        return _stream(_typed.decode(buf), buf)
    except Exception:  # noqa: BLE001 - not the common case: the general path reports it
        return None


def document_from_mapping(obj: dict[str, Any]) -> LogStream:
    """Validate an already-parsed document (a dict) into a :class:`LogStream`.

    Raises
    ------
    SchemaError
    """
    raw = _json_text.encode(obj)
    return document_from_bytes(raw)


def iter_json_values(buf: bytes) -> Iterator[tuple[int, LogStream | Any | Exception]]:
    """Yield ``(offset, value)`` for every JSON value in ``buf``: glued (``{..}{..}``),
    newline-delimited or a single one.

    A value is a :class:`LogStream` when it is a subscription document, the plain parsed value
    when it is some other JSON (an envelope for the caller to unwrap), or a ``JSONError`` /
    ``SchemaError`` instance for a bad one; after a bad value the scan resumes at the next line
    that starts a JSON object, so one bad document never hides the others.
    """
    n = len(buf)
    view = memoryview(buf)
    pos = _WS.match(buf, 0).end()  # type: ignore[union-attr]
    while pos < n:
        chunk = view[pos:] if pos else buf
        end = n
        try:
            doc = _typed.decode(chunk)
            value: Any = _stream(doc, buf if pos == 0 else bytes(chunk))
        except msgspec.ValidationError as exc:
            value, end = _untyped(chunk, pos, n, exc)
        except msgspec.DecodeError as exc:
            m = _TRAILING.search(str(exc))
            if m is None:
                yield pos, JSONError(_json_detail(exc))
                nxt = buf.find(b"\n{", pos)
                if nxt < 0:
                    return
                pos = nxt + 1
                continue
            end = pos + int(m.group(1)) - 1  # msgspec counts from 1
            part = bytes(view[pos:end])
            try:
                value = _stream(_typed.decode(part), part)
            except msgspec.ValidationError as exc2:
                value, _ = _untyped(part, pos, end, exc2)
        yield pos, value
        pos = _WS.match(buf, end).end()  # type: ignore[union-attr]


def _untyped(chunk: bytes | memoryview, pos: int, n: int, exc: msgspec.ValidationError):
    """A value that is not a valid document: parse it untyped to find its end and its shape."""
    end = n
    try:
        value = _any.decode(chunk)
    except msgspec.DecodeError as exc2:
        m = _TRAILING.search(str(exc2))
        if m is None:  # pragma: no cover - typed decode succeeded syntactically
            return JSONError(_json_detail(exc2)), n
        end = pos + int(m.group(1)) - 1  # msgspec counts from 1
        chunk = bytes(chunk[: end - pos])
        value = _any.decode(chunk)
    if isinstance(value, dict) and _DOC_KEYS & value.keys():
        try:
            raw = bytes(chunk)
            return _stream(_loose_decode(raw, exc), raw), end
        except SchemaError as err:
            return err, end
    return value, end
