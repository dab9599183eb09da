"""Output of the CLI: every byte written or a non-zero exit, a readable terminal, progress.

:class:`Output` writes bytes verbatim with an ``os.write`` loop: a partial write (a pipe reader
stopped and continued, a signal) is resumed where it stopped, never dropped, which CPython's
buffered ``sys.stdout`` does not promise. NDJSON is encoded (and its U+2028/U+2029/U+0085 escaped)
by :mod:`logstream.ndjson`; binary output (``encode --to s3``) and ``--messages`` text pass
through untouched.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import signal
import stat
import sys
import time
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from ..models import LogStream

if TYPE_CHECKING:
    import socket

__all__ = [
    "Output",
    "OutputClosed",
    "OutputError",
    "TextFormat",
    "Progress",
    "use_color",
    "say",
    "one_line",
    "wakeup_fd",
    "drain",
    "close_stderr",
    "release_wakeup",
]


class OutputClosed(Exception):
    """The reader of stdout (or of stderr) went away (EPIPE): exit quietly with 141, like ``cat``."""


class OutputError(Exception):
    """stdout cannot be written (ENOSPC, EIO, ...): one line on stderr, exit 1."""


class Output:
    """Buffered writer on a file descriptor; :meth:`flush` delivers every byte or raises;
    :meth:`close` (once the work is done) releases what the writer opened."""

    def __init__(self, fd: int = 1, limit: int = 1 << 20) -> None:
        self.fd = fd
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.written = 0
        self._writer: _Writer | None = None

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
        if self._writer is None:
            self._writer = _Writer(self.fd)
        self._writer.write(data)
        self.written += len(data)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``, resuming after partial writes; one Ctrl-C ends
    the wait of a write to a full pipe (see :class:`_Writer`).

    Raises
    ------
    OutputClosed
        EPIPE: the reader closed the pipe.
    OutputError
        Any other write error (e.g. ENOSPC), with the system's message.
    """
    writer = _Writer(fd)
    try:
        writer.write(data)
    finally:
        writer.close()


class _Writer:
    """Writes to ``fd`` that wait only where a signal wakes them.

    CPython runs a signal's Python handler (``KeyboardInterrupt`` for SIGINT) between bytecodes:
    a SIGINT caught after the last check and before ``write()`` starts does not interrupt the
    call, and a write to a full pipe (``logstream decode big | sleep 100``) then waits for the
    reader: a second Ctrl-C was needed. So a write to a pipe, a FIFO or a socket never waits in
    the write: it is non-blocking for that one call, and when the pipe is full the writer waits
    in ``poll()`` on it and on the signal wakeup pipe (see :func:`wakeup_fd`), which the C-level
    handler writes to at once, wherever the signal lands. ``fd``'s open file description is
    shared with the shell and other processes: its mode is never changed. The non-blocking
    write is the first of these that the kernel and the file take:

    * ``pwritev(RWF_NOWAIT)`` to ``fd`` itself (a pipe, from Linux 6.4);
    * ``send(MSG_DONTWAIT)`` to a stream socket (Node.js's ``child_process`` and systemd's
      journal give one as stdout), through a duplicate of ``fd``;
    * a write to a second, non-blocking open file description of the same pipe or FIFO
      (``/proc/self/fd/N``; it is closed by :meth:`close`);
    * a ``poll()`` before each write of at most ``PIPE_BUF`` bytes, which a pipe that
      ``poll()`` found writable takes whole (no ``/proc``, a pipe of another user; a datagram
      socket, whose writes are messages). To a socket, 400 MB took a third longer so. Where
      ``PIPE_BUF`` is 512 (macOS, the BSDs) a pipe gets plain blocking writes instead (see
      ``_PIPE_CHUNK``).

    A stdout that is already non-blocking (inherited so) is waited for in the same ``poll()``.
    Regular files and devices never wait on a reader (a terminal stopped by Ctrl-S is started
    again by Ctrl-C itself), and a descriptor open only for reading (the read end of a pipe
    given as stdout) is never opened again for writing: they are written as they are (the
    latter fails with EBADF).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd  # where the bytes go
        self.nowait = False  # written with pwritev(RWF_NOWAIT), until the kernel refuses it
        self.sock: socket.socket | None = None  # a stream socket, sent to with MSG_DONTWAIT
        self.dontwait = 0
        self.own = -1  # the non-blocking description this writer opened, if any
        self.chunk = 0  # > 0: poll() before each write of at most this many bytes
        self.poller: select.poll | None = None
        self.waits = False  # a full pipe is waited for in poll() (else: plain blocking writes)
        self.wake = -1
        if not POSIX_WAITS:  # Windows: plain blocking writes
            return
        import fcntl  # (here: `import logstream.cli` stays possible where there is none)

        try:
            mode = os.fstat(fd).st_mode
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:  # a closed stdout: the write names the error
            return
        if flags & os.O_NONBLOCK:
            self._poll_on(fd)
            return
        if flags & os.O_ACCMODE == os.O_RDONLY or not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return
        if wakeup_fd() is None:  # not the main thread, or the wakeup fd is the embedding program's
            return
        if stat.S_ISSOCK(mode):
            self.sock, self.dontwait = _stream_socket(fd)
            if self.sock is None:
                self.chunk = select.PIPE_BUF
        elif _NOWAIT:
            self.nowait = True
        else:
            self._reopen()
        self._poll_on(self.fd)

    def _reopen(self) -> None:
        own = _reopen_nonblocking(self.fd)
        if own >= 0:
            self.fd = self.own = own
        else:
            self.chunk = _PIPE_CHUNK

    def _poll_on(self, fd: int) -> None:
        self.waits = True
        self.poller = select.poll()
        self.poller.register(fd, select.POLLOUT)
        wake = wakeup_fd()
        if wake is not None:
            self.wake = wake
            self.poller.register(wake, select.POLLIN)

    def _wait(self) -> None:
        """Until ``fd`` takes bytes (or is in error: the write then says which); a signal's
        Python handler runs as ``poll()`` returns."""
        assert self.poller is not None
        while True:
            ready = {f for f, _ in self.poller.poll()}
            if self.wake in ready:  # a signal whose handler did not raise: nothing to do
                drain(self.wake)
            if self.fd in ready:
                return

    def write(self, data: bytes) -> None:
        view: bytes | memoryview = data  # (a view once a write was partial: no copies)
        while view:
            if self.chunk:
                self._wait()
            try:
                if self.nowait:
                    n = os.pwritev(self.fd, [view], -1, _NOWAIT)
                elif self.sock is not None:
                    n = self.sock.send(view, self.dontwait)
                else:
                    n = os.write(self.fd, view[: self.chunk] if self.chunk else view)
            except BlockingIOError:  # a full pipe: wait for room
                if self.poller is None:  # pragma: no cover - only non-blocking fds raise it
                    self._poll_on(self.fd)
                self._wait()
                continue
            except BrokenPipeError:
                raise OutputClosed from None
            except NotImplementedError:  # a Python built without pwritev2(): no flags
                self._without_nowait()
                continue
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # pragma: no cover - BrokenPipeError covers it on POSIX
                    raise OutputClosed from None
                if self.nowait and exc.errno in _NOWAIT_REFUSED:  # nothing was written
                    self._without_nowait()
                    continue
                raise OutputError(exc.strerror or str(exc)) from None
            if n == len(view):
                return
            view = memoryview(view)[n:]

    def _without_nowait(self) -> None:
        """This kernel (before 6.4) or this pipe (a named FIFO) takes no RWF_NOWAIT: the next way."""
        self.nowait = False
        self._reopen()
        self._poll_on(self.fd)

    def close(self) -> None:
        if self.own >= 0:
            os.close(self.own)
            self.own = -1
        if self.sock is not None:
            self.sock.close()  # (its duplicate of fd)
            self.sock = None


#: ``pwritev()``'s flag for a write that fails with EAGAIN instead of waiting (0: not in this
#: Python); errors that say the kernel or the file does not take it (Python built without
#: ``pwritev2``: NotImplementedError, no errno).
_NOWAIT: int = getattr(os, "RWF_NOWAIT", 0) if hasattr(os, "pwritev") else 0
_NOWAIT_REFUSED = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
#: The pipe writes of the last way, after a poll(): PIPE_BUF bytes where that is a page (Linux).
#: macOS and the BSDs have neither RWF_NOWAIT nor /proc, and a PIPE_BUF of 512: a poll() and
#: a write per 512 bytes made `decode | cat` 70% slower (measured on Linux), so there a pipe
#: is written with plain blocking writes, as before: a Ctrl-C that lands just before a write to
#: a full pipe is handled once the reader takes some (or at a second Ctrl-C).
_PIPE_CHUNK = select.PIPE_BUF if select.PIPE_BUF >= 4096 else 0


def _stream_socket(fd: int) -> tuple[socket.socket | None, int]:
    """A socket object on a duplicate of ``fd`` and ``MSG_DONTWAIT`` when ``fd`` is a stream
    socket, or ``(None, 0)`` (a datagram or packet socket, whose writes are messages: they stay
    at most ``PIPE_BUF`` bytes each). The socket is never made non-blocking: ``send()`` with
    ``MSG_DONTWAIT`` is, for that one call. (``socket`` is imported here: 4 ms of start-up.)"""
    import socket

    if socket.getdefaulttimeout() is not None:  # a new socket object would set O_NONBLOCK
        return None, 0
    try:
        dup = os.dup(fd)
    except OSError:
        return None, 0
    try:
        sock = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return None, 0
    if sock.type != socket.SOCK_STREAM:
        sock.close()
        return None, 0
    return sock, socket.MSG_DONTWAIT


def _reopen_nonblocking(fd: int) -> int:
    """A new non-blocking open file description of the pipe or FIFO ``fd`` writes to, or -1
    (no ``/proc``, not permitted, or the reader already gone: ``fd`` then says EPIPE itself)."""
    try:
        own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return -1
    try:
        same = os.path.samestat(os.fstat(own), os.fstat(fd))
    except OSError:
        same = False
    if not same:  # pragma: no cover - /proc is not what it should be
        os.close(own)
        return -1
    return own


#: Waits in ``poll()`` that one Ctrl-C ends are possible here (not on Windows: no ``poll()``, no
#: non-blocking pipes there; reads and writes are plain blocking calls).
POSIX_WAITS: bool = os.name == "posix" and hasattr(select, "poll")


@functools.cache
def wakeup_fd() -> int | None:
    """The read end of a pipe the C-level signal handler writes a byte to for every signal
    (``signal.set_wakeup_fd``), set up once; None where that is not possible (not the main
    thread) or taken (a wakeup file descriptor of the program that runs the CLI: left as it is).
    Waiting in ``poll()`` on it as well ends the wait at any signal, wherever it lands."""
    global _wakeup_pipe
    if not POSIX_WAITS:
        return None
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    try:
        previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        previous = w
    if previous == -1:
        _wakeup_pipe = (r, w)
        return r
    if previous != w:
        signal.set_wakeup_fd(previous)
    os.close(r)
    os.close(w)
    return None


_wakeup_pipe: tuple[int, int] | None = None  # the pipe wakeup_fd() set up, once it has


def release_wakeup() -> None:
    """Give back what :func:`wakeup_fd` set up: no wakeup file descriptor (unless another has
    been set since: left as it is), the pipe closed. :func:`main` calls it as it returns: a
    program that runs it keeps its signal handling as it was (Trio warns of a wakeup file
    descriptor it did not set; asyncio's replaces it)."""
    global _wakeup_pipe
    if _wakeup_pipe is None:
        return
    r, w = _wakeup_pipe
    _wakeup_pipe = None
    wakeup_fd.cache_clear()
    previous = signal.set_wakeup_fd(-1)
    if previous != w:
        signal.set_wakeup_fd(previous)
    os.close(r)
    os.close(w)


def drain(fd: int) -> None:
    """Read what the wakeup pipe ``fd`` holds (it is non-blocking)."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def say(text: str) -> None:
    """Write ``text`` on stderr now.

    Raises
    ------
    OutputClosed
        The reader of stderr went away (``2>&1 | head``): the run ends quietly, as when the
        reader of stdout goes. Any other error (``2>/dev/full``, stderr closed) loses the
        message only: the exit status still tells that something failed.

    The process's own stderr is written as stdout is (:class:`_Writer`): a full pipe
    (``2>&1 | less``) is waited for where one Ctrl-C ends the wait.
    """
    stream = sys.stderr
    if stream is None:  # started with stderr closed
        return
    try:
        writer = _stderr or _stderr_writer()
        own = sys.__stderr__
        if writer.waits and own is not None and stream is own and own.fileno() == 2:
            own.flush()
            writer.write(text.encode(own.encoding, own.errors or "strict"))
            return
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        raise OutputClosed from None
    except (OSError, ValueError, OutputError):  # ValueError: a closed file object
        pass


_stderr: _Writer | None = None


def _stderr_writer() -> _Writer:
    """The writer of fd 2, made at the first message and kept until :func:`close_stderr` (made
    for every message, it was a third of the time of a run that reports 200,000 bad lines).
    Where it would only write (a file, a terminal), ``sys.stderr`` is written as it is."""
    global _stderr
    _stderr = _Writer(2)
    return _stderr


def close_stderr() -> None:
    """Release the writer of fd 2: when fd 2 is made another file (or the run is over); the
    next message makes a new one."""
    global _stderr
    if _stderr is not None:
        _stderr.close()
        _stderr = None


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
