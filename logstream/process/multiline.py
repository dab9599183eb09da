"""Multi-line joining: continuation lines (stack traces, indented lines) that arrived as events of
their own are appended to the event they continue, within one stream.

Docker's awslogs driver, fluentd/fluent-bit without a multiline parser, and runtimes writing
straight to stdout put every line of a stack trace in its own CloudWatch event. Without a start
pattern, an event continues the one before it when it is (after Fluent Bit's built-in java, go
and python multiline rules, and Node.js' stack format):

- blank, or indented (a tab or a space first): Java ``\\tat ...``, Node.js ``    at ...``,
  Python ``  File ...``, Go ``\\t/path/file.go:12 +0x1d``;
- ``Caused by:``, ``Suppressed:``, ``... 12 more`` / ``... 12 common frames omitted`` (Java);
- Python's chained-exception lines (``During handling of the above exception ...``, ``The above
  exception was the direct cause ...``), the ``Traceback (most recent call last):`` that follows
  them, and the exception line that ends a traceback (``ValueError: bad``);
- Go's ``goroutine 1 [running]:`` and, after it, function lines such as ``main.main()`` and
  ``created by ...``.

With a start pattern (``MULTILINE_START``), an event whose message matches it (``re.match``)
starts a new event and every other event continues the previous one.

Lambda's platform lines (``START``/``END``/``REPORT``/``INIT_START``..., timeouts, ``platform.*``
JSON) are
never joined to anything and nothing is joined to them. A stack trace cut by the end of a batch
stays cut: joining never waits for the next batch.

A joined event holds at most :data:`MAX_JOINED_BYTES` (256 KiB, CloudWatch's own limit for one
event) of message and joined ids, in UTF-8: a continuation that would take it over starts the
next joined event instead (it keeps joining what follows it), so a start pattern that rarely
matches never makes one event of a whole batch.
"""

from __future__ import annotations

import re

from .events import ProcessedEvent

__all__ = ["join_multiline", "is_platform_line", "MAX_JOINED_BYTES"]

#: The most message and joined ids (UTF-8 bytes) one joined event holds.
MAX_JOINED_BYTES = 256 * 1024

_PLATFORM_PREFIXES = (
    "START RequestId: ",
    "END RequestId: ",
    "REPORT RequestId: ",
    "INIT_START ",
    "INIT_REPORT ",
    "RESTORE_START ",
    "RESTORE_REPORT ",
    "EXTENSION\t",
    "TELEMETRY\t",
    "XRAY TraceId: ",
    "RequestId: ",  # RequestId: <id> Error: Runtime exited with error: signal: killed
    '{"time":"',
)
_PLATFORM_FIRST = frozenset(p[0] for p in _PLATFORM_PREFIXES)  # a quick "no" for most app lines


def is_platform_line(message: str) -> bool:
    """A line Lambda itself wrote about an invocation (text or JSON log format), not the app.

    Example
    -------
    >>> is_platform_line("END RequestId: 1\\n"), is_platform_line("hello")
    (True, False)
    """
    c = message[:1]
    if c not in _PLATFORM_FIRST:
        # <time> <id> Task timed out after 3.00 seconds
        return c.isdigit() and " Task timed out after " in message[:120]
    if not message.startswith(_PLATFORM_PREFIXES):
        return False
    if c == "{":
        return '"type":"platform.' in message[:80]
    return True


_CONTINUATION = re.compile(
    r"[ \t]|\r?\n?\Z|Caused by: |Suppressed: |\.\.\. \d+ (?:more|common frames omitted)"
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|goroutine \d+ \[|created by "
)
_CONTINUATION_FIRST = frozenset(" \t\r\nCS.DTgc") | {""}
_TRACEBACK = "Traceback (most recent call last):"
# What can join or change the joining state: a continuation, or what starts a Python traceback
# or a Go panic. An event that is none of these, met with nothing in progress, never joins.
_TRIGGER = re.compile(_CONTINUATION.pattern + r"|Traceback \(most recent call last\):|goroutine ")
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
# the exception line that ends a Python traceback: "ValueError: bad", "pkg.mod.Error", "KeyboardInterrupt"
_PY_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?::|\r?\n?\Z)")
_GO_FRAME = re.compile(r"[\w./*()-]+\(.*\)\r?\n?\Z")


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def join_multiline(
    events: list[ProcessedEvent], start: re.Pattern[str] | None = None
) -> list[ProcessedEvent]:
    """Join continuation events into the event they continue (see the module docstring).

    The joined event keeps the first event's id, timestamp and fields; its message is the
    messages in order, a newline put between two only where the first does not end with one;
    ``joined_ids`` lists the ids of the events appended to it.

    Example
    -------
    >>> from logstream.models import LogEvent, LogStream, MessageType
    >>> from logstream.process.events import from_stream
    >>> lines = ["java.lang.IllegalStateException: boom", "\\tat Handler.handle(Handler.java:12)"]
    >>> evs = tuple(LogEvent(str(i), 0, m) for i, m in enumerate(lines))
    >>> s = LogStream(MessageType.DATA_MESSAGE, "1", "/ecs/app", "s", (), evs)
    >>> [(e.id, e.message, e.joined_ids) for e in join_multiline(from_stream(s))]
    [('0', 'java.lang.IllegalStateException: boom\\n\\tat Handler.handle(Handler.java:12)', ['1'])]
    """
    if len(events) < 2:
        return events
    if start is None:
        first, trigger = _CONTINUATION_FIRST, _TRIGGER.match
        triggers = [i for i, ev in enumerate(events) if ev.message[:1] in first and trigger(ev.message)]
        if not triggers:
            return events  # nothing continues anything
        triggers.append(len(events))
        return _join(events, None, triggers)
    return _join(events, start, None)


def _join(
    events: list[ProcessedEvent], start: re.Pattern[str] | None, triggers: list[int] | None
) -> list[ProcessedEvent]:
    """The joining loop. ``triggers`` (without a start pattern): the indices of the events that
    may join or start a traceback, then ``len(events)``; the events between them are passed on
    without a look. ``None``: every event is looked at (the reference the tests compare with)."""
    out: list[ProcessedEvent] = []
    head: ProcessedEvent | None = None  # the event continuation lines are joined to
    parts: list[str] = []
    ids: list[str] = []
    traceback = chained = goroutine = False  # what the lines joined so far were in the middle of
    size = 0  # of the joined event so far (counted from its first joined line)

    def close() -> None:
        if head is not None and ids:
            head.message = "".join(parts)
            head.joined_ids = (head.joined_ids or []) + ids

    n = len(events)
    i = 0
    t = 0  # triggers[t]: the next event that may join or start a traceback
    while i < n:
        ev = events[i]
        if triggers is not None:
            while triggers[t] < i:
                t += 1
            if triggers[t] > i + 1 and not (traceback or chained or goroutine):
                # events i .. triggers[t]-2 cannot join and start nothing: pass them on as they
                # are; the one before the trigger is the head the trigger may join
                close()
                out.extend(events[i : triggers[t] - 1])
                head, parts, ids = None, [], []
                i = triggers[t] - 1
                ev = events[i]
        i += 1
        msg = ev.message
        if is_platform_line(msg):
            close()
            out.append(ev)
            head, parts, ids = None, [], []
            continue
        if start is not None:
            joins = head is not None and start.match(msg) is None
        elif head is None:
            joins = False
        elif msg[:1] in _CONTINUATION_FIRST and _CONTINUATION.match(msg) is not None:
            joins = True
        elif msg.startswith(_TRACEBACK):
            joins = chained
        elif traceback and _PY_EXCEPTION.match(msg) is not None:
            joins = True
        else:
            joins = goroutine and _GO_FRAME.match(msg) is not None
        full = False
        if joins:
            assert head is not None
            if not ids:  # the first line joined to this head: from here its size counts
                size = _utf8_len(parts[0]) + sum(len(j) + 3 for j in head.joined_ids or ())
            size += _utf8_len(msg) + len(ev.id) + 4  # the line, a newline, its quoted id and a comma
            full = size > MAX_JOINED_BYTES
        if joins and not full:
            if not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(msg)
            ids.append(ev.id)
        elif full:  # this continuation starts the next joined event, in the same traceback
            close()
            out.append(ev)
            head, parts, ids = ev, [msg], []
        else:
            close()
            out.append(ev)
            head, parts, ids = ev, [msg], []
            traceback = chained = goroutine = False
        if start is None:
            if msg.startswith(_CHAINED):
                chained = True
            elif msg.startswith(_TRACEBACK):
                traceback, chained = True, False
            elif msg.strip():
                chained = False
                if msg[0] not in " \t":
                    traceback = False  # the exception line (or anything unindented) ends a traceback
            if msg.startswith("goroutine "):
                goroutine = True
    close()
    return out
