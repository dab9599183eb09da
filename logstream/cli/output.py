"""Output of the CLI: every byte written or a non-zero exit, a readable terminal, progress.

:class:`Output` writes bytes verbatim with an ``os.write`` loop: a partial write (a pipe reader
stopped and continued, a signal) is resumed where it stopped, never dropped, which CPython's
buffered ``sys.stdout`` does not promise. NDJSON is encoded (and its U+2028/U+2029/U+0085 escaped)
by :mod:`logstream.ndjson`; binary output (``encode --to s3``) and ``--messages`` text pass
through untouched.
"""

from __future__ import annotations

import errno
import os
import select
import sys
import time
from datetime import UTC, datetime
from typing import IO

from ..models import LogStream

__all__ = ["Output", "OutputClosed", "OutputError", "TextFormat", "Progress", "use_color", "say", "one_line"]


class OutputClosed(Exception):
    """The reader of stdout (or of stderr) went away (EPIPE): exit quietly with 141, like ``cat``."""


class OutputError(Exception):
    """stdout cannot be written (ENOSPC, EIO, ...): one line on stderr, exit 1."""


class Output:
    """Buffered writer on a file descriptor; :meth:`flush` delivers every byte or raises."""

    def __init__(self, fd: int = 1, limit: int = 1 << 20) -> None:
        self.fd = fd
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.written = 0

    def write(self, data: bytes) -> None:
        if data:
            self.parts.append(data)
            self.size += len(data)
            if self.size >= self.limit:
                self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        write_all(self.fd, data)
        self.written += len(data)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``, resuming after partial writes.

    Raises
    ------
    OutputClosed
        EPIPE: the reader closed the pipe.
    OutputError
        Any other write error (e.g. ENOSPC), with the system's message.
    """
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:  # a non-blocking stdout inherited from the parent: wait for room
            select.select([], [fd], [])
            continue
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # pragma: no cover - BrokenPipeError covers it on POSIX
                raise OutputClosed from None
            raise OutputError(exc.strerror or str(exc)) from None
        view = view[n:]


def say(text: str) -> None:
    """Write ``text`` on stderr now.

    Raises
    ------
    OutputClosed
        The reader of stderr went away (``2>&1 | head``): the run ends quietly, as when the
        reader of stdout goes. Any other error (``2>/dev/full``, stderr closed) loses the
        message only: the exit status still tells that something failed.
    """
    stream = sys.stderr
    if stream is None:  # started with stderr closed
        return
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        raise OutputClosed from None
    except (OSError, ValueError):  # ValueError: a closed file object
        pass


def use_color(stream_fd: int = 1) -> bool:
    """Colour only on a terminal and only when ``NO_COLOR`` is unset or empty (no-color.org)."""
    return os.isatty(stream_fd) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


# ---------------------------------------------------------------------------------- terminal
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_CYAN = "\x1b[36m"
_BLUE = "\x1b[34m"
# Control characters would move the cursor or recolour the terminal: show them escaped.
_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 9} | {0x7F: "\\x7f", 0x0A: "\\n", 0x0D: "\\r"}
_CONTROL |= {0x2028: "\\u2028", 0x2029: "\\u2029", 0x85: "\\x85", 0x1B: "\\x1b"}


class TextFormat:
    """One readable line per event: ``time (ISO 8601 UTC)  log group  stream  message``.

    The message's final line break is dropped; other line breaks and control characters are
    shown escaped (``\\n``), so one event is one line and no log line can drive the terminal.
    """

    def __init__(self, color: bool) -> None:
        self.color = color

    def lines(self, stream: LogStream) -> bytes:
        if self.color:
            head = f"{_CYAN}{stream.log_group}{_RESET} {_BLUE}{stream.log_stream}{_RESET}"
        else:
            head = f"{stream.log_group} {stream.log_stream}"
        out = []
        for e in stream.log_events:
            when = _iso(e.timestamp)
            msg = e.message
            if msg.endswith("\n"):
                msg = msg[:-2] if msg.endswith("\r\n") else msg[:-1]
            msg = msg.translate(_CONTROL)
            if self.color:
                out.append(f"{_DIM}{when}{_RESET} {head} {msg}\n")
            else:
                out.append(f"{when} {head} {msg}\n")
        return "".join(out).encode("utf-8", "replace")


def one_line(text: str) -> str:
    """``text`` as one line that cannot drive a terminal: line breaks and other control
    characters shown escaped (an error naming a file ``a\\nb`` or an S3 key with escapes)."""
    return text.translate(_CONTROL)


def _iso(ms: int) -> str:
    try:
        dt = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return str(ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# ---------------------------------------------------------------------------------- progress
class Progress:
    """Bytes read, events and rate on stderr, redrawn in place; only on a terminal and only once
    the work has taken ``after`` seconds. :meth:`done` erases the line."""

    def __init__(self, enabled: bool, stream: IO[str] | None = None, after: float = 2.0) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.after = after
        self.start = time.monotonic()
        self.next_draw = self.start + after
        self.bytes = 0
        self.events = 0
        self.shown = False

    def read(self, n: int) -> None:
        self.bytes += n
        if self.enabled:
            self.tick()

    def add_events(self, n: int) -> None:
        self.events += n
        if self.enabled:
            self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        if now < self.next_draw:
            return
        self.next_draw = now + 0.2
        elapsed = max(now - self.start, 1e-9)
        text = (
            f"logstream: {_human(self.bytes)} read, {self.events:,} events, "
            f"{_human(self.bytes / elapsed)}/s, {self.events / elapsed:,.0f} events/s"
        )
        self.shown = self._draw("\r\x1b[K" + text)

    def done(self) -> None:
        if self.shown:
            self._draw("\r\x1b[K")
            self.shown = False

    def _draw(self, text: str) -> bool:
        """Write on the terminal; a terminal gone (EIO after a hang-up) ends the progress line,
        never the work."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
            return False
        return True


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover
