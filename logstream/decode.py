"""Transport decoding: base64 -> gzip/zlib (capped, resynchronising) -> JSON -> typed documents.

Kept apart from the envelopes (which say *where* a payload sits in an event) so each step can
fail with its own error. Accelerators are used when installed (``pybase64`` for base64, ``isal``
for inflate); the standard library path gives the same results and is tested too.

Three promises hold for every input (see DESIGN.md section 5):

* **Only** :class:`~logstream.errors.DecodeError` **subclasses leave.** Invalid UTF-8, nesting
  too deep, numbers out of range and Python values that are not JSON are errors of a step, not
  ``UnicodeDecodeError`` / ``RecursionError`` / ``TypeError``.
* **One bad byte costs one document.** :func:`inflate` resumes at the next gzip header after a
  corrupt member; :class:`Splitter` resumes at the next plausible document start after a bad
  document. Each skip is reported, with the member, line and document it cost.
* **Linear time, bounded memory.** Compressed input is fed to the inflater in pieces sized from
  the previous member, so many small members never copy the rest of the object per member; the
  cap (``max_size``) counts every expanded byte of every nested layer of one payload.
"""

from __future__ import annotations

import binascii
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

import msgspec

from .errors import (
    Base64Error,
    DecodeError,
    DecompressError,
    JSONError,
    SchemaError,
    SizeLimitError,
)
from .models import LogEvent, LogStream, MessageType, Timestamp

__all__ = [
    "DEFAULT_MAX_SIZE",
    "default_max_size",
    "b64decode",
    "payload_bytes",
    "decompress",
    "inflate",
    "is_compressed",
    "Splitter",
    "iter_json_values",
    "document_from_bytes",
    "document_from_mapping",
    "Budget",
]

_MiB: Final = 1 << 20
#: Default cap on the expanded size of one payload (bytes), all nested layers counted. Real
#: payloads are at most a few MB (Lambda 1 MB, Kinesis 1 MiB); the cap refuses bombs. Inside
#: Lambda, :func:`default_max_size` lowers it to what the function's memory can hold.
DEFAULT_MAX_SIZE: Final = 256 * _MiB
_MIN_LAMBDA_CAP: Final = 4 * _MiB
_RUNTIME_RESERVE_MB: Final = 64  # the Python runtime, boto3 and Powertools, measured ~55 MB


def default_max_size(environ: Mapping[str, str] | None = None) -> int:
    """The cap used when none is given: :data:`DEFAULT_MAX_SIZE`, or inside Lambda a quarter of
    the function's memory less 64 MiB for the runtime (at least 4 MiB, at most 256 MiB).

    Decoding one payload peaks at about three times the cap (the compressed input, the expanded
    text and the decoded strings), so a 256 MB function refuses a bomb at 48 MiB instead of
    being killed for running out of memory.

    Example
    -------
    >>> default_max_size({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}) // (1 << 20)
    48
    >>> default_max_size({}) // (1 << 20)
    256
    """
    env = os.environ if environ is None else environ
    memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if not (memory.isascii() and memory.isdigit()):
        return DEFAULT_MAX_SIZE
    cap = (int(memory) - _RUNTIME_RESERVE_MB) * _MiB // 4
    return max(_MIN_LAMBDA_CAP, min(DEFAULT_MAX_SIZE, cap))


class Budget:
    """What is left of the cap for one payload; every layer that expands data takes from it.

    Example
    -------
    >>> b = Budget(10); b.take(4); b.left
    6
    """

    __slots__ = ("cap", "left")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.left = cap

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise SizeLimitError(
                f"expanded size exceeds the cap of {self.cap} bytes (all layers counted); "
                "raise max_size / --max-size if the input is genuine"
            )


try:  # optional accelerator: SIMD base64
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - exercised by the pure-path tests via use_accelerators()
    _pybase64 = None  # type: ignore[assignment]

try:  # optional accelerator: Intel ISA-L inflate, same API as zlib
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover
    _isal_zlib = None  # type: ignore[assignment]

_zlib: Any = _isal_zlib or zlib
_b64: Any = _pybase64
_ZLIB_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) + (  # type: ignore[assignment]
    # (isal's stub declares ``error`` an instance; it is the exception class)
    (_isal_zlib.error,) if _isal_zlib is not None else ()
)
_STEP: Final = 32 * _MiB  # inflate output per call: bounds memory on a bomb to the cap plus this
_FIRST_PIECE: Final = 1 * _MiB  # compressed bytes fed for the first member
_MAX_PIECE: Final = 4 * _MiB
_REWIND_LIMIT: Final = 8 * _MiB  # compressed bytes of one member kept to resume after it fails
_B64_WS = re.compile(r"\s+")
_GZIP_MAGIC: Final = b"\x1f\x8b\x08"
#: Errors a JSON parser or encoder raises on input that is not valid JSON text or values, besides
#: msgspec's own: invalid UTF-8, nesting too deep, values that are not JSON.
_JSON_FAULTS: Final = (UnicodeError, RecursionError, TypeError, OverflowError, ValueError)


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
            return bytes(_b64.b64decode(data, validate=True))
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
    if not text.isascii():
        return "non-ASCII character"
    if len(text) % 4:
        return f"length {len(text)} is not a multiple of 4"
    msg = str(exc)
    return msg if len(msg) < 80 else "invalid character"


def payload_bytes(text: str | bytes) -> bytes | None:
    """The bytes of ``text`` as a base64 payload, or ``None`` when it is not one.

    A line is a payload only when its base64 really decodes to compressed data or to a JSON
    document: ``Starting``, ``Finished`` or a 32-hex trace id are valid base64 but not payloads.

    Example
    -------
    >>> import base64, gzip
    >>> payload_bytes(base64.b64encode(gzip.compress(b"{}")).decode())[:2]
    b'\\x1f\\x8b'
    >>> payload_bytes("Starting") is None
    True
    """
    try:
        raw = b64decode(text)
    except Base64Error:
        return None
    if is_compressed(raw) or raw.lstrip()[:1] in (b"{", b"["):
        return raw
    return None


# ----------------------------------------------------------------------------------- compression
def is_compressed(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` starts with a gzip or zlib header."""
    if len(data) < 2:
        return False
    b0, b1 = data[0], data[1]
    if b0 == 0x1F and b1 == 0x8B:
        return True
    return (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0


class _Cut:
    """Marker in a stream of expanded bytes: the member being inflated broke off. With ``keep``
    (the input ended inside it) the complete values before the cut still count; otherwise
    (corrupt, over the cap) everything the member produced is dropped."""

    __slots__ = ("keep",)

    def __init__(self, keep: bool) -> None:
        self.keep = keep


class _Member:
    """Marker in a stream of expanded bytes: member ``index`` starts here (or ends: ``end``)."""

    __slots__ = ("index", "end")

    def __init__(self, index: int, end: bool) -> None:
        self.index = index
        self.end = end


Piece = bytes | _Cut | _Member
Report = Callable[[DecodeError], None]


class _Input:
    """A cursor over compressed input arriving in chunks (one bytes object, or a file read in
    pieces), with the absolute offset of what it hands out."""

    __slots__ = ("chunks", "buf", "pos", "base", "mark")

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = b""
        self.pos = 0
        self.base = 0  # absolute offset of buf[0]
        self.mark = 0  # absolute offset to keep from (the current member's start), within limits

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self) -> bool:
        for chunk in self.chunks:
            if chunk:
                keep = max(self.mark - self.base, self.pos - _REWIND_LIMIT, 0)
                keep = min(keep, self.pos)
                rest = self.buf[keep:]
                self.base += keep
                self.pos -= keep
                self.buf = rest + chunk if rest else bytes(chunk)
                return True
        return False

    def peek(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n and self._fill():
            pass
        return self.buf[self.pos : self.pos + n]

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes of one chunk (``b""`` when the input is exhausted)."""
        if self.pos >= len(self.buf) and not self._fill():
            return b""
        piece = self.buf[self.pos : self.pos + n]
        self.pos += len(piece)
        return piece

    def give_back(self, n: int) -> None:
        """Un-take the last ``n`` bytes taken (the bytes after a member's end)."""
        self.pos -= n

    def at_end(self) -> bool:
        return self.pos >= len(self.buf) and not self._fill()

    def rewind(self, offset: int) -> None:
        """Go back to absolute ``offset``, or as far back as the bytes still held."""
        self.pos = max(0, offset - self.base)

    def skip_to_member(self) -> None:
        """Move to the next gzip header that starts a plausible member (its header and first
        block inflate), or to the end of the input when there is none."""
        while True:
            found = self.buf.find(_GZIP_MAGIC, self.pos)
            if found >= 0:
                self.pos = found
                if _plausible_member(self.peek(_PROBE_BYTES)):
                    return
                self.pos = found + 1  # the magic bytes inside other data, not a member
                continue
            self.pos = max(self.pos, len(self.buf) - (len(_GZIP_MAGIC) - 1))  # a header across chunks
            if not self._fill():
                self.pos = len(self.buf)
                return

    def only_padding_left(self) -> bool:
        """True when the rest of the input is NUL bytes (tape-style padding is tolerated)."""
        while not self.buf[self.pos :].strip(b"\x00"):
            self.pos = len(self.buf)
            if not self._fill():
                return True
        return False


_PROBE_BYTES: Final = 1024


def _plausible_member(data: bytes) -> bool:
    try:
        zlib.decompressobj(31).decompress(data, 64)
    except zlib.error:
        return False
    return True


def inflate(
    chunks: bytes | bytearray | Iterable[bytes],
    *,
    budget: Budget,
    per_member: bool = False,
    report: Report,
) -> Iterator[Piece]:
    """Inflate gzip (any number of members back to back) or zlib data, resynchronising.

    Yields the expanded bytes as they come, with :class:`_Member` markers around each member.
    A corrupt, truncated or over-the-cap member is passed to ``report`` as a
    :class:`DecompressError` / :class:`SizeLimitError` naming the member (``.member``, 0-based)
    and the bytes skipped; a :class:`_Cut` marker first tells the reader that the member's
    output is incomplete, and inflating resumes at the next gzip header.

    ``budget`` is shared by every layer of one payload. With ``per_member`` (the outermost
    stream of an S3 object), each member is a payload of its own and the budget is refilled at
    each member's start.
    """
    src = _Input(iter([chunks]) if isinstance(chunks, (bytes, bytearray)) else iter(chunks))
    piece_size = _FIRST_PIECE
    member = 0
    while True:
        start = src.offset
        head = src.peek(2)
        if not head:
            return
        if not is_compressed(head):
            if member and src.only_padding_left():
                return
            src.skip_to_member()
            report(
                DecompressError(
                    f"{src.offset - start} bytes that are not gzip data after member {member}"
                    if member
                    else "not gzip or zlib data (no gzip/zlib header)",
                    member=member,
                )
            )
            continue
        if per_member:
            budget.left = budget.cap
        src.mark = start
        d = _zlib.decompressobj(47)  # 32 + 15: gzip or zlib header, detected per member
        yield _Member(member, False)
        consumed = 0
        failure: DecodeError | None = None
        ran_out = False  # the input ended inside this member
        try:
            while not d.eof:
                data = src.take(piece_size)
                if not data:
                    ran_out = True
                    break
                consumed += len(data)
                while True:  # bounded output per call: a bomb never holds more than the cap + a step
                    if budget.left < 0:
                        budget.take(0)  # raises: never ask zlib for 0 bytes, which means "all"
                    out = d.decompress(data, min(_STEP, budget.left + 1))
                    if out:
                        budget.take(len(out))
                        yield out
                    data = d.unconsumed_tail
                    if d.eof or not data:
                        break
                if not d.eof:
                    piece_size = min(piece_size * 2, _MAX_PIECE)
        except _ZLIB_ERRORS as exc:
            failure = DecompressError(f"corrupt compressed data in member {member + 1}: {exc}")
        except SizeLimitError as exc:
            failure = exc
        if failure is None and not ran_out:
            unused = len(d.unused_data)
            src.give_back(unused)
            piece_size = max(4096, 2 * (consumed - unused))
            yield _Member(member, True)
        else:
            src.rewind(start + 1)
            src.skip_to_member()
            # Cut off with no member after it: the input ended (complete values before the cut
            # count). Otherwise the member is corrupt (a damaged header can swallow the rest).
            truncated = ran_out and src.at_end()
            if truncated:
                failure = DecompressError(
                    f"truncated: member {member + 1} is cut off after {consumed} bytes"
                    if member
                    else f"truncated: the compressed data is cut off after {consumed} bytes"
                )
            elif failure is None:
                failure = DecompressError(f"corrupt member {member + 1}: its data runs past the next member")
            yield _Cut(keep=truncated)
            if not truncated:
                failure.detail += f"; skipped {src.offset - start} bytes to the next member"
            if member:
                failure.locate(member=member)
            report(failure)
            if isinstance(failure, SizeLimitError) and not per_member:
                return  # the payload's cap is spent: nothing more of it is inflated
        src.mark = src.offset
        member += 1


def decompress(data: bytes, max_size: int | None = None) -> bytes:
    """Inflate gzip (any number of members back to back) or zlib data in one piece, refusing bombs.

    Strict: the first corrupt member raises (:func:`inflate` is the resynchronising form).
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

    def fail(err: DecodeError) -> None:
        raise err

    pieces = inflate(data, budget=Budget(_cap(max_size)), report=fail)
    parts = [p for p in pieces if type(p) is bytes]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _cap(max_size: int | None) -> int:
    return default_max_size() if max_size is None else max_size


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
    timestamp: Timestamp
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
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
_DOC_KEYS = frozenset(("messageType", "logEvents"))
_QUOTED = re.compile(r"'([^']{41,})'")
_MAX_DETAIL = 200


def _stream(doc: _Document | _LooseDocument, raw: bytes | None) -> LogStream:
    events: Any = doc.log_events
    if events and type(events[0]) is _LooseEvent:
        events = tuple(
            LogEvent(
                e.id,
                e.timestamp,
                e.message if isinstance(e.message, str) else _json_text.encode(e.message).decode(),
                e.extracted_fields,
            )
            for e in events
        )
    return LogStream(
        doc.message_type,
        doc.owner,
        doc.log_group,
        doc.log_stream,
        doc.subscription_filters,
        events,
        doc.policy_level,
        raw,
    )


def short_detail(text: str) -> str:
    """An error detail fit to print: quoted values longer than 40 characters are replaced by
    their length, and the whole is cut at ~200 characters (never payload content)."""
    text = _QUOTED.sub(lambda m: f"<{len(m.group(1))} characters>", text.replace("`", "'"))
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _fault_detail(exc: BaseException) -> str:
    """The detail of a parser fault that is not msgspec's own error."""
    if isinstance(exc, UnicodeError):
        return "invalid UTF-8 in a JSON string"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return f"not JSON text ({type(exc).__name__})"


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
    except _JSON_FAULTS as exc:
        raise JSONError(_fault_detail(exc)) from None


def _loose_decode(buf: bytes | memoryview, first: msgspec.ValidationError) -> _LooseDocument:
    """Second chance for documents whose ``message`` is not a string (hand-made fixtures)."""
    if ".message" not in str(first):
        raise SchemaError(short_detail(str(first))) from None
    try:
        return _loose.decode(buf)
    except msgspec.ValidationError as exc:
        raise SchemaError(short_detail(str(exc))) from None
    except _JSON_FAULTS as exc:
        raise JSONError(_fault_detail(exc)) from None


def _json_detail(exc: msgspec.DecodeError) -> str:
    msg = str(exc)
    return short_detail(msg.replace("JSON is malformed: ", "invalid JSON: ") if "malformed" in msg else msg)


def fast_payload(payload: str, max_size: int | None = None) -> LogStream | None:
    """The common case in one pass: base64 of one gzip member holding one valid document.

    Returns ``None`` for anything else (the general path then decodes it, or names the step
    that fails); never raises for bad input.
    """
    try:
        cap = _MIN_LAMBDA_CAP if max_size is None else max_size  # bigger ones: the general path
        raw = (
            _b64.b64decode(payload, validate=True)
            if _b64 is not None
            else binascii.a2b_base64(payload, strict_mode=True)
        )
        if raw[:2] != b"\x1f\x8b":
            return None
        d = _zlib.decompressobj(31)
        buf = d.decompress(raw, min(cap, _STEP) + 1)  # bigger (or a bomb): the general path
        if not d.eof or d.unused_data or len(buf) > cap:
            return None
        return _stream(_typed.decode(buf), buf)
    except Exception:  # noqa: BLE001 - not the common case: the general path reports it
        return None


def document_from_mapping(obj: Mapping[str, Any]) -> LogStream:
    """Validate an already-parsed document (a mapping) into a :class:`LogStream`.

    Raises
    ------
    SchemaError
        The mapping is not a document, or holds values that are not JSON (a Python object, a
        string with a lone surrogate, nesting too deep).
    """
    try:
        raw = _json_text.encode(obj)
    except _JSON_FAULTS as exc:
        raise SchemaError(f"the document holds values that are not JSON ({type(exc).__name__})") from None
    return document_from_bytes(raw)


# ----------------------------------------------------------------------- glued / NDJSON documents
Value = LogStream | Any


class Splitter:
    """Incremental splitter of JSON values glued together (``{..}{..}``), newline-delimited or
    pretty-printed, over bytes that arrive in pieces, resynchronising after a bad value.

    :meth:`feed` takes expanded bytes (and the markers of :func:`inflate`) and yields
    ``(place, value)`` pairs: a :class:`LogStream` for a subscription document, the parsed
    value for any other JSON (an envelope for the caller), or a :class:`DecodeError` for a bad
    one. ``place`` holds the 1-based ``line`` where the value starts (when the input has
    lines), its 0-based ``document`` index (from the second value on) and the 0-based
    ``member`` it started in (when there are several).

    After a bad value, the scan resumes at the next plausible document start: a ``{`` at the
    start of a line, or ``{"messageType"`` anywhere (a raw ``{"`` cannot occur inside a JSON
    string), waiting for more input when none has arrived yet. Values are parsed as soon as
    bytes arrive, except that after an attempt found an incomplete value the next waits until
    the pending bytes have doubled (or the member or the input ends), so time stays linear and
    memory holds about one value (at most the cap) at a time. Values of a gzip member are held
    until the member's checksum has been verified: a corrupt member's values never come out.
    """

    __slots__ = (
        "parts",
        "size",
        "pending",
        "line",
        "index",
        "cap",
        "stuck",
        "members",
        "multi",
        "open",
        "held",
        "resyncing",
        "bad_line",
    )

    def __init__(self, cap: int | None = None) -> None:
        self.parts: list[bytes] = []
        self.size = 0  # bytes in parts
        self.pending = b""  # joined bytes not yet consumed
        self.line = 1  # line number at the start of ``pending``
        self.index = 0
        self.cap = _cap(cap)
        self.stuck = 0  # pending size when the last attempt found an incomplete value
        self.members: list[tuple[int, int]] = []  # (offset in pending + parts, member index)
        self.multi = False
        self.open: int | None = None  # the member being inflated (its values are held)
        self.held: list[tuple[int | None, dict[str, int], Value]] = []
        self.resyncing = False  # after a bad value whose end is unknown: look for a start
        self.bad_line = 0  # line of the last error, until a good value comes

    def feed(self, piece: Piece) -> Iterator[tuple[dict[str, int], Value]]:
        if type(piece) is bytes:
            self.parts.append(piece)
            self.size += len(piece)
            if len(self.pending) + self.size >= 2 * self.stuck:  # doubling: linear, and prompt
                yield from self._out(self._parse(final=False))
        elif isinstance(piece, _Member):
            if piece.end:
                self.open = None
                if not self.stuck or len(self.pending) + self.size >= 2 * self.stuck:
                    yield from self._out(self._parse(final=False))
                yield from self._release()
            else:
                self.multi = self.multi or piece.index > 0
                self.open = piece.index
                self.members.append((len(self.pending) + self.size, piece.index))
        elif isinstance(piece, _Cut):
            broken, self.open = self.open, None
            if piece.keep:  # the input ended: complete values count, the cut-off one is reported
                yield from self._out(self._parse(final=False))
                yield from self._release()
                self._drop_from(0)
            else:  # a broken member: what it produced is dropped (the member error says so)
                self.held = [h for h in self.held if h[0] is None or h[0] != broken]
                yield from self._release()
                self._drop_from(self.members[-1][0] if self.members else 0)

    def finish(self) -> Iterator[tuple[dict[str, int], Value]]:
        self.open = None
        yield from self._out(self._parse(final=True))
        yield from self._release()

    # ------------------------------------------------------------------------------ internals
    def _out(
        self, values: Iterator[tuple[int | None, dict[str, int], Value]]
    ) -> Iterator[tuple[dict[str, int], Value]]:
        for member, place, value in values:
            if self.open is None:
                yield place, value
            else:
                self.held.append((member, place, value))

    def _release(self) -> Iterator[tuple[dict[str, int], Value]]:
        held, self.held = self.held, []
        for _, place, value in held:
            yield place, value

    def _join(self) -> bytes:
        if self.parts:
            if self.pending:
                self.parts.insert(0, self.pending)
            self.pending = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
            self.parts = []
            self.size = 0
        return self.pending

    def _drop_from(self, start: int) -> None:
        buf = self._join()
        self.pending = buf[:start]
        self.members = [m for m in self.members if m[0] < start]
        self.stuck = 0

    def _member_at(self, offset: int) -> int | None:
        found = None
        for at, index in self.members:
            if at > offset:
                break
            found = index
        return found

    def _place(self, at: int, lines: bool) -> dict[str, Any]:
        place: dict[str, Any] = {"document": self.index} if self.index else {}
        if self.line > 1 or (self.index and lines):
            place["line"] = self.line
        member = self._member_at(at)
        if member is not None and (self.multi or member):
            place["member"] = member
        return place

    def _skip_ws(self, buf: bytes, pos: int) -> int:
        n = len(buf)
        while pos < n and buf[pos] in b" \t\r\n":
            if buf[pos] == 10:
                self.line += 1
            pos += 1
        return pos

    def _parse(self, *, final: bool) -> Iterator[tuple[int | None, dict[str, int], Value]]:
        buf = self._join()
        n = len(buf)
        lines = b"\n" in buf
        pos = 0
        if self.resyncing:
            found = _next_start(buf, 0)
            if found < 0:
                pos = n if final else max(0, n - _START_KEEP)
            else:
                pos, self.resyncing = found, False
            self.line += buf.count(b"\n", 0, pos)
        if not self.resyncing:
            pos = self._skip_ws(buf, pos)
        view = memoryview(buf)
        try:
            while pos < n and not self.resyncing:
                place = self._place(pos, lines)
                value, end = _one_value(buf, view, pos, final)
                if value is _INCOMPLETE:
                    break
                quiet = False
                if isinstance(value, DecodeError):
                    value.locate(**place)
                    if end < 0:  # unknown end: resume at the next plausible document start
                        end = _next_start(buf, pos + 1)
                        if end < 0:  # none yet: wait for more input (it may be split)
                            end = n if final else max(pos + 1, n - _START_KEEP)
                            self.resyncing = not final
                    quiet = self.bad_line == self.line  # one error per bad stretch of a line
                    self.bad_line = self.line
                else:
                    self.bad_line = 0
                if not quiet:
                    yield self._member_at(pos), place, value
                    self.index += 1
                self.line += buf.count(b"\n", pos, end)
                pos = end if self.resyncing else self._skip_ws(buf, end)
        finally:
            view.release()
        rest = buf[pos:] if pos < n else b""
        if not self.resyncing and (len(rest) > self.cap or (final and rest)):
            err: DecodeError = (
                SizeLimitError(f"a single JSON value is larger than the cap of {self.cap} bytes")
                if len(rest) > self.cap
                else JSONError("truncated: the input ends inside this value")
            )
            place = self._place(pos, lines)
            yield self._member_at(pos), place, err.locate(**place)
            self.index += 1
            self.line += rest.count(b"\n")
            rest = b""
            self.resyncing = not final
        current = self._member_at(pos)
        self.members = [(at - pos, idx) for at, idx in self.members if at > pos]
        if current is not None:
            self.members.insert(0, (0, current))
        self.pending = rest
        self.stuck = 0 if self.resyncing else len(rest)


_START = re.compile(rb'\n\{|\{"messageType"')
_START_KEEP: Final = len(b'{"messageType"') - 1  # a document start split across pieces


def _next_start(buf: bytes, pos: int) -> int:
    """The next plausible document start at or after ``pos``, or -1 (one linear search)."""
    m = _START.search(buf, pos)
    if m is None:
        return -1
    return m.start() + 1 if buf[m.start()] == 10 else m.start()


class _Incomplete:
    __slots__ = ()


_INCOMPLETE: Final = _Incomplete()


def _one_value(buf: bytes, view: memoryview, pos: int, final: bool) -> tuple[Value, int]:
    """The value starting at ``buf[pos]`` and where it ends; ``(_INCOMPLETE, -1)`` when more
    input is needed, ``(DecodeError, -1)`` when its end is unknown."""
    whole = pos == 0
    chunk = buf if whole else view[pos:]
    try:
        return _stream(_typed.decode(chunk), buf if whole else bytes(chunk)), len(buf)
    except msgspec.ValidationError as exc:
        found = _untyped(chunk, exc)
        if found is None:
            return (JSONError("truncated: the input ends inside this value") if final else _INCOMPLETE), -1
        return found[0], (pos + found[1] if found[1] >= 0 else -1)
    except msgspec.DecodeError as exc:
        text = str(exc)
        m = _TRAILING.search(text)
        if m is None:
            if "truncated" in text:
                if not final:
                    return _INCOMPLETE, -1
                return JSONError("truncated: the input ends inside this value"), -1
            at = _AT_BYTE.search(text)  # "1." or "-" cut at the end is "invalid", not "truncated"
            if not final and at is not None and pos + int(at.group(1)) >= len(buf) - 8:
                return _INCOMPLETE, -1
            return JSONError(_json_detail(exc)), -1
        end = pos + int(m.group(1)) - 1  # msgspec counts from 1
    except _JSON_FAULTS as exc:
        return JSONError(_fault_detail(exc)), -1
    part = bytes(view[pos:end])
    try:
        return _stream(_typed.decode(part), part), end
    except msgspec.ValidationError as exc2:
        found = _untyped(part, exc2)
        return (found[0] if found is not None else JSONError("truncated value")), end
    except _JSON_FAULTS as exc2:
        return JSONError(_fault_detail(exc2)), -1


def _untyped(chunk: bytes | memoryview, exc: msgspec.ValidationError) -> tuple[Value, int] | None:
    """A value that is not a valid document: parse it untyped to find its end and its shape.

    Returns ``(value, length)`` (length -1 when a bad value's end is unknown), or ``None`` when
    the value is incomplete (more input needed).
    """
    try:
        value = _any.decode(chunk)
        length = len(chunk)
    except msgspec.DecodeError as exc2:
        text = str(exc2)
        m = _TRAILING.search(text)
        if m is None:
            if "truncated" in text:
                return None
            return JSONError(_json_detail(exc2)), -1  # its end is unknown: the caller resyncs
        length = int(m.group(1)) - 1  # msgspec counts from 1
        chunk = bytes(chunk[:length])
        try:
            value = _any.decode(chunk)
        except _JSON_FAULTS as exc3:
            return JSONError(_fault_detail(exc3)), length
    except _JSON_FAULTS as exc2:
        return JSONError(_fault_detail(exc2)), -1  # its end is unknown: the caller resyncs
    if isinstance(value, dict) and _DOC_KEYS & value.keys():
        raw = bytes(chunk)
        try:
            return _stream(_loose_decode(raw, exc), raw), length
        except DecodeError as err:
            return err, length
    return value, length


def iter_json_values(buf: bytes) -> Iterator[tuple[dict[str, int], Value]]:
    """Yield ``(place, value)`` for every JSON value in ``buf``: glued (``{..}{..}``),
    newline-delimited, pretty-printed or a single one (see :class:`Splitter`).

    Example
    -------
    >>> [v for _, v in iter_json_values(b'{"a":1}{"b":2}\\n[3]')]
    [{'a': 1}, {'b': 2}, [3]]
    """
    splitter = Splitter(cap=len(buf) + 1)
    yield from splitter.feed(buf)
    yield from splitter.finish()
