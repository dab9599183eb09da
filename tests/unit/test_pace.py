"""The handlers' pacing and per-unit time limit (handlers/_pace.py): a unit still running when the
time for processing runs out is interrupted by a real SIGALRM, the previous handler and timer
come back, and the alarm stays off where signals cannot be used.

The slow unit is a catastrophic regex on a hostile line (it would run for hours), never a
sleep; deadlines are fractions of a second. Where a test needs time to have passed, a clock
on which a unit's work moves time forward stands in for it.
"""

from __future__ import annotations

import contextlib
import doctest
import re
import signal
import threading
import time

import pytest

import handlers._pace as pace_module
import handlers._selfmetrics
from handlers._pace import REPEAT_S, Pace, TimeLimit
from logstream.sinks import Deadline

CATASTROPHIC = re.compile(r"(a+)+$")  # backtracks 2**n times on n a's not followed by the end
HOSTILE = "a" * 64 + "!"


def catastrophic(index: int, text: str) -> bool:
    return CATASTROPHIC.search(text) is not None


@contextlib.contextmanager
def alarm_as_found():
    """The SIGALRM handler and real-time timer (pytest-timeout's) put back after the block."""
    handler = signal.getsignal(signal.SIGALRM)
    timer = signal.getitimer(signal.ITIMER_REAL)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, *timer)


def theirs(signum, frame) -> None:  # someone else's SIGALRM handler
    raise AssertionError("someone else's alarm went off during the test")


# --------------------------------------------------------------------------- the time limit
def test_given_a_catastrophic_regex_when_the_time_for_processing_runs_out_then_that_unit_is_interrupted():
    # 1 s left: half of it (0.5 s) for processing, the rest kept for sending
    deadline = Deadline.after(1.0)
    pace = Pace(deadline)

    began = time.monotonic()
    outcomes = pace.each(catastrophic, ["aaa", HOSTILE, "aaaa"])
    took = time.monotonic() - began

    assert outcomes[0] is True  # done before, its result kept
    assert isinstance(outcomes[1], TimeLimit) and len(outcomes) == 2  # the third never started
    assert 0.45 <= outcomes[1].seconds <= took
    assert took < 1.0  # before the deadline
    assert pace.whole()  # it had (nearly) all the processing time: the cause


def test_given_a_unit_that_swallows_the_interruption_then_the_repeated_alarm_interrupts_it_again():
    def stubborn(index: int, text: str) -> bool:
        try:
            CATASTROPHIC.search(text)
        except BaseException:  # noqa: BLE001, S110 - a unit that hides the first interruption
            pass
        return CATASTROPHIC.search(text) is not None

    began = time.monotonic()
    (outcome,) = Pace(Deadline.after(0.6)).each(stubborn, [HOSTILE])

    assert isinstance(outcome, TimeLimit)
    assert 0.3 + REPEAT_S <= time.monotonic() - began < 0.6


def test_given_a_unit_that_raises_then_its_exception_is_its_outcome_and_the_others_go_on():
    def work(index: int, text: str) -> str:
        if text == "bug":
            raise ValueError("stage bug on purpose")
        return text.upper()

    outcomes = Pace(Deadline.after(60.0)).each(work, ["a", "bug", "c"])

    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "stage bug on purpose"


# --------------------------------------------------------------------- which unit is the cause
@pytest.mark.parametrize(
    ("before", "whole"),
    [
        (0.0, True),  # the first unit: all of the 8 s
        (0.7, True),  # 7.3 s of 8 left: at least 90%
        (1.0, False),  # 7 s of 8 left: less than 90%, a retry gives it more
    ],
)
def test_given_an_interrupted_unit_then_whole_tells_whether_it_had_nearly_all_the_time(before, whole):
    now = [0.0]

    def work(index: int, seconds: float) -> None:
        if seconds is None:  # the alarm, as it arrives while this unit runs
            signal.raise_signal(signal.SIGALRM)
        now[0] += seconds

    pace = Pace(Deadline(10.0, clock=lambda: now[0]))  # 10 s left: 8 s for processing
    with alarm_as_found():
        outcomes = pace.each(work, [before, None, 0.0])

    assert len(outcomes) == 2 and isinstance(outcomes[1], TimeLimit)
    assert pace.whole() is whole


def test_given_the_alarm_after_a_unit_returned_then_nothing_is_interrupted_and_no_unit_starts():
    calls = [0]

    def clock() -> float:  # the alarm arrives while the first unit's time is taken
        calls[0] += 1
        if calls[0] == 2:
            signal.raise_signal(signal.SIGALRM)
        return time.monotonic()

    with alarm_as_found():
        outcomes = Pace(Deadline(time.monotonic() + 60.0, clock=clock)).each(catastrophic, ["aaa", HOSTILE])

    assert outcomes == [True]  # kept; the hostile unit never started


# ------------------------------------------------------------------ the alarm's surroundings
def test_given_someone_elses_handler_and_timer_then_both_are_back_after_an_interruption():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        signal.setitimer(signal.ITIMER_REAL, 100.0)

        (outcome,) = Pace(Deadline.after(0.4)).each(catastrophic, [HOSTILE])

        assert isinstance(outcome, TimeLimit)
        assert signal.getsignal(signal.SIGALRM) is theirs
        remaining, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 99.0 < remaining <= 100.0 - 0.2 and interval == 0.0  # less the time ours held it


def test_given_no_timer_before_then_none_is_left_armed_and_the_default_action_is_back():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, 0)

        (outcome,) = Pace(Deadline.after(0.4)).each(catastrophic, [HOSTILE])

        assert isinstance(outcome, TimeLimit)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing goes off later
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def armed_during(pace: Pace) -> tuple[object, float]:
    """The SIGALRM handler and the timer's repeat interval while a unit runs."""
    seen = []

    def work(index: int, unit: str) -> str:
        seen.append((signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)[1]))
        return unit

    assert pace.each(work, ["x"]) == ["x"]
    return seen[0]


def test_given_a_deadline_then_the_alarm_is_armed_only_while_units_run():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        handler, interval = armed_during(Pace(Deadline.after(60.0)))
        assert handler is not theirs and interval == pytest.approx(REPEAT_S)
        assert signal.getsignal(signal.SIGALRM) is theirs


def test_given_someone_elses_alarm_due_first_then_it_is_left_alone():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        signal.setitimer(signal.ITIMER_REAL, 50.0)
        handler, interval = armed_during(Pace(Deadline.after(200.0)))  # ours would be at 199 s
        assert (handler, interval) == (theirs, 0.0)
        assert 49.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 50.0


def test_given_no_deadline_then_no_alarm():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        assert armed_during(Pace(Deadline.never())) == (theirs, 0.0)


def test_given_no_time_limit_then_no_alarm_for_one_unit_or_many():
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        signal.setitimer(signal.ITIMER_REAL, 0)
        seen: list[tuple[object, float]] = []

        def work(index: int, unit: str) -> str:
            seen.append((signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)[0]))
            return unit

        for units in (["a"], ["a", "b", "c"]):
            seen.clear()
            assert Pace(Deadline.after(60.0), time_limit=False).each(work, units) == units
            assert seen == [(theirs, 0.0)] * len(units)


def test_given_no_time_limit_and_one_unit_then_its_exception_is_its_outcome_and_no_time_starts_none():
    def bug(index: int, unit: str) -> str:
        raise ValueError("stage bug on purpose")

    (outcome,) = Pace(Deadline.after(60.0), time_limit=False).each(bug, ["a"])
    assert isinstance(outcome, ValueError)
    assert Pace(Deadline.after(0.0), time_limit=False).each(bug, ["a"]) == []  # no time: not started


def test_given_no_setitimer_then_no_alarm(monkeypatch):
    monkeypatch.setattr(pace_module, "_setitimer", None)  # as on Windows
    with alarm_as_found():
        signal.signal(signal.SIGALRM, theirs)
        assert armed_during(Pace(Deadline.after(60.0))) == (theirs, 0.0)


def test_given_a_thread_then_no_alarm_and_its_units_run_to_their_end():
    seen = []
    outcomes = []

    def work(index: int, unit: str) -> str:
        seen.append(signal.getitimer(signal.ITIMER_REAL)[1])
        return unit

    pace = Pace(Deadline.after(60.0))
    thread = threading.Thread(target=lambda: outcomes.append(pace.each(work, ["a", "b"])))
    thread.start()
    thread.join(timeout=60)

    assert outcomes == [["a", "b"]]  # no crash: signals only work in the main thread
    assert seen == [0.0, 0.0]  # the timer's repeat interval: not ours


def test_pace_and_self_metrics_examples_hold():
    for module in (pace_module, handlers._selfmetrics):
        assert doctest.testmod(module).failed == 0, module.__name__
