"""Processing against the Lambda deadline, one unit (a Kinesis record, a subscription document,
a Firehose record) at a time: every handler stops processing in time to send and answer, and a
unit still running when the time for processing runs out is interrupted (:class:`TimeLimit`)."""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TypeVar

from logstream.sinks import Deadline
from logstream.sinks.base import SEND_RESERVE_S

T = TypeVar("T")
U = TypeVar("U")

#: A unit interrupted at the time limit after it started with at least this share of the
#: invocation's processing time is the cause (a retry could give it no more time): it is
#: dead-lettered. One started later is reported for retry, where it comes first.
WHOLE_SHARE = 0.9
#: While armed, the alarm repeats this often: a unit that swallows the first interruption (a
#: bare ``except BaseException``) is interrupted again.
REPEAT_S = 0.05

_setitimer = getattr(signal, "setitimer", None)  # not on Windows
_SIGALRM = getattr(signal, "SIGALRM", 0)
_ITIMER_REAL = getattr(signal, "ITIMER_REAL", 0)
# ``signal.signal`` converts handlers to and from enums (about 1.9 us a call); the C function it
# wraps, ``_signal.signal``, does the same in 0.15 us (SIG_DFL and SIG_IGN as plain ints).
_set_handler: Callable[[int, Any], Any] = getattr(sys.modules.get("_signal"), "signal", signal.signal)


class TimeLimit(BaseException):  # noqa: N818 - the limit is met; the unit made no error
    """Raised in a unit still being processed when the time for processing runs out.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the unit's own ``except Exception``
    does not swallow it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds

    def __str__(self) -> str:
        return f"processing still running after {self.seconds:.3f} s, when the time for processing ran out"


class Pace:
    """Processes units one at a time while there is time for them (:meth:`each`).

    Processing keeps time for sending (``SEND_RESERVE_S``, at most half of what is left) and
    starts no unit when less time is left than the slowest unit so far took (so the one it
    starts very likely ends in time).

    The time limit: an alarm (SIGALRM, ``setitimer(ITIMER_REAL)``) is armed once for the whole
    loop, for the moment processing must stop; if it goes off while a unit runs, :class:`TimeLimit`
    is raised in it. So it goes off only when a unit would otherwise keep the invocation past
    its deadline: a slow unit in a batch with time for it runs to its end. CPython's ``re``
    checks for signals while it backtracks, so a catastrophic regex (``REDACT_PATTERNS``,
    ``INCLUDE_PATTERN``, ``MULTILINE_START`` meeting a hostile line) is interrupted; a long call
    into C that does not (a decompression, msgspec's decoder) is interrupted only when it
    returns. :meth:`whole` tells the cause (the unit interrupted started with (nearly) the whole
    processing time: a retry could give it no more, so it is dead-lettered) from a unit that
    started late (reported for retry, where it comes first and has the whole time).

    No alarm (processing as before, without a time limit) where signals cannot be used:
    outside the main thread, without ``signal.setitimer``, without a deadline, or when the
    process's real-time timer (someone else's alarm) goes off first. When the loop ends, the
    timer is disarmed and the previous SIGALRM handler and timer restored: no alarm during the
    sends that follow, none in a later invocation after Lambda freezes and thaws the
    environment.

    Example
    -------
    >>> now = [0.0]
    >>> def work(i, seconds):  # a unit that takes ``seconds``
    ...     now[0] += seconds
    ...     return i
    >>> pace = Pace(Deadline(10.0, clock=lambda: now[0]))  # 10 s left: 8 s for processing
    >>> pace.each(work, [3.0, 3.0, 1.0])  # at 6 s, 2 s are left and the slowest took 3 s
    [0, 1]
    """

    __slots__ = ("clock", "expires", "stop", "slowest", "started", "begun", "running", "expired", "limit")

    def __init__(self, deadline: Deadline, *, time_limit: bool = True) -> None:
        """``time_limit=False``: no alarm, units are only paced (the metrics handlers: they run
        no user-supplied pattern, only logstream's parsers, linear in their input)."""
        self.limit = time_limit
        self.clock = deadline.clock
        self.expires = deadline.expires
        self.stop = self.begun = self.started = math.inf  # set when processing begins (``each``)
        self.slowest = 0.0
        self.running = False  # a unit runs: the alarm interrupts it
        self.expired = False  # the alarm went off: no unit starts

    def left(self) -> float:
        """Seconds left for processing (negative: none)."""
        return self.stop - self.clock()

    def whole(self) -> bool:
        """Whether the unit started last had (nearly) all the processing time: it started with
        at least ``WHOLE_SHARE`` of it left."""
        return self.stop - self.started >= WHOLE_SHARE * (self.stop - self.begun)

    def each(self, work: Callable[[int, U], T], units: Sequence[U]) -> list[T | BaseException]:
        """``work(index, unit)`` for the units in order, while there is time: what each unit
        processed made, or the exception it raised (an ``Exception``; for the last one, a
        :class:`TimeLimit` if it was interrupted). The units past the end of the list were not
        started for lack of time."""
        clock = self.clock
        out: list[T | BaseException] = []
        self.begun = now = clock()
        expires = self.expires
        self.stop = stop = expires - min(SEND_RESERVE_S, max(0.0, expires - now) / 2)
        saved = None
        if not self.limit and len(units) == 1:  # one unit, no alarm (a metrics handler's usual event)
            if stop - now <= 0:
                return out
            self.started = now
            try:
                out.append(work(0, units[0]))
            except Exception as exc:  # noqa: BLE001 - one unit's failure costs only that unit
                out.append(exc)
            self.slowest = clock() - now
            return out
        if self.limit and _setitimer is not None and 0 < stop - now < math.inf:  # arm the alarm
            try:
                previous = _set_handler(_SIGALRM, self._alarm)
            except ValueError:  # not the main thread (of the main interpreter): no alarm
                pass
            else:
                before = _setitimer(_ITIMER_REAL, stop - now, REPEAT_S)
                if before[0] <= 0:
                    saved = (previous, before, 0.0)
                elif before[0] > stop - now:  # someone else's timer: it goes on when ours ends
                    saved = (previous, before, time.monotonic())
                else:  # someone else's alarm goes off first: theirs, unchanged
                    _setitimer(_ITIMER_REAL, *before)
                    _set_handler(_SIGALRM, signal.SIG_DFL if previous is None else previous)
        try:
            for index, unit in enumerate(units):
                if index:
                    now = clock()
                left = stop - now
                if left <= 0 or left < self.slowest or self.expired:
                    break
                self.started = now
                try:
                    try:
                        self.running = True
                        made: T | BaseException = work(index, unit)
                    finally:  # from here on the alarm interrupts nothing
                        self.running = False
                except TimeLimit as exc:  # its result, if it had one, is never seen
                    made = exc
                except Exception as exc:  # noqa: BLE001 - one unit's failure costs only that unit
                    made = exc
                out.append(made)
                took = clock() - now
                if took > self.slowest:
                    self.slowest = took
                if made.__class__ is TimeLimit:
                    break
        finally:
            if saved is not None:  # disarm; the previous handler and timer back
                _setitimer(_ITIMER_REAL, 0)  # type: ignore[misc]  # not None when armed
                previous, before, armed = saved
                # setting a handler runs an alarm still pending first (ignored: no unit runs);
                # None is a handler not installed from Python, which cannot be put back
                _set_handler(_SIGALRM, signal.SIG_DFL if previous is None else previous)
                if before[0] > 0:  # someone else's timer, less the time it was held
                    rest = max(1e-6, before[0] - (time.monotonic() - armed))
                    _setitimer(_ITIMER_REAL, rest, before[1])  # type: ignore[misc]
        return out

    def _alarm(self, signum: int, frame: FrameType | None) -> None:
        self.expired = True
        if self.running:
            raise TimeLimit(self.clock() - self.started)
