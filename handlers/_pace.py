"""Processing against the Lambda deadline, one unit (a Kinesis record, a subscription document,
a Firehose record) at a time: every handler stops processing in time to send and answer."""

from __future__ import annotations

from logstream.sinks import Deadline
from logstream.sinks.base import SEND_RESERVE_S


class Pace:
    """Whether the next unit may start: processing keeps time for sending (``SEND_RESERVE_S``,
    at most half of what is left) and starts no unit when less time is left than the slowest
    unit so far took (so the one it starts very likely ends in time).

    Example
    -------
    >>> now = [0.0]
    >>> pace = Pace(Deadline(10.0, clock=lambda: now[0]))  # 10 s left: 8 s for processing
    >>> pace.start(), now.__setitem__(0, 3.0), pace.done(), pace.start()
    (True, None, None, True)
    >>> now[0] = 6.0; pace.done(); pace.start()  # 2 s left, the slowest took 3 s
    False
    """

    __slots__ = ("clock", "stop", "slowest", "started")

    def __init__(self, deadline: Deadline) -> None:
        self.clock = deadline.clock
        self.stop = deadline.expires - min(SEND_RESERVE_S, max(0.0, deadline.remaining()) / 2)
        self.slowest = 0.0
        self.started = 0.0

    def left(self) -> float:
        """Seconds left for processing (negative: none)."""
        return self.stop - self.clock()

    def start(self) -> bool:
        """True (and the unit's time starts) when the next unit may start."""
        now = self.clock()
        left = self.stop - now
        if left <= 0 or left < self.slowest:
            return False
        self.started = now
        return True

    def done(self) -> None:
        """The unit started last is done (processed or raised)."""
        took = self.clock() - self.started
        if took > self.slowest:
            self.slowest = took
