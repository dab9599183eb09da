"""Transport decoding: base64 -> gzip/zlib (capped, resynchronising) -> JSON -> typed documents.

Kept apart from the envelopes (which say *where* a payload sits in an event) so each step can
fail with its own error. Accelerators are used when installed (``pybase64`` for base64, ``isal``
for inflate); the standard library path gives the same results and is tested too.

These promises hold for every input (see DESIGN.md section 5):

* **Only** :class:`~logstream.errors.DecodeError` **subclasses leave.** Invalid UTF-8, nesting
  too deep, numbers out of range and Python values that are not JSON are errors of a step, not
  ``UnicodeDecodeError`` / ``RecursionError`` / ``TypeError``.
* **One bad byte costs one document.** :func:`inflate` resumes after a corrupt member (right
  after it when only its checksum is wrong, else at the next gzip header that proves to start a
  member); :class:`Splitter` resumes at the next plausible document start after a bad
  document. Each skip is reported once, with the member, line and document it cost.
* **Every member, whatever its nesting.** :func:`flatten` decides member by member what each
  holds (another gzip or zlib layer, base64 text, JSON), so ``gz(gz(a)) gz(b)`` loses nothing.
  Members are numbered in the order their documents come out (see :class:`Numbers`).
* **Linear time, bounded memory.** Compressed input is fed to the inflater in pieces sized from
  the previous member, so many small members never copy the rest of the object per member; the
  cap (``max_size``) counts every expanded byte of every nested layer of one payload.
* **The same for any read size.** Bytes read whole, from a pipe a few at a time or in the CLI's
  1 MiB reads give the same documents and errors, also when a layer is corrupt inside its
  compressed data: what a corrupt member passes on to the layer inside it is fixed by pieces of
  its input whose bounds do not depend on the reads (see :func:`inflate`). The limit that keeps
  memory bounded is the same for every read size, bytes read whole included: after a member
  that breaks in a piece of its compressed data starting more than 4 MiB (:data:`_MAX_PIECE`)
  into it, scanning for the next member resumes 4 MiB before that piece, not right after the
  member's start, so members stored verbatim in its data before that point (a Firehose object
  gzipped again over incompressible members) are not looked for (the ones its output passed on
  to the layer inside came out already).
"""

from __future__ import annotations

import binascii
import bisect
import os
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
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
    "expand",
    "flatten",
    "Feed",
    "Numbers",
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
_MAX_PIECE: Final = 4 * _MiB  # (below _REWIND_LIMIT: a first piece is inflated again from bytes still held)
_PROBE_BYTES: Final = 1024  # bytes looked at to tell whether a header starts a member
#: compressed bytes held behind the cursor. A member's are held from its start, or (a big one)
#: from :data:`_MAX_PIECE` bytes before the piece of its data being inflated, to resume after it
#: fails; the cursor never runs further ahead of that than this (the piece, and its trailer and a
#: probe past its end), so the same bytes are held whatever the read size (see inflate)
_REWIND_LIMIT: Final = 2 * _MAX_PIECE + 2 * _PROBE_BYTES
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
    """Marker in a stream of expanded bytes: the member being inflated broke off. ``keep=False``
    (corrupt, over the cap): everything it produced is dropped. ``keep=None`` (the input ended
    inside it): its complete values are held apart until a :class:`_Verdict` says whether they
    count (no member follows: the input was cut off) or not (its data ran past a member)."""

    __slots__ = ("keep",)

    def __init__(self, keep: bool | None) -> None:
        self.keep = keep


class _Verdict:
    """Marker: the values held apart by the last ``_Cut(keep=None)`` count (``keep``) or not."""

    __slots__ = ("keep",)

    def __init__(self, keep: bool) -> None:
        self.keep = keep


class _Gap:
    """Marker: bytes that are not compressed data were skipped between two members here. A JSON
    value open at this point lost its middle: it is dropped, never glued to what follows (the
    error for the skipped bytes says so)."""

    __slots__ = ()


_GAP: Final = _Gap()


class _End:
    """Marker: the JSON text so far ends here (a nested layer or payload follows); a value still
    open is reported as truncated."""

    __slots__ = ()


class _Member:
    """Marker in a stream of expanded bytes: member ``index`` starts here (or ends: ``end``).
    A member ``found`` by scanning may prove to be a false header: it is cut then."""

    __slots__ = ("index", "end", "found")

    def __init__(self, index: int, end: bool, found: bool = False) -> None:
        self.index = index
        self.end = end
        self.found = found


Piece = bytes | _Cut | _Member | _Verdict | _End | _Gap
Report = Callable[[DecodeError], None]


class Numbers:
    """Member numbers shared by every layer of one input. A member that holds another compressed
    layer gives its number back (:meth:`release`), so the members inside it take it: members are
    numbered in the order their documents come out, whatever their nesting (``gz(gz(a)) gz(b)``
    are members 0 and 1, as ``gz(a) gz(b)`` are; the members of a stream gzipped again on top
    keep their own numbers). ``reported`` counts the errors reported from inside members (by
    the layers they hold, see :func:`flatten`).

    ``decoded`` and ``copies`` keep documents from coming out twice after a member that broke
    once its output came out (a layer inside it decoded members whose copies follow: a gzip
    layer on top stores its members verbatim, and data running on past a member's end may
    inflate the next member's data): ``decoded`` holds ``(gzip, check, size)`` of each member
    inflated to its end inside the member being inflated by the layer above; a member that
    breaks adds those to ``copies``; a member found after it with the same content is that
    copy (each is dropped once, see :func:`inflate`). ``capped``: see :func:`expand`."""

    __slots__ = ("next", "reported", "decoded", "copies", "capped")

    def __init__(self) -> None:
        self.next = 0
        self.reported = 0
        self.capped: _Capped | None = None  # the outermost layer's report (see expand)
        self.decoded: list[tuple[bool, int, int]] = []
        self.copies: set[tuple[bool, int, int]] = set()

    def claim(self) -> int:
        self.next += 1
        return self.next - 1

    def release(self) -> None:
        self.next -= 1


class _Sought:
    """What the last search for one kind of header found, in absolute offsets: the first one
    starting at or after ``start`` is at ``at`` (-1: none starts before ``clear``)."""

    __slots__ = ("start", "at", "clear")

    def __init__(self) -> None:
        self.start = self.clear = 0
        self.at = -1


def _find_gzip(buf: bytes, i: int) -> int:
    return buf.find(_GZIP_MAGIC, i)


def _find_zlib(buf: bytes, i: int) -> int:
    m = _ZLIB_HEAD.search(buf, i)
    return -1 if m is None else m.start()


class _Input:
    """A cursor over compressed input arriving in chunks (one bytes object, or a file read in
    pieces), with the absolute offset of what it hands out."""

    __slots__ = (
        "chunks",
        "buf",
        "pos",
        "base",
        "mark",
        "seen_end",
        "fresh",
        "zlib_sought",
        "gzip_sought",
    )

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = b""
        self.pos = 0
        self.base = 0  # absolute offset of buf[0]
        # absolute offset to keep from: the current member's start, or (a big member) _MAX_PIECE
        # bytes before the piece of its data being inflated (see inflate)
        self.mark = 0
        self.seen_end = 0  # absolute end of the ten bytes of the last gzip header looked at
        self.fresh = True  # the header found last starts at or after seen_end (see skip_to_member)
        self.zlib_sought = _Sought()  # what the last search for each kind of header found
        self.gzip_sought = _Sought()

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self, need: int = 1) -> bool:
        """Read the next chunk, or as many as bring ``need`` bytes (joined once: a piece held
        whole from small reads is not copied again for each read)."""
        got: list[bytes] = []
        size = 0
        for chunk in self.chunks:
            if chunk:
                got.append(chunk)
                size += len(chunk)
                if size >= need:
                    break
        if not got:
            return False
        keep = max(self.mark - self.base, self.pos - _REWIND_LIMIT, 0)
        keep = min(keep, self.pos)
        rest = self.buf[keep:]
        self.base += keep
        self.pos -= keep
        if rest:
            got.insert(0, rest)
        self.buf = bytes(got[0]) if len(got) == 1 else b"".join(got)
        return True

    def have(self, n: int) -> int:
        """Hold at least ``n`` bytes from the cursor (fewer when the input ends first) and say
        how many are held; ``buf`` and ``pos`` may move (nothing is copied for the caller)."""
        while len(self.buf) - self.pos < n and self._fill(n - (len(self.buf) - self.pos)):
            pass
        return len(self.buf) - self.pos

    def peek(self, n: int) -> bytes:
        self.have(n)
        return self.buf[self.pos : self.pos + n]

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes of one chunk (``b""`` when the input is exhausted)."""
        if self.pos >= len(self.buf) and not self._fill():
            return b""
        piece = self.buf[self.pos : self.pos + n]
        self.pos += len(piece)
        return piece

    def advance(self, n: int) -> None:
        """Step over ``n`` bytes already seen with :meth:`peek`."""
        self.pos += n

    def give_back(self, n: int) -> None:
        """Un-take the last ``n`` bytes taken (the bytes after a member's end)."""
        self.pos -= n

    def at_end(self) -> bool:
        return self.pos >= len(self.buf) and not self._fill()

    def rewind(self, offset: int) -> None:
        """Go back to absolute ``offset``, or to the ``mark`` when that is later: the bytes from
        the mark on are held whatever the read size (those before it may be or not)."""
        self.pos = max(0, max(offset, self.mark) - self.base)

    def skip_to_member(self, known: AbstractSet[bytes] = frozenset(), limit: int = -1) -> bool:
        """Move to the next header that starts a plausible member, or to the end of the input
        when there is none: a gzip header that is valid with a first block after it that
        inflates (or like the headers in ``known``), or a zlib header whose first bytes inflate
        to what a member holds (see :func:`_plausible_zlib`). With ``limit`` (an absolute
        offset), only headers starting before it count: the cursor stops at ``limit`` when
        there is none. True when a header was found; ``fresh`` then says whether it starts
        after every gzip header looked at before it (one starting inside another header's ten
        bytes is never taken for a damaged member on its looks alone: see :func:`inflate`).

        Time is linear: each gzip magic found is looked at once, most false ones without an
        inflater (see :func:`_surely_false`), and zlib headers are searched once per stretch
        of held bytes, not once per gzip magic."""
        while True:
            buf, base, pos = self.buf, self.base, self.pos
            held = len(buf) if limit < 0 else min(len(buf), limit - base + len(_GZIP_MAGIC) - 1)
            found = self._next_gzip(base + pos, base + held) - base
            if found < 0:
                found = -1
            region = held if limit < 0 else min(held, limit - base + 1)  # where zlib headers may start
            zlib_at = self._next_zlib(base + pos, base + (found + 1 if found >= 0 else region))
            if zlib_at >= 0:  # a zlib stream before the gzip magic
                self.pos = zlib_at - base
                if _plausible_zlib(self):
                    self.fresh = True
                    return True
                self.pos = zlib_at + 1 - self.base  # (the buffer may have moved)
                continue
            if found >= 0:
                gzip_at = base + found
                fresh = gzip_at >= self.seen_end
                self.seen_end = max(self.seen_end, gzip_at + 10)
                self.pos = found
                self.have(15)  # judged on the same bytes whatever the read size (the buffer may move)
                buf, found = self.buf, self.pos
                if (fresh and known and _signature(buf[found : found + 10]) in known) or (
                    not _surely_false(buf, found) and _plausible_at(self)
                ):
                    self.fresh = fresh
                    return True
                self.pos = gzip_at + 1 - self.base  # the magic inside other data (the buffer may have moved)
                continue
            if limit >= 0 and limit - base <= len(buf):
                self.pos = max(pos, limit - base)
                return False
            self.pos = max(pos, len(buf) - (len(_GZIP_MAGIC) - 1))  # a header across chunks
            if not self._fill():
                self.pos = len(self.buf)
                return False

    def _next(
        self, sought: _Sought, width: int, find: Callable[[bytes, int], int], at: int, stop: int
    ) -> int:
        """The absolute offset of the first header (``width`` bytes; ``find(buf, i)`` gives the
        index of the next one from ``i``, or -1) lying whole in ``[at, stop)`` (absolute offsets
        within what is held), or -1. Each search runs to the end of what is held and is
        remembered in ``sought``: the same bytes are not searched again for every candidate
        looked at in between, nor after a rewind to a member's start (that was quadratic: an
        incompressible stretch with many zlib-looking byte pairs and no gzip magic)."""
        if sought.start <= at:
            if sought.at >= at:
                return sought.at if sought.at + width <= stop else -1
            if sought.at < 0:
                if stop - width < sought.clear:
                    return -1
                frm = max(at, sought.clear)  # the search goes on where the last one ended
            else:
                frm = sought.start = at  # (the one found is behind)
        else:
            frm = sought.start = at
        i = find(self.buf, frm - self.base)
        if i >= 0:
            sought.at = sought.clear = self.base + i
        else:  # none starts before the last width - 1 bytes (one may run on into the next chunk)
            sought.at, sought.clear = -1, self.base + max(0, len(self.buf) - width + 1)
        return sought.at if 0 <= sought.at and sought.at + width <= stop else -1

    def _next_gzip(self, at: int, stop: int) -> int:
        return self._next(self.gzip_sought, len(_GZIP_MAGIC), _find_gzip, at, stop)

    def _next_zlib(self, at: int, stop: int) -> int:
        return self._next(self.zlib_sought, 2, _find_zlib, at, stop)

    def only_padding_left(self) -> bool:
        """True when the rest of the input is padding: NUL bytes (tape-style) or whitespace (a
        line break after the last member: ``cat object.gz; echo``, a text-mode transfer)."""
        while not self.buf[self.pos :].strip(_PADDING):
            self.pos = len(self.buf)
            if not self._fill():
                return True
        return False


#: What may follow the last member without an error: NUL bytes and ASCII whitespace.
_PADDING: Final = b"\x00 \t\r\n"
#: zlib headers found by scanning: a 32 KiB window (what zlib writes), no preset dictionary
_ZLIB_HEAD: Final = re.compile(rb"\x78[\x01\x5e\x9c\xda]")
_NAME_LIMIT: Final = 4096  # a gzip header's file name or comment longer than this is not a header
#: the same for a member where one is expected (the stream's start, after a member): a longer one
#: is refused as a corrupt header, so a header never holds more than this in memory
_MEMBER_NAME_LIMIT: Final = 64 * 1024
_CANDIDATE_PIECE: Final = 4096  # first piece fed to a member found by scanning (see inflate)
#: members in a row, broken where their end is unknown, that are counted as members (so the
#: members after them keep their numbers); after that many, the rest of the stretch is skipped
#: as one (hostile input: ``1f 8b 08 00 ...`` headers back to back each broken at once)
_DAMAGED_RUN: Final = 16


def _plausible_member(data: bytes, wbits: int = 31) -> bool:
    try:
        zlib.decompressobj(wbits).decompress(data, 64)
    except zlib.error:
        return False
    return True


def _header_length(src: _Input, name_limit: int = _NAME_LIMIT) -> int:
    """The length of the gzip or zlib header at the cursor: 0 when the input ends inside it, -1
    when it is not a valid header (see :func:`_read_header`)."""
    return _read_header(src, name_limit)[0]


def _read_header(src: _Input, name_limit: int = _NAME_LIMIT) -> tuple[int, str]:
    """The length of the gzip or zlib header at the cursor (0 when the input ends inside it, -1
    when it is not a valid header) and, when invalid, why: not a gzip or zlib header, reserved
    flags, a preset dictionary nobody sent, a file name or comment of ``name_limit`` bytes or
    more, a bad header CRC (zlib's wording where zlib has one). Read in place (a false header
    may claim 64 KiB of extra field at every few bytes: nothing is copied)."""
    held = src.have(10)
    buf, p = src.buf, src.pos
    if held < 2:
        return 0, ""
    if buf[p] != 0x1F:  # zlib: CM 8, a window of at most 32 KiB, FCHECK
        if not is_compressed(buf[p : p + 2]):
            return -1, "incorrect header check"
        return (-1, "a preset dictionary is required") if buf[p + 1] & 0x20 else (2, "")
    if buf[p + 1] != 0x8B:
        return -1, "incorrect header check"
    if held < 10:
        return 0, ""
    flags = buf[p + 3]
    if flags == 0 and buf[p + 2] == 8:  # the usual header: no optional fields
        return 10, ""
    if buf[p + 2] != 8:
        return -1, "unknown compression method"
    if flags & 0xE0:
        return -1, "unknown header flags set"
    n = 10
    if flags & 4:  # FEXTRA
        if src.have(n + 2) < n + 2:
            return 0, ""
        buf, p = src.buf, src.pos
        n += 2 + int.from_bytes(buf[p + n : p + n + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            held = src.have(n + name_limit)
            buf, p = src.buf, src.pos
            nul = buf.find(b"\x00", p + n, p + min(held, n + name_limit))
            if nul < 0:
                if held < n + name_limit:
                    return 0, ""
                return -1, f"a file name or comment of {name_limit} bytes or more"
            n = nul + 1 - p
    if flags & 2:  # FHCRC: the low 16 bits of the header's CRC-32
        n += 2
    if src.have(n) < n:
        return 0, ""
    buf, p = src.buf, src.pos
    if flags & 2:
        with memoryview(buf) as view:
            crc = zlib.crc32(view[p : p + n - 2]) & 0xFFFF
        if crc != int.from_bytes(buf[p + n - 2 : p + n], "little"):
            return -1, "header crc mismatch"
    return n, ""


def _plausible_at(src: _Input) -> bool:
    """Whether the gzip header at the cursor may start a member: it is valid and the first
    :data:`_PROBE_BYTES` after it inflate (or the input ends before that can be told). The
    extra field, name and comment are stepped over, not fed to the inflater: a false header
    claiming a long extra field is judged by the bytes after it, in constant time."""
    n = _header_length(src)
    if n <= 0:
        return n == 0
    held = src.have(n + _PROBE_BYTES)
    if held <= n:
        return True
    buf, p = src.buf, src.pos
    with memoryview(buf) as view:
        try:
            zlib.decompressobj(-15).decompress(view[p + n : p + min(held, n + _PROBE_BYTES)], 64)
        except zlib.error:
            return False
    return True


def _surely_false(buf: bytes, p: int) -> bool:
    """True when the gzip magic at ``buf[p]`` certainly does not start a member, told from the
    bytes held without an inflater: reserved flags set, or (a header without optional fields)
    a first deflate block of the invalid type, or a stored block whose length and its
    complement disagree. (Junk made of false headers, ``1f 8b 08 00`` again and again, is
    refused at the cost of a few comparisons per header.)"""
    if len(buf) < p + 15:
        return False
    flags = buf[p + 3]
    if flags & 0xE0:
        return True
    if flags:
        return False
    block = (buf[p + 10] >> 1) & 3
    if block == 3:
        return True
    return block == 0 and (buf[p + 11] | buf[p + 12] << 8) ^ (buf[p + 13] | buf[p + 14] << 8) != 0xFFFF


def _plausible_zlib(src: _Input) -> bool:
    """Whether the zlib header at the cursor (found by scanning) may start a member: its first
    :data:`_PROBE_BYTES` inflate, to the start of what a member holds (JSON, base64 text,
    another gzip or zlib layer). Two bytes are a zlib header by chance at every few hundred
    bytes of other data; its output gives it away."""
    held = src.have(_PROBE_BYTES)
    buf, p = src.buf, src.pos
    with memoryview(buf) as view:
        try:
            out = zlib.decompressobj(15).decompress(view[p : p + min(held, _PROBE_BYTES)], 64)
        except zlib.error:
            return False
    return (
        out[:3] == _GZIP_MAGIC
        or _ZLIB_HEAD.match(out) is not None
        or _DOCUMENT_START.match(out) is not None
        or _base64_start(out)
    )


def _holds_layer(head: bytes) -> bool:
    """True when a member's output beginning with ``head`` is another compressed layer (gzip on
    top of members, or a zlib stream; as :func:`flatten` tells): what it holds has checksums of
    its own."""
    return head[:2] == b"\x1f\x8b" or (is_compressed(head) and _plausible_member(head, 15))


def _boundary(rest: bytes) -> bool:
    """True when ``rest`` (what follows a member) is the end of the input, padding, or what
    starts a member: gzip magic bytes (even one bit off), or a zlib stream that inflates."""
    return (
        not rest.strip(_PADDING)
        or rest[:2] == b"\x1f\x8b"
        or _damaged_magic(rest[:3])
        or (is_compressed(rest) and _plausible_member(rest, 47))
    )


def _signature(head: bytes) -> bytes:
    """What the gzip headers written by one writer share (all but the modification time)."""
    return head[:4] + head[8:10] if head[:3] == _GZIP_MAGIC and len(head) >= 10 else b""


_HEAD_BYTES: Final = 64  # how much of a member's output is kept to tell what it holds
_INNER_HEADS: Final = 20_000  # at most this many members decoded inside one member are remembered


def _damaged_magic(head: bytes) -> bool:
    """True when ``head`` is a gzip header whose magic bytes have one bit flipped."""
    return len(head) == 3 and head[2] == 8 and (int.from_bytes(head[:2], "big") ^ 0x1F8B).bit_count() == 1


class _Skip:
    """A bad stretch being skipped (a member that broke where its end is unknown, or bytes that
    are not gzip data), with the error that reports it once the stretch ends."""

    __slots__ = ("kind", "start", "label", "error", "consumed", "head")

    def __init__(
        self, kind: str, start: int, label: int, error: DecodeError | None, consumed: int = 0
    ) -> None:
        self.kind = kind  # "junk", "broken", "ran_out" (the input ended inside it) or "quiet"
        self.start = start
        self.label = label  # the member it costs (for junk: the number the next member takes)
        self.error = error
        self.consumed = consumed
        self.head = b""  # (junk) its first bytes, to name a format that is not gzip

    def close(
        self, end: int, member_follows: bool, members: int
    ) -> tuple[_Verdict | None, DecodeError | None]:
        """The marker and the error that end the stretch at offset ``end``, where a member
        starts (``member_follows``) or the input ends."""
        verdict = None
        err = self.error
        if self.kind == "ran_out":
            verdict = _Verdict(keep=not member_follows)
            if not member_follows:  # no member after it: the input was cut off
                err = DecompressError(
                    f"truncated: member {self.label + 1} is cut off after {self.consumed} bytes"
                    if self.label
                    else f"truncated: the compressed data is cut off after {self.consumed} bytes"
                )
            else:
                err = DecompressError(f"corrupt member {self.label + 1}: its data runs past the next member")
        elif self.kind == "junk":
            err = DecompressError(
                f"{end - self.start} bytes that are not gzip data after member {self.label}"
                if members
                else f"{end - self.start} bytes that are not gzip or zlib data before member {self.label + 1}"
                if member_follows
                else "not gzip or zlib data (no gzip/zlib header)" + _other_format(self.head)
            )
        if err is not None:
            if self.kind != "junk" and (member_follows or self.kind != "ran_out"):
                err.detail += f"; skipped {end - self.start} bytes to the " + (
                    "next member" if member_follows else "end of the input"
                )
            if self.label:
                err.locate(member=self.label)
        return verdict, err


# compressed formats that are not gzip, by their first bytes (S3 delivery from Firehose offers
# ZIP and Snappy besides gzip): (magic, what to tell the user)
_OTHER_FORMATS: Final = (
    (b"PK\x03\x04", "a ZIP archive (Firehose's ZIP compression): unzip it first"),
    (b"\xff\x06\x00\x00sNaPpY", "Snappy framed data (Firehose's Snappy compression): not read here"),
    (b"BZh", "bzip2 data: bunzip2 it first"),
    (b"\xfd7zXZ\x00", "xz data: unxz it first"),
    (b"\x28\xb5\x2f\xfd", "zstd data: unzstd it first"),
)


def _other_format(head: bytes) -> str:
    """``"; it is ..."`` when ``head`` starts a known compressed format that is not gzip or zlib."""
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            return f"; it is {what}"
    return ""


def _inflate_step(d: Any, data: bytes, budget: Budget, held: list[bytes]) -> bytes:
    """One bounded call of inflater ``d`` on ``data`` (a bomb holds at most the cap + a step):
    its output counted and appended to ``held``; the input it left for the next call."""
    out = d.decompress(data, min(_STEP, budget.left + 1))
    if out:
        budget.take(len(out))
        held.append(out)
    return bytes(d.unconsumed_tail)


def inflate(
    chunks: bytes | bytearray | Iterable[bytes],
    *,
    budget: Budget,
    per_member: bool = False,
    report: Report,
    numbers: Numbers | None = None,
) -> Iterator[Piece]:
    """Inflate gzip (any number of members back to back) or zlib data, resynchronising.

    Yields the expanded bytes as they come, with :class:`_Member` markers around each member.
    A corrupt, truncated or over-the-cap member is passed to ``report`` as a
    :class:`DecompressError` / :class:`SizeLimitError` naming the member (``.member``, 0-based)
    and the bytes skipped; a :class:`_Cut` marker first tells the reader that the member's
    output is incomplete.

    Where a broken member ends is known when only its checksum or length is wrong: inflating
    resumes right after it. The trailer is checked here, after all of the member's output came
    out (the same output for any read size): what the member holds is dropped unless it has
    checksums of its own (another gzip or zlib layer, whose intact members are kept).

    A member's data is inflated in pieces whose bounds depend on where it starts and on the
    members before it, never on the read size (the first piece :data:`_FIRST_PIECE` bytes, or
    twice the size of the member before; each next one twice as large, up to
    :data:`_MAX_PIECE`), and a piece's output is passed on once the whole piece is inflated.
    When the data proves corrupt (or runs past the member's end into other bytes), the member
    has passed on the output of the pieces before the one holding the damage, whatever the
    read size: a layer inside it keeps the members that came out whole (each checked by its own
    trailer), and the same ones for whole bytes, a pipe giving a few bytes at a time or the
    CLI's reads. (The first piece is fed as the input comes, so that a member ending in it comes
    out before the next bytes arrive; a first piece the member does not end in is inflated again
    in one call, as the later pieces are.)

    Otherwise it resumes at the next gzip header that starts a member, looked for from right
    after the broken member's first byte (members stored in its data are found), or, when the
    piece in which it broke starts more than :data:`_MAX_PIECE` bytes after its start, from
    that many bytes before that piece: memory holds no more of it (:data:`_REWIND_LIMIT`), and
    the point depends on the input alone, so whole bytes and every read size resume at the
    same point. A header
    found that way counts as a member only when its data inflates to its end (or over the cap,
    or, after bytes that were not gzip data or a corrupt member, up to the end of the input).
    A false header (``1f 8b 08`` inside a broken member's data or inside other bytes) is part
    of the stretch skipped: one bad stretch is one error, and the members after it keep their
    numbers. After a broken member, a broken header like the stream's own is taken for the
    next member, damaged too, unless it starts inside another header's ten bytes or
    :data:`_DAMAGED_RUN` members in a row broke already: headers back to back (``1f 8b 08 00``
    again and again) are one stretch, one error. A header found by scanning is fed in small
    pieces and scanning resumes after what it inflated, so the time stays linear whatever the
    input holds.

    ``budget`` is shared by every layer of one payload. With ``per_member`` (the outermost
    stream of an S3 object), each member is a payload of its own and the budget is refilled at
    each member's start. ``numbers`` is shared by every layer of one input (see
    :class:`Numbers`).
    """
    feed = chunks if isinstance(chunks, Feed) else None
    src = _Input(iter([chunks]) if isinstance(chunks, (bytes, bytearray)) else iter(chunks))
    numbers = Numbers() if numbers is None else numbers
    piece_size = _FIRST_PIECE
    members = 0  # members of this stream inflated to their end
    skip: _Skip | None = None  # the bad stretch being skipped, reported when it ends
    known: set[bytes] = set()  # header signatures of this stream's members (see _signature)
    run = 0  # members in a row broken where their end is unknown (see _DAMAGED_RUN)
    copies_end = 0  # the end of what the members that broke read (see Numbers)
    # the last member, for the bookkeeping of what was decoded inside it: where its list starts
    # in numbers.decoded, how it ended ("ok", "copy", "trailer", "broke"), the end of what it
    # read, its content
    settle: tuple[int, str, int, tuple[bool, int, int]] | None = None
    while True:
        if settle is not None:
            mark, outcome, reached, content = settle
            settle = None
            if outcome == "broke" and len(numbers.decoded) > mark:  # it broke after they came
                numbers.copies.update(numbers.decoded[mark:])  # out: copies of them may follow
                copies_end = max(copies_end, reached)
            if outcome == "ok" and feed is not None:  # (for the layer above: see Numbers)
                if len(numbers.decoded) < _INNER_HEADS:
                    numbers.decoded.append(content)
            else:
                del numbers.decoded[mark:]
        start = src.offset
        head = src.peek(2)
        if not head:
            break
        if not is_compressed(head) and (skip is not None or not _damaged_magic(src.peek(3))):
            if skip is None:
                if members and src.only_padding_left():
                    break
                skip = _Skip("junk", start, numbers.next, None)
                skip.head = bytes(src.peek(10))
                yield _GAP
            src.skip_to_member()
            continue
        if per_member:
            budget.left = budget.cap
        src.mark = start
        if feed is not None:
            feed.inside = True
        # a header at a member's start is the writer's: the stream's first, and (below) one that
        # fails; one found by scanning is compared with them
        head10 = src.peek(10)
        signature = _signature(head10) if skip is not None or not members else b""
        # where the header of a member found by scanning ends (its extra field, name and
        # comment may prove to be other bytes, holding members)
        header, fault = _read_header(src, _NAME_LIMIT if skip is not None else _MEMBER_NAME_LIMIT)
        header_end = start + max(header, 10) if skip is not None else start
        if skip is None and signature:
            known.add(signature)
        if skip is None:  # (one found by scanning was looked at there)
            src.seen_end = max(src.seen_end, start + 10)
            src.fresh = True
        # one starting inside another header's ten bytes is no member unless it proves one
        fresh, src.fresh = src.fresh, True
        # a broken header like the stream's own may be the next member, damaged too (below):
        # not one starting inside another header, nor after too many such in a row
        damaged_too = skip is not None and skip.kind == "broken" and fresh and run < _DAMAGED_RUN
        index = numbers.claim()
        reported = numbers.reported  # errors reported before it (a layer inside it reports more)
        mark = len(numbers.decoded)  # the members decoded inside it are listed from here
        yield _Member(index, False, skip is not None)
        # how inflating it ends: "ok"; "trailer" (its data inflates to its end but the checksum
        # or length is wrong: where it ends is known); "broken" (invalid header or data: where
        # it ends is not known); "ran_out" (the input ended inside it); "cap" (over the size
        # cap); "spent" (a layer inside it spent the shared cap, and reported it); "cut" (the
        # outer member holding this layer broke off, see Feed)
        status = "ok"
        detail = ""
        error: SizeLimitError | None = None
        last_piece = pieces = 0  # where the last piece fed to the inflater starts; how many
        step = _CANDIDATE_PIECE if skip else piece_size
        first = b""  # the first bytes of its output: what it holds (another layer, JSON, ...)
        # The header is read here and the deflate data inflated raw, with the trailer checked
        # here too: zlib checking it would raise and drop the output of the call that reached
        # it, so what came out of a member whose trailer is wrong would depend on the read size
        # (a layer on top of other members gives all of its output: they are checked on their own)
        gzip = src.buf[src.pos] == 0x1F if header > 0 else True
        check = _zlib.crc32 if gzip else _zlib.adler32
        value = 0 if gzip else 1
        size = 0
        d = _zlib.decompressobj(-15)
        try:
            if header < 0:
                status, detail = "broken", fault
            elif header == 0:  # the input ends inside the header
                while src.take(_MAX_PIECE):
                    pass
                status = "cut" if feed is not None and feed.cut is not None else "ran_out"
            else:
                src.advance(header)
            while status == "ok" and not d.eof:
                # One piece: [last_piece, last_piece + step) of the input, its bounds fixed by
                # where the member starts and by the members before it, never by the read size.
                # Its output is passed on once it is inflated to its end (or the member's data
                # or the input ends inside it), and dropped when the data proves corrupt inside
                # it: what a corrupt member passed on to the layer inside it is the same for any
                # read size (zlib drops the output of a call that fails, so what came out before
                # the error would depend on how much input each call had).
                last_piece = src.offset
                # the bytes kept to resume after it fails: from its start, or (a big member) from
                # a point fixed by the input alone, never by what the reads left held
                src.mark = max(start, last_piece - _MAX_PIECE)
                pieces += 1
                piece_end = last_piece + step
                if pieces > 1:  # the next piece whole, in one call (see below)
                    src.have(step)
                data = src.take(step)
                if not data:
                    status = "cut" if feed is not None and feed.cut is not None else "ran_out"
                    break
                held: list[bytes] = []
                takes = 1
                broke = False
                try:
                    while True:  # bounded output per call: a bomb holds at most the cap + a step
                        if budget.left < 0:  # spent by a layer inside this one, which reported it
                            status = "spent"
                            break
                        data = _inflate_step(d, data, budget, held)
                        if d.eof:
                            break
                        if not data:  # (the first piece) the rest of it, as the input brings it
                            if src.offset >= piece_end:
                                break
                            data = src.take(piece_end - src.offset)
                            if not data:
                                break
                            takes += 1
                except _ZLIB_ERRORS:
                    if takes == 1:
                        raise
                    broke = True
                if status != "ok":
                    break
                if takes > 1 and (broke or not d.eof):
                    # The first piece is fed as the input comes, so that a member is seen to
                    # end as soon as its bytes are in (a producer pausing after each member);
                    # when it does not end there cleanly, the piece is inflated again in one
                    # call, which decides: where its input stops, what ISA-L gives (and whether
                    # it finds damage in the last bytes) depends on how that input was cut.
                    budget.left += sum(map(len, held))
                    held = []
                    src.rewind(last_piece)
                    src.have(step)
                    data = src.take(step)
                    d = _zlib.decompressobj(-15)
                    while data:
                        data = _inflate_step(d, data, budget, held)
                        if d.eof:
                            break
                held.reverse()
                while held:  # (each handed on and let go: the layer after may keep it a while)
                    out = held.pop()
                    value = check(out, value)
                    size += len(out)
                    if len(first) < _HEAD_BYTES:
                        first += out[: _HEAD_BYTES - len(first)]
                    yield out
                out = b""  # (not kept alive while this generator waits)
                if not d.eof:
                    step = min(step * 2, _MAX_PIECE)
        except _ZLIB_ERRORS as exc:
            status, detail = "broken", str(exc)
        except SizeLimitError as exc:
            status, error = "cap", exc
        if status == "ok":  # the trailer: CRC-32 and length (gzip) or Adler-32 (zlib)
            src.give_back(len(d.unused_data))
            trailer_size = 8 if gzip else 4
            trailer = src.peek(trailer_size)
            src.advance(len(trailer))
            if len(trailer) < trailer_size:
                status = "cut" if feed is not None and feed.cut is not None else "ran_out"
            else:
                if gzip:
                    data_ok = int.from_bytes(trailer[:4], "little") == value
                    length_ok = int.from_bytes(trailer[4:], "little") == size & 0xFFFFFFFF
                else:
                    data_ok, length_ok = int.from_bytes(trailer, "big") == value, True
                if not (data_ok and length_ok):
                    detail = "incorrect data check" if not data_ok else "incorrect length check"
                    # both wrong: its data may have run on into the next member's, to that
                    # member's trailer; where it ends is not known
                    status = "broken" if data_ok == length_ok else "trailer"
        if feed is not None:
            feed.inside = False
        if status == "trailer" and not _boundary(src.peek(_PROBE_BYTES)):
            status = "broken"  # damage that ended the data early: where it ends is not known
        consumed = src.offset - start  # for ok, trailer and ran_out: the member's bytes
        copy = status == "ok" and (gzip, value, size) in numbers.copies
        if copy:  # a copy of a member decoded already (see Numbers): dropped, once
            numbers.copies.discard((gzip, value, size))
        # settled once the layers inside it are done with its output (at the next turn)
        settle = (
            mark,
            "copy" if copy else status if status in ("ok", "trailer") else "broke",
            src.offset,
            (gzip, value, size),
        )
        if status != "ok" and skip is None:
            known.add(_signature(head10))
        if (
            skip is not None
            and (
                status in ("broken", "spent", "cut")
                or (status == "ran_out" and (skip.kind == "ran_out" or not fresh))
            )
            and not (status == "broken" and damaged_too and signature in known)
        ):
            # not a member: a false header inside the stretch being skipped; its bytes belong
            # to the stretch. (After a member broken where its end is unknown, a broken header
            # like the stream's own is taken for the next member, damaged too.)
            numbers.release()
            yield _Cut(keep=False)
            scan: AbstractSet[bytes] = known if skip.kind == "broken" and run < _DAMAGED_RUN else frozenset()
            src.rewind(start + 1)
            if pieces > 1:  # resume after what it inflated (linear time), but first look in the
                # fields its header claimed: the inflater stepped over them unchecked
                if header_end > start + 10 and src.skip_to_member(scan, header_end):
                    continue
                src.rewind(max(last_piece, header_end))
            src.skip_to_member(scan)
            continue
        if copy and skip is not None:  # (one held verbatim by a member that broke): not a member
            numbers.release()
            yield _Cut(keep=False)
            src.skip_to_member(known if skip.kind == "broken" and run < _DAMAGED_RUN else frozenset())
            continue
        if (
            skip is not None
            and skip.kind == "broken"
            and status == "ok"
            and not _boundary(src.peek(_PROBE_BYTES))
        ):
            # a whole member inside the stretch, not after it (one held in the stored data of a
            # broken member): its documents are good, but it does not take a member number
            numbers.release()
            yield _Member(index, True)
            src.skip_to_member(known if skip.kind == "broken" and run < _DAMAGED_RUN else frozenset())
            continue
        if skip is not None:  # a member: the stretch before it ends here
            verdict, err = skip.close(start, True, members)
            if verdict is not None:
                yield verdict
            if err is not None:
                report(err)
            skip = None
        if status in ("ok", "trailer"):
            run = 0
        if status == "ok":
            members += 1
            if signature:  # (the first member's, or one found by scanning that proved a member)
                known.add(signature)
            piece_size = min(max(4096, 2 * consumed), _MAX_PIECE)
            if numbers.copies and start >= copies_end and feed is None:
                numbers.copies.clear()  # past every byte the broken members read: no copy follows
            yield _Cut(keep=False) if copy else _Member(index, True)
            continue
        if status == "trailer":  # where it ends is known: nothing inside it is taken for a member
            members += 1
            yield _Cut(keep=False)  # what it holds that has no checksum of its own is dropped
            if numbers.reported > reported:  # the damage broke what it holds: reported there
                continue
            if _holds_layer(first):
                err = DecompressError(
                    f"corrupt compressed data in member {index + 1}: {detail} of the compressed "
                    f"layer on top ({consumed} bytes); the members inside it are checked on their "
                    "own and kept when intact"
                )
            else:
                following = src.peek(_PROBE_BYTES).strip(_PADDING)  # (the last member: nothing)
                err = DecompressError(
                    f"corrupt compressed data in member {index + 1}: {detail}; skipped {consumed} "
                    f"bytes to the {'next member' if following else 'end of the input'}"
                )
            report(err.locate(member=index) if index else err)
            continue
        if status == "cut":  # the member holding this layer broke off: that layer reports it
            yield _Cut(keep=feed.cut.keep if feed is not None and feed.cut is not None else False)
            return
        if status in ("cap", "spent") and not per_member:  # the payload's cap is spent
            yield _Cut(keep=False)
            if error is not None:
                report(error.locate(member=index) if index else error)
            return
        # broken where its end is unknown: resume at the next member found by scanning
        yield _Cut(keep=None if status == "ran_out" else False)
        if status == "ran_out":
            skip = _Skip("ran_out", start, index, None, consumed)
        elif status == "cap":
            skip = _Skip("broken", start, index, error)
            run += 1
        elif status == "spent":
            skip = _Skip("quiet", start, index, None)
        else:
            skip = _Skip(
                "broken",
                start,
                index,
                DecompressError(f"corrupt compressed data in member {index + 1}: {detail}"),
            )
            run += 1
        src.rewind(start + 1)
        src.skip_to_member(known if skip.kind == "broken" and run < _DAMAGED_RUN else frozenset())
    if skip is not None:
        verdict, err = skip.close(src.offset, False, members)
        if verdict is not None:
            yield verdict
        if err is not None:
            report(err)


# ------------------------------------------------------------------- what each member holds
class _Ahead:
    """A stream of pieces one can look ahead in (the output of one layer)."""

    __slots__ = ("it", "ahead", "verdicts")

    def __init__(self, pieces: Iterable[Piece]) -> None:
        self.verdicts: list[_Verdict] = []
        self.it = iter(pieces)
        self.ahead: deque[Piece] = deque()

    def next(self) -> Piece | None:
        if self.ahead:
            return self.ahead.popleft()
        return next(self.it, None)

    def push(self, piece: Piece) -> None:
        self.ahead.appendleft(piece)

    def head(self, n: int) -> bytes:
        """The next ``n`` bytes of the current member (fewer when it ends first), not consumed."""
        if not self.ahead:  # the usual case: the member's first piece holds enough
            more = next(self.it, None)
            if more is None:
                return b""
            self.ahead.append(more)
            if type(more) is not bytes:
                return b""
            if len(more) >= n:
                return more
        parts: list[bytes] = []
        size = 0
        for piece in self.ahead:
            if type(piece) is not bytes:
                return b"".join(parts)
            parts.append(piece)
            size += len(piece)
        while size < n:
            more = next(self.it, None)
            if more is None:
                break
            self.ahead.append(more)
            if type(more) is not bytes:
                break
            parts.append(more)
            size += len(more)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def collect(self, stop: re.Pattern[bytes]) -> tuple[list[bytes], Piece | None]:
        """The current member's bytes up to the piece that ends it (returned too), or up to the
        first piece in which ``stop`` matches (included; the end is then ``None``)."""
        parts: list[bytes] = []
        while True:
            piece = self.next()
            if type(piece) is _Verdict:
                self.verdicts.append(piece)
                continue
            if type(piece) is not bytes:
                return parts, piece
            parts.append(piece)
            if stop.search(piece):
                return parts, None


class Feed:
    """The input of a compressed layer held by a member of an outer layer: that member's bytes,
    and the next member's when the inner member being inflated runs on into it (a stream split
    across members). :func:`inflate` tells it whether it is ``inside`` a member; it tells
    :func:`inflate` when the outer member broke off (``cut``)."""

    __slots__ = ("src", "numbers", "budget", "inside", "cut", "done")

    def __init__(self, src: _Ahead, numbers: Numbers, budget: Budget) -> None:
        self.src = src
        self.numbers = numbers
        self.budget = budget
        self.inside = False
        self.cut: _Cut | None = None
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        src = self.src
        while not self.done:
            piece = src.next()
            if type(piece) is bytes:
                yield piece
                continue
            if type(piece) is _Member and piece.end and self.inside:
                following = src.next()
                if (
                    type(following) is _Member
                    and not following.end
                    and _rest_of_member(src, self.budget.left)
                ):
                    self.numbers.release()  # that member is the rest of this one's inner member
                    continue
                if following is not None:
                    src.push(following)
            elif type(piece) is _Cut:
                self.cut = piece
            elif piece is not None and not (type(piece) is _Member and piece.end):
                src.push(piece)
            self.done = True

    def drain(self) -> None:
        """Skip what is left of the member (after a layer inside it stopped: the cap is spent)."""
        for _ in self:
            pass


_DOCUMENT_START = re.compile(rb'\s*(?:\xef\xbb\xbf\s*)?(?:\{\s*"|\[\s*[{\]]|\{\s*\}|\[\s*$|\{\s*$)')
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\s]")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{4,}")


def _continues(head: bytes) -> bool:
    """True when a member whose output begins with ``head`` can be the rest of a compressed
    member split across members: it starts neither a gzip member nor a JSON document."""
    return bool(head) and head[:2] != b"\x1f\x8b" and _DOCUMENT_START.match(head) is None


def _rest_of_member(src: _Ahead, limit: int) -> bool:
    """Whether the member starting in ``src`` is the rest of a compressed member split across
    members (see :func:`_continues`). One whose text looks like base64 or a zlib header is so
    only when it is not a payload of its own as a whole: base64 text of payloads, or a zlib
    stream inflating to its end with its checksum (by chance, the rest of deflate data is
    neither; one expanding past ``limit`` is refused as a payload of its own)."""
    head = src.head(16)
    if not _continues(head):
        return False
    if not (is_compressed(head) or _base64_start(head)):
        return True
    whole = src.head(_WHOLE_MEMBER)  # looked at, not consumed
    if is_compressed(whole):
        return not _whole_zlib(whole, limit)
    return _payloads(whole) is None


def _whole_zlib(data: bytes, limit: int) -> bool:
    """True when ``data`` starts with a zlib stream that inflates to its end, checksum right, or
    expands past ``limit`` bytes (the output is not kept)."""
    d = zlib.decompressobj(15)
    size = 0
    try:
        while data and not d.eof and size <= limit:
            size += len(d.decompress(data, _STEP))
            data = d.unconsumed_tail
    except zlib.error:
        return False
    return d.eof or size > limit


_WHOLE_MEMBER: Final = 1 << 62


def _json_start(head: bytes) -> bool:
    """True when ``head`` begins JSON text: a document's opener after any whitespace and UTF-8
    byte order mark (``gzip -c`` of a file saved by a Windows tool)."""
    stripped = head.lstrip()
    if stripped.startswith(_BOM):
        stripped = stripped[len(_BOM) :].lstrip()
    return not stripped or stripped[:1] in (b"{", b"[")


def _base64_start(head: bytes) -> bool:
    """True when ``head`` begins base64 text of compressed data or of a JSON document."""
    run = _BASE64_RUN.match(head.lstrip())
    return run is not None and payload_bytes(run.group()[: len(run.group()) // 4 * 4]) is not None


def _payloads(text: bytes) -> list[bytes] | None:
    """The payloads in a member's text: one base64 payload, or one per line; ``None`` when it
    is not that."""
    found = [payload_bytes(line) for line in text.split()]
    if not all(f is not None for f in found):
        whole = payload_bytes(text.strip())
        found = [whole] if whole is not None else found
    kept = [raw for raw in found if raw is not None and (is_compressed(raw) or _DOCUMENT_START.match(raw))]
    return kept if kept and len(kept) == len(found) else None


def expand(
    chunks: bytes | bytearray | Iterable[bytes],
    *,
    splitter: Splitter,
    budget: Budget,
    numbers: Numbers,
    report: Report,
    depth: int,
    max_depth: int,
    per_member: bool = False,
) -> Iterator[Piece]:
    """One more compressed layer: ``chunks`` inflated (:func:`inflate`) and what each of its
    members holds resolved (:func:`flatten`, one level deeper).

    The outermost layer of one input (the first call with ``numbers``) passes at most
    :data:`MAX_ERRORS` errors of all its layers to ``report``, then one that counts the others:
    hostile input (a damaged member between every two good ones) never makes an unbounded list.
    """
    capped = numbers.capped is None
    if capped:
        numbers.capped = _Capped(report)
        report = numbers.capped
    pieces = inflate(chunks, budget=budget, per_member=per_member, report=report, numbers=numbers)
    flat = flatten(
        pieces,
        splitter=splitter,
        budget=budget,
        numbers=numbers,
        report=report,
        depth=depth + 1,
        max_depth=max_depth,
    )
    return _then_count(flat, numbers.capped) if capped and numbers.capped is not None else flat


#: Errors of one input's compressed layers reported one by one; the others are counted in one
MAX_ERRORS: Final = 100


class _Capped:
    """A report passing on the first :data:`MAX_ERRORS` errors and counting the others."""

    __slots__ = ("report", "seen")

    def __init__(self, report: Report) -> None:
        self.report = report
        self.seen = 0

    def __call__(self, err: DecodeError) -> None:
        self.seen += 1
        if self.seen <= MAX_ERRORS:
            self.report(err)

    def count_the_rest(self) -> None:
        if self.seen > MAX_ERRORS:
            more = self.seen - MAX_ERRORS
            self.report(
                DecompressError(
                    f"{more} more error{'s' if more > 1 else ''} in this input not reported one by one "
                    f"(at most {MAX_ERRORS} are)"
                )
            )


def _then_count(pieces: Iterator[Piece], capped: _Capped) -> Iterator[Piece]:
    yield from pieces
    capped.count_the_rest()


def _too_deep(report: Report, numbers: Numbers) -> None:
    err = DecompressError("too many nested compression layers")
    report(err.locate(member=numbers.next) if numbers.next else err)


def flatten(
    pieces: Iterable[Piece],
    *,
    splitter: Splitter,
    budget: Budget,
    numbers: Numbers,
    report: Report,
    depth: int,
    max_depth: int,
) -> Iterator[Piece]:
    """Resolve what each member of one compressed layer holds, member by member, into one
    stream of JSON bytes (with the markers of the members that hold JSON) for ``splitter``.

    A member holds another compressed layer (it is inflated in turn, sharing ``budget`` and
    ``numbers``), base64 text (one payload, or one per line), JSON (which may continue a value
    begun in the member before), or something else (reported, naming the member). A member
    whose output is the rest of a compressed member split across members continues it (see
    :class:`Feed`).
    """
    src = _Ahead(pieces)
    ahead, it = src.ahead, src.it

    def from_inside(err: DecodeError) -> None:  # an error of a layer a member holds
        numbers.reported += 1
        report(err)

    while True:
        piece = ahead.popleft() if ahead else next(it, None)
        if type(piece) is not _Member or piece.end:
            if piece is None:
                return
            yield piece
            continue
        holds = _holds(src, splitter)
        if holds == "json":
            yield piece
        elif holds == "layer":
            numbers.release()  # the members inside take its number
            yield _End()
            # what goes wrong inside a member found by scanning counts only if it is a member
            held: list[DecodeError] = []
            inner_report = held.append if piece.found else from_inside
            if depth > max_depth:
                end = src.collect(_NOTHING)[1]
                _too_deep(inner_report, numbers)
            else:
                feed = Feed(src, numbers, budget)
                yield from expand(
                    feed,
                    splitter=splitter,
                    budget=budget,
                    numbers=numbers,
                    report=inner_report,
                    depth=depth,
                    max_depth=max_depth,
                )
                feed.drain()
                end = feed.cut
            if type(end) is not _Cut:
                for found_error in held:
                    from_inside(found_error)
        else:  # base64 text, the rest of a value begun in the member before, or neither
            parts, end = src.collect(_NOT_BASE64 if holds == "base64" else _ANYTHING)
            while src.verdicts:
                yield src.verdicts.pop(0)
            found = _payloads(b"".join(parts)) if type(end) is _Member else None
            if found is None:
                if splitter.mid_value():
                    yield piece
                    yield from parts
                    if end is not None:
                        yield end
                    continue
                if end is None:
                    end = src.collect(_NOTHING)[1]
                if type(end) is _Member:  # (a member that broke off is reported by its layer)
                    err = DecompressError("not gzip or zlib data, nor a JSON document")
                    report(err.locate(member=piece.index) if piece.index else err)
                continue
            numbers.release()
            yield _End()
            for raw in found:
                if not is_compressed(raw):  # a document in base64
                    index = numbers.claim()
                    yield from (_Member(index, False), raw, _Member(index, True), _End())
                elif depth > max_depth:
                    _too_deep(report, numbers)
                else:
                    yield from expand(
                        raw,
                        splitter=splitter,
                        budget=budget,
                        numbers=numbers,
                        report=report,
                        depth=depth,
                        max_depth=max_depth,
                    )


def _holds(src: _Ahead, splitter: Splitter) -> str:
    """What the member starting in ``src`` holds, told by its first bytes: ``"json"``,
    ``"layer"`` (gzip or zlib), ``"base64"`` (text of payloads) or ``"other"``. (Its first piece
    is looked at here, not kept by the caller while the member is read: it may be 32 MiB.)"""
    head = src.head(16)
    if head[:1] in _JSON_OPENERS:  # the usual case: documents
        return "json"
    if head[:2] == b"\x1f\x8b" or (is_compressed(head) and _holds_zlib(src, splitter)):
        return "layer"
    if _json_start(head):
        return "json"
    return "base64" if _base64_start(head) else "other"


def _holds_zlib(src: _Ahead, splitter: Splitter) -> bool:
    """Whether a member whose output begins like a zlib header holds a zlib stream: its first
    bytes inflate, and give output unless it may be text continuing a JSON value ("x^" is
    both)."""
    try:
        out = zlib.decompressobj(15).decompress(src.head(_PROBE_BYTES), 64)
    except zlib.error:
        return False
    return len(out) >= 16 or not splitter.mid_value()


_ANYTHING = re.compile(rb"")  # stop collecting at once
_NOTHING = re.compile(rb"(?!)")  # collect to the member's end
_JSON_OPENERS: Final = (b"{", b"[")


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


def _first(pair: tuple[int, int]) -> int:
    return pair[0]


class Splitter:
    """Incremental splitter of JSON values glued together (``{..}{..}``), newline-delimited or
    pretty-printed, over bytes that arrive in pieces, resynchronising after a bad value.

    :meth:`feed` takes expanded bytes (and the markers of :func:`inflate` and :func:`flatten`) and yields
    ``(place, value)`` pairs: a :class:`LogStream` for a subscription document, the parsed
    value for any other JSON (an envelope for the caller), or a :class:`DecodeError` for a bad
    one. ``place`` holds the 1-based ``line`` where the value starts (when the input has
    lines), its 0-based ``document`` index (from the second value on) and the 0-based
    ``member`` it started in (when there are several).

    After a bad value, the scan resumes at the next plausible document start: a ``{`` at the
    start of a line or of a gzip member, or ``{"messageType"`` anywhere (a raw ``{"`` cannot
    occur inside a JSON string), waiting for more input when none has arrived yet. Values are
    parsed as soon as bytes arrive, except that after an attempt found an incomplete value the
    next waits until the pending bytes have doubled (or the input ends), so time stays linear
    and memory holds about one value (at most the cap) at a time. The bytes of a gzip member
    are parsed once the member is inflated to its end and its checksum verified: a corrupt
    member's bytes are never parsed (nor a value reaching into them: it lost its end), so what
    comes out does not depend on when a parse was tried, that is on the read size; those of a
    member cut off by the end of the input count unless its data proves to run past another
    member.
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
        "resyncing",
        "bad_line",
        "suspended",
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
        self.open: int | None = None  # the member being inflated (its bytes wait for its end)
        self.resyncing = False  # after a bad value whose end is unknown: look for a start
        self.bad_line = 0  # line of the last error, until a good value comes
        # values of a member cut off by the end of the input, until a _Verdict: (member it broke, ...)
        self.suspended: list[tuple[int | None, int | None, dict[str, int], Value]] = []

    def feed(self, piece: Piece) -> Iterator[tuple[dict[str, int], Value]]:
        if type(piece) is bytes:
            self.parts.append(piece)
            self.size += len(piece)
            # doubling: linear, and prompt. Not while a member is being inflated: what a parse of
            # its bytes finds waits for its end (its checksum), and a member that breaks is never
            # parsed (its bytes are dropped); an attempt on a damaged member's bytes found or not
            # a JSON error, and counted lines and documents, by when it happened: the read size
            if self.open is None and len(self.pending) + self.size >= 2 * self.stuck:
                yield from self._out(self._parse(final=False))
        elif isinstance(piece, _Member):
            if piece.end:
                self.open = None
                if not self.stuck or len(self.pending) + self.size >= 2 * self.stuck:
                    yield from self._out(self._parse(final=False))
            else:
                self.multi = self.multi or piece.index > 0
                self.open = piece.index
                self.members.append((len(self.pending) + self.size, piece.index))
        elif isinstance(piece, _Cut):
            broken, self.open = self.open, None
            if piece.keep is None:  # the input ended inside it: complete values wait for the verdict
                self.open = broken  # (values ending before it go out now, in their order)
                values = []
                for member, place, value, after in self._parse(final=False):
                    if after:
                        values.append((member, place, value))
                    else:
                        yield place, value
                self.open = None
                self.suspended += [(broken, *v) for v in values]
                self._drop_from(0)
            else:  # a broken member: what it produced is dropped (the member error says so)
                self._drop_from(self.members[-1][0] if self.members else 0)
                yield from self._gap()
        elif isinstance(piece, _Verdict):
            suspended, self.suspended = self.suspended, []
            for broken, member, place, value in suspended:
                if piece.keep or member is None or member != broken:
                    yield place, value
        elif isinstance(piece, _End):
            yield from self._out(self._parse(final=True))
            self.resyncing = False
        elif isinstance(piece, _Gap):
            yield from self._gap()

    def mid_value(self) -> bool:
        """True when the bytes fed so far end inside a value (the next bytes continue it)."""
        return not self.resyncing and bool(self.parts or self.pending.strip())

    def finish(self) -> Iterator[tuple[dict[str, int], Value]]:
        self.open = None
        yield from self._out(self._parse(final=True))

    # ------------------------------------------------------------------------------ internals
    @staticmethod
    def _out(
        values: Iterator[tuple[int | None, dict[str, int], Value, bool]],
    ) -> Iterator[tuple[dict[str, int], Value]]:
        """The ``(place, value)`` of values parsed with no member open (only a member cut off
        by the end of the input is parsed while open: see :meth:`feed`)."""
        for _, place, value, _ in values:
            yield place, value

    def _gap(self) -> Iterator[tuple[dict[str, int], Value]]:
        """Bytes are missing here (a broken member, bytes that were not compressed data): the
        complete values before go out, and one that went on past the gap lost its middle: it is
        dropped and the scan resumes at the next document, never gluing its two ends."""
        if self._join().strip():
            yield from self._out(self._parse(final=False))
            if not self.resyncing and self._join().strip():
                self._drop_from(0)
                self.resyncing = True

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
        """The member the byte at ``offset`` came from (``members`` is in offset order)."""
        i = bisect.bisect_right(self.members, offset, key=_first)
        return self.members[i - 1][1] if i else None

    def _place(self, at: int, lines: bool) -> dict[str, Any]:
        place: dict[str, Any] = {"document": self.index} if self.index else {}
        if self.line > 1 or (self.index and lines):
            place["line"] = self.line
        member = self._member_at(at)
        if member is not None and (self.multi or member):
            place["member"] = member
        return place

    def _next_start(self, buf: bytes, pos: int) -> int:
        """The next plausible document start at or after ``pos`` (see :func:`_next_start`), or
        the start of a gzip member whose output begins a JSON object or array; -1 if none."""
        found = _next_start(buf, pos)
        for at, _ in self.members:
            if at < pos:
                continue
            if found >= 0 and at >= found:
                break
            head = buf[at : at + 64]
            first = at + len(head) - len(head.lstrip())
            if first < len(buf) and buf[first] in b"{[":
                return first
        return found

    def _skip_ws(self, buf: bytes, pos: int) -> int:
        """Past the whitespace between values, and any UTF-8 byte order mark there: ``cat a.json
        b.json`` of files saved by Windows tools glues a BOM to the start of every file but the
        first. (A BOM inside a string is a character of it; one between a value's tokens is
        still a JSON error.)"""
        n = len(buf)
        while pos < n:
            c = buf[pos]
            if c in b" \t\r\n":
                if c == 10:
                    self.line += 1
                pos += 1
            elif c == 0xEF and buf.startswith(_BOM, pos):
                pos += len(_BOM)
            else:
                break
        return pos

    def _parse(self, *, final: bool) -> Iterator[tuple[int | None, dict[str, int], Value, bool]]:
        """``(member, place, value, after)`` for each value complete (or bad) in what is
        pending; ``after``: the value reaches into the open member (one cut off by the end of
        the input: its fate hangs on the :class:`_Verdict`)."""
        buf = self._join()
        n = len(buf)
        open_at = n + 1  # where the open member's output starts in buf
        if self.open is not None:
            open_at = 0
            for at, idx in reversed(self.members):
                if idx == self.open:
                    open_at = at
                    break
        lines = b"\n" in buf
        pos = 0
        if self.resyncing:
            found = self._next_start(buf, 0)
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
                        end = self._next_start(buf, pos + 1)
                        if end < 0:  # none yet: wait for more input (it may be split)
                            end = n if final else max(pos + 1, n - _START_KEEP)
                            self.resyncing = not final
                    quiet = self.bad_line == self.line  # one error per bad stretch of a line
                    self.bad_line = self.line
                else:
                    self.bad_line = 0
                if not quiet:
                    yield self._member_at(pos), place, value, end > open_at
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
            yield self._member_at(pos), place, err.locate(**place), n > open_at
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


_BOM: Final = b"\xef\xbb\xbf"
# a line that starts an object (after a byte order mark, as glued Windows files have), or a document
_START = re.compile(rb'\n(?:\xef\xbb\xbf)?\{|\{"messageType"')
_START_KEEP: Final = len(b'{"messageType"') - 1  # a document start split across pieces


def _next_start(buf: bytes, pos: int) -> int:
    """The next plausible document start at or after ``pos``, or -1 (one linear search)."""
    m = _START.search(buf, pos)
    if m is None:
        return -1
    return m.end() - 1 if buf[m.start()] == 10 else m.start()


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
            at = _AT_BYTE.search(text)
            if at is not None and int(at.group(1)) >= len(chunk) - 8:
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
