"""Processing against the Lambda deadline, one unit (a Kinesis record, a subscription document,
a Firehose record) at a time: every handler stops processing in time to send and answer, and a
unit still running when the time for processing runs out is interrupted (:class:`TimeLimit`)."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from logstream.sinks import Deadline
from logstream.sinks.base import SEND_RESERVE_S

T = TypeVar("T")

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


class TimeLimit(BaseException):  # noqa: N818 - it is the limit that is met, not an error of the unit
    """Raised in a unit still being processed when the time for processing runs out.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the unit's own ``except Exception``
    does not swallow it; the handler's loop catches it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds

    def __str__(self) -> str:
        return f"processing still running after {self.seconds:.3f} s, when the time for processing ran out"


class Pace:
    """Whether the next unit may start, and the time limit of the unit running.

    Processing keeps time for sending (``SEND_RESERVE_S``, at most half of what is left) and
    starts no unit when less time is left than the slowest unit so far took (so the one it
    starts very likely ends in time).

    ``with pace:`` arms an alarm (SIGALRM, ``setitimer(ITIMER_REAL)``) for the moment
    processing must stop, once for the whole loop; ``pace.run(work, ...)`` runs a unit, and if
    the alarm goes off while it runs, :class:`TimeLimit` is raised in it. CPython's ``re``
    checks for signals while it backtracks, so a catastrophic regex is interrupted; a long call
    into C that does not (a decompression, msgspec's decoder) is interrupted only when it
    returns. The alarm goes off only when a unit would otherwise keep the invocation past its
    deadline: a slow unit in a batch with time for it runs to its end. ``whole()`` says whether
    the unit interrupted had (nearly) the whole processing time (the cause: a retry could give
    it no more, so it is dead-lettered) or started later (reported for retry, where it comes
    first and has the whole time).

    The alarm is not armed (processing as before, without a time limit) where signals cannot
    be used: outside the main thread, without ``signal.setitimer``, without a deadline, or when
    the process's own real-time timer (someone else's alarm) goes off first. Leaving the block
    disarms the timer and restores the previous SIGALRM handler and timer, so no alarm outlives
    the loop: none during the sends that follow, none in a later invocation after Lambda
    freezes and thaws the environment.

    Example
    -------
    >>> now = [0.0]
    >>> pace = Pace(Deadline(10.0, clock=lambda: now[0]))  # 10 s left: 8 s for processing
    >>> pace.start(), now.__setitem__(0, 3.0), pace.done(), pace.start()
    (True, None, None, True)
    >>> now[0] = 6.0; pace.done(); pace.start()  # 2 s left, the slowest took 3 s
    False
    """

    __slots__ = ("clock", "stop", "slowest", "started", "begun", "running", "expired", "_saved")

    def __init__(self, deadline: Deadline) -> None:
        self.clock = deadline.clock
        self.begun = self.started = now = self.clock()
        self.stop = deadline.expires - min(SEND_RESERVE_S, max(0.0, deadline.expires - now) / 2)
        self.slowest = 0.0
        self.running = False  # a unit runs (in ``run``): the alarm interrupts it
        self.expired = False  # the alarm went off: no unit starts
        self._saved: tuple[Any, tuple[float, float], float] | None = None

    def left(self) -> float:
        """Seconds left for processing (negative: none)."""
        return self.stop - self.clock()

    def start(self) -> bool:
        """True (and the unit's time starts) when the next unit may start."""
        now = self.clock()
        left = self.stop - now
        if left <= 0 or left < self.slowest or self.expired:
            return False
        self.started = now
        return True

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)``, the unit started last: raises :class:`TimeLimit` if the alarm goes off
        before it returns (its result is then never seen)."""
        self.running = True
        try:
            return work(*args)
        finally:
            self.running = False

    def done(self) -> None:
        """The unit started last is done (processed, raised or interrupted)."""
        took = self.clock() - self.started
        if took > self.slowest:
            self.slowest = took

    def whole(self) -> bool:
        """Whether the unit started last had (nearly) all the processing time: it started with
        at least ``WHOLE_SHARE`` of it left."""
        return self.stop - self.started >= WHOLE_SHARE * (self.stop - self.begun)

    # ------------------------------------------------------------------------- the alarm
    def __enter__(self) -> Pace:
        delay = self.stop - self.clock()
        if _setitimer is None or not 0 < delay < math.inf:
            return self
        try:
            previous = signal.signal(_SIGALRM, self._alarm)
        except ValueError:  # not the main thread (of the main interpreter)
            return self
        before = _setitimer(_ITIMER_REAL, delay, REPEAT_S)
        if 0 < before[0] <= delay:  # someone else's alarm goes off first: theirs, unchanged
            _setitimer(_ITIMER_REAL, *before)
            signal.signal(_SIGALRM, _restorable(previous))
            return self
        self._saved = (previous, before, time.monotonic())
        return self

    def __exit__(self, *exc: object) -> None:
        saved = self._saved
        if saved is None or _setitimer is None:  # not armed (setitimer exists when it was)
            return
        self._saved = None
        _setitimer(_ITIMER_REAL, 0)
        previous, before, armed = saved
        # signal.signal runs an alarm still pending first (ignored here: no unit is running)
        signal.signal(_SIGALRM, _restorable(previous))
        if before[0] > 0:  # someone else's timer, less the time it was held
            _setitimer(_ITIMER_REAL, max(1e-6, before[0] - (time.monotonic() - armed)), before[1])

    def _alarm(self, signum: int, frame: FrameType | None) -> None:
        self.expired = True
        if self.running:
            raise TimeLimit(self.clock() - self.started)


def _restorable(handler: Any) -> Any:
    """A handler ``signal.signal`` takes back: ``None`` (one not installed from Python) cannot
    be, and the default action is the closest."""
    return signal.SIG_DFL if handler is None else handler
