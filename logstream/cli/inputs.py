"""Input of the CLI: open every FILE, read it in bounded chunks, decide what each line or
document is, and hand the library one document (or one payload) at a time.

What a source holds, decided as it streams:

* compressed or other binary bytes at the start (a gzip or zlib header, or control bytes that
  text does not have: a gzip member whose magic bytes are damaged, junk before gzip): the whole
  source goes to the library as a file object, inflated member by member (it reports what is not
  gzip and resumes at the next member);
* UTF-16 text, with its byte order mark or without one (mostly ASCII text: NUL in every
  other byte, see :func:`logstream.envelopes.utf16_codec`), is read as the same text in UTF-8;
* otherwise lines (a byte order mark at the start of one is skipped: ``cat *.json`` of files
  saved by Windows tools), until a line holds gzip's magic bytes (text, then a gzip object): from there
  the rest goes to the library as above. A line is

  - a base64 payload only when it really decodes to compressed data or a JSON document
    (``Starting``, ``Finished`` or a 32-hex trace id are plain text);
    a payload wrapped at 76 or 64 columns (``base64``, ``openssl base64``) is read whole when
    its first line holds the start of compressed data that does not end in it;
  - JSON when it starts with ``{`` or ``[`` and the brackets balance on it (NDJSON, compact or
    glued documents, any envelope, decode's own event lines), or a pretty document spanning the
    lines until its brackets balance; a JSON line longer than 1 MiB is streamed to the library;
  - an ``aws logs tail`` line (``2024-05-01T12:00:00.123000+00:00 STREAM message``, lines
    that follow without that prefix continue the message), for decode and the parsers;
  - plain text otherwise: kept exactly as it is (line break included), for ``encode`` and the
    parsers; ``decode`` reports it as input it cannot decode.

For ``encode`` and the parsers, JSON that is not CloudWatch data (a JSON application log line,
fluentd's status body) is plain text too. Memory stays bounded by the largest single line,
document or payload; documents are handed on as soon as they are read.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import os
import re
import select
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import Any

from .. import decode as _decode
from ..decode import payload_bytes
from ..envelopes import iter_log_streams, utf16_codec, utf16_to_utf8
from ..errors import DecodeError, EnvelopeError, JSONError, SizeLimitError
from ..models import LogEvent, LogStream, MessageType
from ..testing import event_id
from . import output as _output
from .output import drain, say, wakeup_fd

__all__ = ["Options", "Source", "open_sources", "iter_streams", "payload_bytes"]

CHUNK = 1 << 20
HEAD_MIN = 16  # bytes needed to tell binary from text (a gzip header is 10)
HEAD_BYTES = 512  # bytes looked at for that
LINE_LIMIT = 1 << 20  # a JSON line longer than this is streamed to the library
PLAIN_BATCH = 10_000  # events per plain-text batch (CloudWatch's PutLogEvents limit)
PLAIN_BATCH_BYTES = 1_000_000


# --------------------------------------------------------------------------------- options
@dataclasses.dataclass
class Options:
    """What the command wants from its input."""

    mode: str  # "decode", "parse" (report/fluentd/metrics) or "encode"
    max_size: int = _decode.DEFAULT_MAX_SIZE
    since: int | None = None
    until: int | None = None
    groups: tuple[str, ...] = ()
    whole_documents: bool = False  # --documents: a document passes a time filter whole
    # encode: the context of plain lines
    owner: str = ""
    group: str = ""
    stream: str = ""
    subscription_filters: tuple[str, ...] = ()

    def keep(self, stream: LogStream) -> LogStream | None:
        """The stream with only the events the filters let through, or None; a stream that
        names no log group gets ``group``."""
        if not stream.log_group and self.group and not stream.is_control:
            stream = dataclasses.replace(stream, log_group=self.group)
        if self.groups and not any(fnmatchcase(stream.log_group, g) for g in self.groups):
            return None
        if self.since is None and self.until is None:
            return stream
        lo = self.since if self.since is not None else -(1 << 63)
        hi = self.until if self.until is not None else 1 << 63
        events = tuple(e for e in stream.log_events if lo <= e.timestamp < hi)
        if len(events) == len(stream.log_events):
            return stream
        if not events:
            return None
        if self.whole_documents:
            return stream
        return dataclasses.replace(stream, log_events=events, raw=None)


# --------------------------------------------------------------------------------- sources
class ReadError(OSError):
    """A source failed while being read (a network error from S3, an I/O error)."""


@dataclasses.dataclass
class Source:
    name: str
    read: Callable[[int], bytes]
    close: Callable[[], None]


def open_sources(names: list[str], recursive: bool, report: Callable[[str], None]) -> Iterator[Source]:
    """Every input, in order: ``-`` or none is stdin, ``s3://`` URLs, files, and with ``-r`` every
    file under a directory (sorted by path). A name that cannot be opened is reported, and the
    others are still read."""
    for name in names or ["-"]:
        if name == "-":
            if os.isatty(0):
                say(
                    "logstream: reading stdin from the terminal: paste input and press Ctrl-D, "
                    "or give FILE (--help for examples)\n"
                )
            yield Source("<stdin>", interruptible_read(0, lambda n: os.read(0, n)), lambda: None)
        elif name.startswith("s3://"):
            from .s3 import s3_sources

            yield from s3_sources(name, report)
        elif os.path.isdir(name):
            if not recursive:
                report(f"{name}: is a directory (use -r to read every file under it)")
                continue
            for path in _walk(name, report):
                yield from _open_file(path, report)
        else:
            yield from _open_file(name, report)


def _walk(top: str, report: Callable[[str], None]) -> Iterator[str]:
    """Every file under ``top`` in path order, as S3 lists keys (``b/1/x`` before ``b/2``).
    FIFOs, sockets and devices are skipped, as ``grep -r`` does (a FIFO would wait forever for
    a writer); a link that leads nowhere is kept, for its open to report it. A directory that
    cannot be listed (``top`` included) is reported in its place in that order."""
    found: list[tuple[str, str | None]] = []  # (path, why it cannot be listed)

    def unlisted(exc: OSError) -> None:
        found.append((str(exc.filename or top), exc.strerror or str(exc)))

    for root, _dirs, files in os.walk(top, onerror=unlisted):
        found += [(os.path.join(root, f), None) for f in files]
    for path, error in sorted(found, key=lambda p: os.path.relpath(p[0], top).replace(os.sep, "/")):
        if error is not None:
            report(f"{path}: {error}")
            continue
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError:
            regular = True
        if regular:
            yield path


def _open_file(name: str, report: Callable[[str], None]) -> Iterator[Source]:
    try:
        fh = _open(name)
    except OSError as exc:
        report(f"{name}: {exc.strerror or exc}")
        return
    yield Source(name, interruptible_read(fh.fileno(), fh.read), fh.close)


def _open(name: str) -> io.FileIO:
    """``name`` opened for reading, without waiting in ``open()``: a FIFO that has no writer
    yet made ``open()`` wait for one, and a Ctrl-C that landed just before it was handled only
    once a writer came (see :func:`interruptible_read`). Opened non-blocking, which never waits,
    then made blocking again (this open file description is ours alone): the first read of a
    FIFO waits in ``poll()`` until a writer has written or come and gone, as ``open()`` and
    ``read()`` would have, and a terminal does not become our controlling terminal."""
    if not _output.POSIX_WAITS:  # Windows: no FIFOs, no O_NONBLOCK
        return io.FileIO(name, "rb")
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        os.set_blocking(fd, True)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def interruptible_read(fd: int, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """``read`` of ``fd``, made to return at Ctrl-C even when the signal lands just before it.

    CPython runs a signal's Python handler (``KeyboardInterrupt`` for SIGINT) between bytecodes:
    a SIGINT caught after the last check and before ``read()`` starts does not interrupt the
    call, which then waits for input, and a second Ctrl-C was needed (at the first read of
    stdin most of all: Ctrl-C at once after starting ``logstream decode`` by mistake). For a
    pipe, a terminal or a FIFO, the read now waits in ``poll()`` on ``fd`` and on the signal
    wakeup pipe, to which the C-level handler writes at once, wherever the signal lands; the
    Python handler runs as ``poll()`` returns. A regular file (or a block device) never makes a
    read wait for long: its ``read`` is used as it is.
    """
    if not _output.POSIX_WAITS:
        return read
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return read
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return read
    wake = wakeup_fd()
    if wake is None and not stat.S_ISFIFO(mode):
        return read
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    if wake is not None:  # (a FIFO opened by :func:`_open` is polled even without it)
        poller.register(wake, select.POLLIN)

    def waiting_read(n: int) -> bytes:
        while True:
            ready = {f for f, _ in poller.poll()}  # (a signal's Python handler runs as it returns)
            if wake in ready:  # a signal whose handler did not raise: nothing to do
                drain(wake)
            if fd in ready:
                return read(n)

    return waiting_read


# ------------------------------------------------------------------------------ line reader
_NEED, _LONG = object(), object()


class _Lines:
    """Bounded buffer over a source: complete lines, or the rest as a file object."""

    def __init__(self, read: Callable[[int], bytes], before_read: Callable[[], None]) -> None:
        self._read = read
        self.before_read = before_read
        self.buf = b""
        self.pos = 0
        self.searched = 0  # no newline in buf[pos:searched]
        self.eof = False
        self.lineno = 0

    def fill(self) -> bool:
        """Read one more chunk; False at end of input."""
        if self.eof:
            return False
        self.before_read()
        chunk = self._read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.searched -= self.pos
        self.buf = self.buf[self.pos :] + chunk if self.pos < len(self.buf) else chunk
        self.pos = 0
        return True

    def peek(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n and self.fill():
            pass
        return self.buf[self.pos : self.pos + n]

    def skip(self, n: int) -> None:
        self.pos += n
        self.searched = max(self.searched, self.pos)

    def head(self) -> bytes:
        """What the input starts with, for deciding its shape: at least HEAD_MIN bytes, or a
        whole first line, or all of a shorter input (never more than one read beyond that, so
        a producer that pauses after a short first line is not waited for)."""
        while len(self.buf) - self.pos < HEAD_MIN and b"\n" not in self.buf[self.pos :] and self.fill():
            pass
        return self.buf[self.pos : self.pos + HEAD_BYTES]

    def transcode(self, codec: str) -> None:
        """From here on, read the input as ``codec`` text, handing out its UTF-8."""
        rest, read = self.buf[self.pos :], self._read

        def raw() -> Iterator[bytes]:
            if rest:
                yield rest
            while chunk := read(CHUNK):
                yield chunk

        chunks = utf16_to_utf8(raw(), codec)
        self._read = lambda n: next(chunks, b"")
        self.buf, self.pos, self.searched = b"", 0, 0

    def rewind(self, line: bytes, at: int) -> None:
        """Un-read the line just read from its byte ``at`` on (the line starts again there)."""
        self.pos = self.searched = self.pos - len(line) + at
        self.lineno -= 1

    def next_line(self) -> Any:
        """A complete line (with its line break), ``_NEED`` when more must be read first,
        ``_LONG`` when the line is longer than LINE_LIMIT so far, ``None`` at the end."""
        nl = self.buf.find(b"\n", max(self.pos, self.searched))
        if nl >= 0:
            line = self.buf[self.pos : nl + 1]
            self.pos = self.searched = nl + 1
            self.lineno += 1
            return line
        self.searched = len(self.buf)
        if self.eof:
            if self.pos < len(self.buf):
                line = self.buf[self.pos :]
                self.pos = self.searched = len(self.buf)
                self.lineno += 1
                return line
            return None
        if len(self.buf) - self.pos >= LINE_LIMIT:
            return _LONG
        return _NEED

    def long_line(self, cap: int) -> bytes | None:
        """The whole current line, or None (and the line skipped) when it exceeds ``cap``."""
        parts, size = [], 0
        self.lineno += 1
        while True:
            nl = self.buf.find(b"\n", self.pos)
            end = nl + 1 if nl >= 0 else len(self.buf)
            part = self.buf[self.pos : end]
            size += len(part)
            if size <= cap:
                parts.append(part)
            self.pos = self.searched = end
            if nl >= 0 or not self.fill():
                break
        return b"".join(parts) if size <= cap else None

    def line_reader(self) -> _Reader:
        """A file object over the rest of the current line (through its line break)."""
        self.lineno += 1
        return _Reader(self, stop_at_newline=True)

    def rest_reader(self) -> _Reader:
        """A file object over everything not yet consumed."""
        return _Reader(self, stop_at_newline=False)


class _Reader:
    def __init__(self, lines: _Lines, stop_at_newline: bool) -> None:
        self.lines = lines
        self.stop = stop_at_newline
        self.done = False

    def read(self, n: int = -1) -> bytes:
        lines = self.lines
        if self.done:
            return b""
        if lines.pos >= len(lines.buf) and not lines.fill():
            self.done = True
            return b""
        end = len(lines.buf) if n is None or n < 0 else min(len(lines.buf), lines.pos + n)
        if self.stop:
            nl = lines.buf.find(b"\n", lines.pos, end)
            if nl >= 0:
                end = nl + 1
                self.done = True
        data = lines.buf[lines.pos : end]
        lines.pos = lines.searched = end
        return data

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)


# ------------------------------------------------------------------------------ detection
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b\x08"
# C0 controls that text does not hold (tab, line breaks, form feed, and what terminal captures
# and coloured logs hold: bell, backspace, shift out/in, escape, are text). Gzip headers as
# CloudWatch, Firehose and gzip(1) write them have a NUL byte (mtime 0, flags or XFL).
_CONTROLS = bytes([*range(0x00, 0x07), *range(0x10, 0x1B), *range(0x1C, 0x20)])
_STRINGS = re.compile(rb'"(?:[^"\\\n]|\\.)*"')
_B64_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B64_LINE = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
# base64 of a gzip header ("H4sI") or of zlib's headers (78 01 / 78 5e / 78 9c / 78 da)
_PAYLOAD_PREFIXES = (b"H4sI", b"eAE", b"eF", b"eJ", b"eNo")
# aws logs tail (default "detailed" format): datetime.isoformat() in UTC ("+00:00", never the "Z"
# that Lambda's own timeout lines use), the stream name, the message
_TAIL = re.compile(
    rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d) (\S+) (.*?)\r?\n?\Z", re.DOTALL
)
# inside a pretty document: indentation, brackets, strings, or a bare value
_JSON_LINE_START = frozenset(b' \t\r\n{}[]",:-0123456789tfn')


def _depth(line: bytes) -> int:
    if b'"' in line:
        line = _STRINGS.sub(b"", line)
    return line.count(b"{") + line.count(b"[") - line.count(b"}") - line.count(b"]")


def _compressed_start(head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b":
        return True
    # zlib: only the header bytes zlib itself writes, so text starting "x^" stays text
    return len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA)


def _binary(head: bytes) -> bool:
    """True when ``head`` is not text: compressed data, or control bytes text does not have in
    bytes that are not UTF-8 (a damaged gzip header, junk before gzip data). NUL bytes before
    text (a log file truncated under a writer) and UTF-8 text holding rare control characters
    (FIX logs' SOH, record separators) leave it text."""
    head = head.lstrip(b"\x00")
    if _compressed_start(head):
        return True
    at = head.find(_GZIP_MAGIC)
    if at > 0 and head[at - 1] == 0x0A:  # text lines, then gzip, in the head: the text decides
        head = head[:at]  # (the scan reads the gzip; junk glued to it is the decoder's to name)
    if len(head.translate(None, _CONTROLS)) == len(head):
        return False
    try:  # (a character cut at the end of the head is not an error)
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return True
    return False


_WRAP_WIDTHS = (64, 76)  # base64 wrapped by openssl and by base64(1)


def _cut_short(raw: bytes) -> bool:
    """True when ``raw`` (the bytes of one base64 line) begins compressed data that ends after
    it: the first line of a wrapped payload."""
    d = zlib.decompressobj(47)
    try:
        d.decompress(raw)  # (57 bytes at most: bounded output)
    except zlib.error:
        return False
    return not d.eof or bool(d.unused_data)


def _tail_time(text: bytes) -> int | None:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(text.decode()).timestamp() * 1000)
    except ValueError:
        return None


# --------------------------------------------------------------------------------- scanner
class _Scanner:
    """Turns one source into LogStreams; errors go to ``report`` with file and line."""

    def __init__(
        self,
        opts: Options,
        report: Callable[[Any], None],
        source: Source,
        progress: Any,
        flush: Callable[[], None],
    ) -> None:
        self.opts = opts
        self.report = report
        self.name = source.name
        self.flush = flush

        def read(n: int) -> bytes:
            try:
                data = source.read(n)
            except OSError as exc:
                raise ReadError(exc.errno, exc.strerror or str(exc)) from None
            except Exception as exc:  # noqa: BLE001 - e.g. a botocore read timeout from S3
                raise ReadError(0, f"{type(exc).__name__}: {exc}") from None
            if progress is not None:
                progress.read(len(data))
            return data or b""

        self.lines = _Lines(read, flush)
        self.plain: list[LogEvent] = []
        self.plain_bytes = 0
        self.plain_stream = ""  # the tail stream name of the pending batch ("" for plain text)
        self.blank: list[bytes] = []
        self.last = ""  # kind of the last non-blank line: "plain", "tail" or "data"
        self.tail_parts: list[str] | None = None  # message of the last tail event, still open
        self.tail_meta: tuple[int, str] = (0, "")

    # ------------------------------------------------------------------ library and errors
    def on_error(self, line: int | None) -> Callable[[DecodeError], None]:
        def handler(err: DecodeError) -> None:
            if line is not None:
                if err.line is not None:
                    err.line += line - 1
                else:
                    err.locate(line=line)
            err.locate(source=self.name)
            self.report(err)

        return handler

    def library(self, data: Any, line: int | None) -> Iterator[LogStream]:
        keep = self.opts.keep
        for stream in iter_log_streams(data, max_size=self.opts.max_size, on_error=self.on_error(line)):
            kept = keep(stream)
            if kept is not None:
                yield kept

    def fail(self, err: DecodeError, line: int | None) -> None:
        self.on_error(line)(err)

    # -------------------------------------------------------------------------- the scan
    def streams(self) -> Iterator[LogStream]:
        lines = self.lines
        if lines.peek(3) == _BOM:
            lines.skip(3)
        head = lines.head()
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (b"\x00" in head and not _compressed_start(head)):
            utf16 = utf16_codec(head)
            if utf16 is not None:  # read as the same text in UTF-8
                lines.skip(utf16[1])
                lines.transcode(utf16[0])
                head = lines.head()
        if _binary(head):
            yield from self.library(lines.rest_reader(), None)
            return
        block: list[bytes] | None = None
        depth = size = start = 0
        while True:
            line = lines.next_line()
            if line is _NEED:
                if self.opts.mode != "encode":  # encode's documents must not depend on timing
                    yield from self.flush_plain()
                if not lines.fill():
                    continue
                continue
            if line is None:
                break
            if line is _LONG:
                if block is not None:  # a pretty document with a huge line: keep accumulating
                    whole = lines.long_line(self.opts.max_size)
                    if whole is None:
                        self.fail(
                            SizeLimitError(f"a JSON line over {self.opts.max_size} bytes"), lines.lineno
                        )
                        block = None
                        continue
                    block.append(whole)
                    size += len(whole)
                    depth += _depth(whole)
                    if depth <= 0:
                        yield from self.json(b"".join(block), start)
                        block = None
                    continue
                yield from self.long(lines)
                continue
            lineno = lines.lineno
            at = line.find(_GZIP_MAGIC)
            if at >= 0:  # text, then gzip: the rest is binary
                if block is not None:
                    yield from self.json(b"".join(block), start)
                lines.rewind(line, at)
                yield from self.binary_rest(line[:at], lineno)
                return
            if block is not None:
                if line and line[0] not in _JSON_LINE_START:  # text, not the rest of a document
                    yield from self.json(b"".join(block), start)
                    block = None
                else:
                    block.append(line)
                    size += len(line)
                    depth += _depth(line)
                    if depth <= 0 or size > self.opts.max_size:
                        yield from self.json(b"".join(block), start)
                        block = None
                    continue
            s = line.strip()
            if not s:
                self.blank.append(line)
                continue
            c = s[:1]
            if c in b"{[":
                if s[-1:] not in b"}]" and _depth(s) > 0:
                    yield from self.end_text()
                    block, depth, size, start = [line], _depth(s), len(line), lineno
                    continue
                yield from self.json(line, lineno)
                continue
            if s[0] in _B64_FIRST and len(s) >= 8:
                raw = payload_bytes(s)
                if raw is not None:
                    yield from self.end_text()
                    self.last = "data"
                    if len(s) in _WRAP_WIDTHS and _cut_short(raw):
                        yield from self.library(self.wrapped(s), lineno)
                        continue
                    yield from self.library(raw, lineno)
                    continue
            if line.startswith(_BOM):  # files with byte order marks, concatenated: read it again
                lines.rewind(line, len(_BOM))
                continue
            yield from self.text(line, lineno)
        if block is not None:
            yield from self.json(b"".join(block), start)
        yield from self.end_text()

    def wrapped(self, first: bytes) -> Any:
        """The payload whose base64 is wrapped (``base64``: 76 columns, ``openssl base64``: 64),
        ``first`` its first line: the lines of the same width after it, and a last shorter one.
        Its bytes, or its base64 text when it is not valid base64 (the library names that)."""
        lines, width = self.lines, len(first)
        parts, size = [first], len(first)
        while size <= 2 * self.opts.max_size:
            line = lines.next_line()
            if line is _NEED:
                if lines.fill():
                    continue
                line = lines.next_line()
            if line is None or line is _LONG or line is _NEED:
                break
            s = line.strip()
            if len(s) > width or not _B64_LINE.fullmatch(s):
                lines.rewind(line, 0)
                break
            parts.append(s)
            size += len(s)
            if len(s) < width or s.endswith(b"="):
                break
        text = b"".join(parts)
        raw = payload_bytes(text)
        return raw if raw is not None else text.decode("ascii")

    def binary_rest(self, text: bytes, lineno: int) -> Iterator[LogStream]:
        """Gzip data begins on line ``lineno`` after ``text``: the text is a line, and the rest of
        the input goes to the library, which inflates it member by member."""
        if text.strip():
            yield from self.text(text, lineno)
        yield from self.end_text()
        self.last = "data"
        yield from self.library(self.lines.rest_reader(), lineno)

    def long(self, lines: _Lines) -> Iterator[LogStream]:
        """A line over LINE_LIMIT: JSON is streamed to the library, anything else read whole
        (up to gzip data in it: from there the rest is binary)."""
        at = lines.buf.find(_GZIP_MAGIC, lines.pos)
        if at >= 0:
            text = lines.buf[lines.pos : at]
            lines.skip(len(text))
            lines.lineno += 1
            yield from self.binary_rest(text, lines.lineno)
            return
        head = lines.peek(LINE_LIMIT).lstrip()[:1]
        yield from self.end_text()
        if head in (b"{", b"["):
            self.last = "data"
            reader = lines.line_reader()
            yield from self.library(reader, lines.lineno)
            return
        whole = lines.long_line(self.opts.max_size * 2)
        if whole is None:
            self.fail(SizeLimitError(f"a line over {self.opts.max_size * 2} bytes"), lines.lineno)
            return
        s = whole.strip()
        if _B64_LINE.fullmatch(s):
            raw = payload_bytes(s)
            if raw is not None:
                self.last = "data"
                yield from self.library(raw, lines.lineno)
                return
        yield from self.text(whole, lines.lineno)

    def json(self, data: bytes, line: int) -> Iterator[LogStream]:
        """JSON text from ``line`` on: CloudWatch data, or (encode, parsers) plain text."""
        if self.opts.mode == "decode":
            yield from self.end_text()
            self.last = "data"
            yield from self.library(data, line)
            return
        errors: list[DecodeError] = []
        found = [s for s in iter_log_streams(data, max_size=self.opts.max_size, on_error=errors.append)]
        if not found and errors and all(isinstance(e, (EnvelopeError, JSONError)) for e in errors):
            yield from self.text(data, line)  # not CloudWatch data: one text event, exactly
            return
        yield from self.end_text()
        self.last = "data"
        handler = self.on_error(line)
        for err in errors:
            handler(err)
        for stream in found:
            kept = self.opts.keep(stream)
            if kept is not None:
                yield kept

    # ---------------------------------------------------------------------- text lines
    def text(self, line: bytes, lineno: int) -> Iterator[LogStream]:
        mode = self.opts.mode
        if mode != "encode":
            m = _TAIL.match(line)
            ts = _tail_time(m.group(1)) if m else None
            if m and ts is not None:
                yield from self.close_tail()
                self.blank.clear()
                stream = m.group(2).decode("utf-8", "replace")
                if self.plain and self.plain_stream != stream:
                    yield from self.flush_plain()
                self.plain_stream = stream
                self.tail_parts = [m.group(3).decode("utf-8", "replace")]
                self.tail_meta = (ts, stream)
                self.last = "tail"
                return
            if self.last == "tail" and self.tail_parts is not None:  # continues the tail message
                self.tail_parts += ["\n" + b.rstrip(b"\r\n").decode("utf-8", "replace") for b in self.blank]
                self.blank.clear()
                self.tail_parts.append("\n" + line.rstrip(b"\r\n").decode("utf-8", "replace"))
                return
        if mode == "decode":
            yield from self.close_tail()
            self.blank.clear()
            s = line.strip()
            if s.startswith(_PAYLOAD_PREFIXES) and _B64_LINE.fullmatch(s):  # a broken payload
                self.last = "data"
                yield from self.library(s.decode("ascii"), lineno)
                return
            self.fail(
                EnvelopeError("neither JSON, a base64 payload nor an 'aws logs tail' line"),
                lineno,
            )
            return
        yield from self.close_tail()
        if self.plain_stream:
            yield from self.flush_plain()
        if mode == "encode":  # blank lines before text are text
            for b in self.blank:
                self.add_plain(b)
        self.blank.clear()
        self.add_plain(line)
        self.last = "plain"
        if len(self.plain) >= PLAIN_BATCH or self.plain_bytes >= PLAIN_BATCH_BYTES:
            yield from self.flush_plain()

    def add_plain(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        self.plain.append(LogEvent("", 0, text))
        self.plain_bytes += len(line) + 26

    def close_tail(self) -> Iterator[LogStream]:
        if self.tail_parts is None:
            return
        ts, _stream = self.tail_meta
        self.plain.append(LogEvent("", ts, "".join(self.tail_parts) + "\n"))
        self.plain_bytes += sum(len(p) for p in self.tail_parts) + 26
        self.tail_parts = None
        if len(self.plain) >= PLAIN_BATCH or self.plain_bytes >= PLAIN_BATCH_BYTES:
            yield from self.flush_plain()

    def end_text(self) -> Iterator[LogStream]:
        """A run of text ends (data follows, or the input ends)."""
        yield from self.close_tail()
        if self.opts.mode == "encode" and self.last == "plain":  # blank lines that end a text run
            for b in self.blank:
                self.add_plain(b)
        self.blank.clear()
        yield from self.flush_plain()

    def flush_plain(self) -> Iterator[LogStream]:
        yield from self.close_tail()
        if not self.plain:
            return
        events, self.plain, self.plain_bytes = self.plain, [], 0
        opts = self.opts
        if self.plain_stream:  # aws logs tail lines: their own stream and time
            stream = _text_stream("", "", self.plain_stream, (), _with_ids(events, self.plain_stream))
        elif opts.mode == "encode":
            now = int(time.time() * 1000)
            source = f"{opts.group}\n{opts.stream}"
            events = [LogEvent(event_id(now, next(_SEQUENCE), source), now, e.message) for e in events]
            stream = _text_stream(opts.owner, opts.group, opts.stream, opts.subscription_filters, events)
        else:
            stream = _text_stream("", "", "", (), events)
        tail, self.plain_stream = bool(self.plain_stream), ""
        if tail:
            kept = opts.keep(stream)
        else:  # plain log lines have no time (encode's is the time of the run): time filters pass them
            kept = dataclasses.replace(opts, since=None, until=None).keep(stream)
        if kept is not None:
            yield kept


def _seq() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


_SEQUENCE = _seq()  # one sequence for the whole run: every generated event id is unique


def _with_ids(events: list[LogEvent], stream: str) -> list[LogEvent]:
    return [LogEvent(event_id(e.timestamp, next(_SEQUENCE), stream), e.timestamp, e.message) for e in events]


def _text_stream(
    owner: str, group: str, stream: str, filters: tuple[str, ...], events: list[LogEvent]
) -> LogStream:
    return LogStream(MessageType.DATA_MESSAGE, owner, group, stream, tuple(filters), tuple(events))


def iter_streams(
    sources: Iterator[Source],
    opts: Options,
    report: Callable[[Any], None],
    progress: Any = None,
    flush: Callable[[], None] = lambda: None,
) -> Iterator[LogStream]:
    """Every LogStream of every source, in order, filtered; ``flush`` runs before each read
    (so output written so far reaches the reader before the CLI waits for more input)."""
    for source in sources:
        try:
            yield from _Scanner(opts, report, source, progress, flush).streams()
        except ReadError as exc:
            report(f"{source.name}: read error: {exc.strerror}")
        finally:
            try:
                source.close()
            except Exception:  # noqa: BLE001, S110 - closing a finished source cannot lose data
                pass
