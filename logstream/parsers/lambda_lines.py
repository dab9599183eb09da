"""Application log lines of Lambda functions: the runtime's line prefix and JSON app logs.

One pure function, :func:`parse_line`, reads what a line says about itself: its ``level``, the
Lambda ``requestId``, the application's own ``time`` and, when the text after any prefix is a JSON
object, that object (``json``). The message itself is never changed.

Shapes read (each from the runtime's own formatter or the AWS docs; tests hold one line of each):

============  =================================================================================
runtime       text log format
============  =================================================================================
Node.js       ``2024-05-01T12:00:00.123Z\\t<requestId>\\tINFO\\tmessage`` (console.*; older runtimes
              print no level; ``Invoke Error \\t{...}`` / ``Uncaught Exception \\t{...}`` errors)
.NET          ``2024-05-01T12:00:00.123Z\\t<requestId>\\tinfo\\tmessage`` (levels ``trce dbug info
              warn fail crit``, Microsoft.Extensions.Logging's labels)
Python        ``[INFO]\\t2024-05-01T12:00:00.123Z\\t<requestId>\\tmessage``; uncaught errors
              ``[ERROR] Runtime.ImportModuleError: ...``
Java          ``[INFO] message`` (LambdaLogger with a log level); log4j2/slf4j with the Lambda
              appender: ``2024-05-01 12:00:00 <requestId> INFO  Handler - message``
Ruby          ``I, [2024-05-01T12:00:00.123456 #8]  INFO <requestId> -- : message`` (the runtime's
              Logger formatter; plain Ruby Logger lines have no request id)
Go            ``2024/05/01 12:00:00 message`` (package log); ``time=... level=INFO msg=...``
              (log/slog text handler, logrus)
platform      ``START``/``END``/``REPORT RequestId: <id>``, ``<time> <id> Task timed out ...``,
              ``{"time": ..., "type": "platform.*", "record": {"requestId": ...}}``
============  =================================================================================

JSON app logs (Lambda's JSON log format of every runtime, Powertools Logger, pino, zap, slog,
any JSON object): ``level`` from ``level``/``levelname``/``severity`` (pino's numbers too),
``requestId`` from ``requestId``/``AWSRequestId``/``function_request_id``/..., ``time`` from
``timestamp``/``time``/``@timestamp``/``ts``. A value found in the prefix wins over the JSON.

Levels are normalised to Lambda's own names, ``TRACE DEBUG INFO WARN ERROR FATAL``; a level
word that is not one of the known aliases is not reported (the JSON keeps it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = [
    "LambdaLine",
    "parse_line",
    "parse_fields",
    "app_fields",
    "platform_request_id",
    "normalize_level",
    "LEVELS",
    "level_rank",
]

#: Lambda's level names, lowest first.
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_RANK = {name: i for i, name in enumerate(LEVELS)}

_ALIASES = {
    "TRACE": "TRACE",
    "TRCE": "TRACE",
    "VERBOSE": "TRACE",
    "DEBUG": "DEBUG",
    "DBUG": "DEBUG",
    "INFO": "INFO",
    "INFORMATION": "INFO",
    "NOTICE": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "FAIL": "ERROR",
    "ERR": "ERROR",
    "FATAL": "FATAL",
    "CRIT": "FATAL",
    "CRITICAL": "FATAL",
    "PANIC": "FATAL",
    "ALERT": "FATAL",
    "EMERG": "FATAL",
    "EMERGENCY": "FATAL",
}
# pino/bunyan numeric levels
_NUMERIC = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}


def normalize_level(value: Any) -> str | None:
    """A level word or number -> one of :data:`LEVELS`, else ``None``.

    Example
    -------
    >>> normalize_level("warning"), normalize_level("fail"), normalize_level(30), normalize_level("x")
    ('WARN', 'ERROR', 'INFO', None)
    """
    if isinstance(value, str):
        return _ALIASES.get(value.strip().upper())
    if isinstance(value, int) and not isinstance(value, bool):
        return _NUMERIC.get(value)
    return None


def level_rank(level: str) -> int:
    """Position of a normalised level in :data:`LEVELS` (TRACE is 0)."""
    return _RANK[level]


class LambdaLine(
    msgspec.Struct, frozen=True, gc=False, omit_defaults=True, rename={"request_id": "requestId"}
):
    """What one log line says about itself. ``None``: the line does not say.

    Attributes
    ----------
    level : str | None
        One of :data:`LEVELS`.
    request_id : str | None
        The Lambda request id the runtime printed (``requestId`` in JSON).
    time : str | None
        The application's own timestamp, as written (numbers in JSON: ISO 8601 UTC).
    json : dict | None
        The JSON object the message holds after any prefix.
    """

    level: str | None = None
    request_id: str | None = None
    time: str | None = None
    json: dict[str, Any] | None = None


_json = msgspec.json.Decoder()

_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
_TS_RE = re.compile(_TS)
_TAB_LEVELS = {
    name: _ALIASES[name.upper()]
    for name in (
        "TRACE",
        "DEBUG",
        "INFO",
        "WARN",
        "ERROR",
        "FATAL",
        "trce",
        "dbug",
        "info",
        "warn",
        "fail",
        "crit",
    )
}
_PY_LEVELS = {f"[{name}]": _ALIASES[name] for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}
_UUIDISH = r"[0-9A-Za-z][0-9A-Za-z-]*"
# Node.js and .NET: ts \t requestId \t [level \t] message (old Node.js runtimes print no level)
_TAB_PREFIX = re.compile(
    rf"({_TS})\t({_UUIDISH})\t(?:(TRACE|DEBUG|INFO|WARN|ERROR|FATAL|trce|dbug|info|warn|fail|crit)\t)?"
)
# Python: [LEVEL] \t ts \t requestId \t message
_PY_PREFIX = re.compile(r"\[(NOTSET|DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\t([^\t]+)\t([^\t]*)\t")
# Java LambdaLogger text format and Python uncaught errors: [LEVEL] message
_BRACKET_LEVEL = re.compile(r"\[(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\] ")
# log4j2 / slf4j with the Lambda appender: date time [requestId] LEVEL ...
_SPACED = re.compile(
    r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) +"
    r"(?:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) +)?"
    r"(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b ?"
)
# Go's package log: 2024/05/01 12:00:00[.micro] message
_GO_LOG = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ")
# Ruby Logger (the Lambda runtime's formatter adds the request id before "--")
_RUBY = re.compile(
    r"[DIWEFA], \[(\S+) #\d+\] +(DEBUG|INFO|WARN|ERROR|FATAL|ANY)"
    r"(?: ([0-9A-Za-z][0-9A-Za-z-]*))? -- [^:]*: "
)
# the timeout line
_TIMED_OUT = re.compile(rf"({_TS}) ([0-9A-Za-z-]+) Task timed out after")
# logfmt (Go log/slog TextHandler, logrus): key=value or key="quoted value"
_LOGFMT = re.compile(r'(?:^|\s)(time|level|requestId|request_id|aws_request_id)=("(?:[^"\\]|\\.)*"|\S*)')
# Node.js runtime errors: "Invoke Error \t{...}", "Uncaught Exception \t{...}"
_LABELLED_JSON = re.compile(r"[A-Za-z][A-Za-z ]{0,40} \t(?=\{)")

_LEVEL_KEYS = ("level", "levelname", "severity", "log.level", "Level", "LogLevel")
_TIME_KEYS = ("timestamp", "time", "@timestamp", "ts", "Timestamp")
_REQUEST_KEYS = (
    "requestId",
    "AWSRequestId",
    "function_request_id",
    "aws_request_id",
    "awsRequestId",
    "FunctionRequestId",
)


def parse_line(message: str) -> LambdaLine | None:
    """Read a log message's runtime prefix and JSON body; ``None`` when it says nothing.

    Example
    -------
    >>> line = parse_line("2024-05-01T12:00:00.123Z\\t6bc28136-xmpl\\tWARN\\tslow\\n")
    >>> line.level, line.request_id, line.time
    ('WARN', '6bc28136-xmpl', '2024-05-01T12:00:00.123Z')
    >>> parse_line('{"level":"error","msg":"boom"}').json
    {'level': 'error', 'msg': 'boom'}
    >>> parse_line("plain text\\n") is None
    True
    """
    found = parse_fields(message)
    return None if found is None else LambdaLine(*found)


# Lambda's START/END/REPORT lines
_PLATFORM_PREFIXES = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")

#: What :func:`parse_fields` returns: ``(level, request_id, time, json)``.
Fields = tuple["str | None", "str | None", "str | None", "dict[str, Any] | None"]


def parse_fields(message: str) -> Fields | None:
    """:func:`parse_line` as a plain tuple ``(level, request_id, time, json)`` (no object built:
    the pipeline's per-event path), ``None`` when the line says nothing.

    Example
    -------
    >>> parse_fields("END RequestId: 6bc28136-xmpl\\n")
    (None, '6bc28136-xmpl', None, None)
    """
    rid = platform_request_id(message)
    if rid is not None:
        return (None, rid, None, None)
    return app_fields(message)


def app_fields(message: str) -> Fields | None:
    """:func:`parse_fields` for a message :func:`platform_request_id` has already said is not
    one of Lambda's START/END/REPORT lines (the pipeline asks that first)."""
    if not message:
        return None
    c = message[0]
    if c == "{":
        return _with_json(message, None, None, None)
    if c in "SER":
        return _ruby(message) if message[1:4] == ", [" else None  # Ruby's "E, [..."
    if c == "[":
        head, tab, _ = message[:12].partition("\t")
        if tab and head in _PY_LEVELS:  # Python: split fast
            parts = message.split("\t", 3)
            if len(parts) == 4 and parts[1][4:5] == "-":
                return _with_json(parts[3], _PY_LEVELS[head], parts[2] or None, parts[1])
        m = _PY_PREFIX.match(message)
        if m is not None:
            level = _ALIASES.get(m[1])  # NOTSET: no level
            return _with_json(message[m.end() :], level, m[3] or None, m[2])
        m = _BRACKET_LEVEL.match(message)
        if m is not None:
            return _with_json(message[m.end() :], _ALIASES[m[1]], None, None)
        return None
    if "0" <= c <= "9":
        if message[10:11] == "T" and message[23:25] == "Z\t":  # Node.js / .NET, split fast
            parts = message.split("\t", 3)
            if len(parts) >= 3 and _TS_RE.fullmatch(parts[0]) is not None:
                level = _TAB_LEVELS.get(parts[2]) if len(parts) == 4 else None
                rest = parts[3] if level is not None else message[len(parts[0]) + len(parts[1]) + 2 :]
                request_id = parts[1] if parts[1] != "undefined" else None  # Node.js outside an invocation
                return _with_json(rest, level, request_id or None, parts[0])
        m = _TAB_PREFIX.match(message)
        if m is not None:
            level = _ALIASES[m[3].upper()] if m[3] else None
            request_id = m[2] if m[2] != "undefined" else None
            return _with_json(message[m.end() :], level, request_id, m[1])
        m = _SPACED.match(message)
        if m is not None:
            return _with_json(message[m.end() :], m[3], m[2], m[1])
        m = _TIMED_OUT.match(message)
        if m is not None:
            return (None, m[2], m[1], None)
        m = _GO_LOG.match(message)
        if m is not None:
            return _with_json(message[m.end() :], None, None, m[1])
        return None
    if message[1:4] == ", [":
        return _ruby(message)
    if c in "tl" and (message.startswith("time=") or message.startswith("level=")):
        return _logfmt(message)
    return None


def platform_request_id(message: str) -> str | None:
    """The request id of one of Lambda's ``START``/``END``/``REPORT RequestId: <id>`` lines;
    ``None`` for any other message (or one of these without an id).

    Example
    -------
    >>> platform_request_id("END RequestId: 6bc28136-xmpl\\n"), platform_request_id("hello")
    ('6bc28136-xmpl', None)
    """
    if not message.startswith(_PLATFORM_PREFIXES):
        return None
    # "REPORT", "RequestId:", the id (the whole token, however long), the rest
    parts = message.split(None, 3)
    return parts[2] if len(parts) > 2 else None


def _ruby(message: str) -> Fields | None:
    m = _RUBY.match(message)
    if m is None:
        return None
    return _with_json(message[m.end() :], _ALIASES.get(m[2]), m[3], m[1])


def _with_json(rest: str, level: str | None, request_id: str | None, time: str | None) -> Fields | None:
    obj: Any = None
    if rest[:1] == "{":
        try:
            obj = _json.decode(rest)
        except (msgspec.DecodeError, RecursionError):  # nesting too deep for msgspec: not parsed
            obj = None
    elif "\t{" in rest:
        m = _LABELLED_JSON.match(rest)
        if m is not None:
            obj = _json_object(rest[m.end() :])
    if type(obj) is dict:
        if level is None or request_id is None or time is None:
            present = _META_KEYS.intersection(obj)  # one pass over the object's keys, in C
            if present:
                level, request_id, time = _json_fields(obj, present, level, request_id, time)
        return (level, request_id, time, obj)
    if level is None and request_id is None and time is None:
        return None
    return (level, request_id, time, None)


def _json_object(text: str) -> dict[str, Any] | None:
    if text[:1] != "{":
        return None
    try:
        obj = _json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


# key -> (field, rank): field 0 level, 1 request id, 2 time, 3 a platform record; the lowest rank
# of a field whose value is usable wins
_META = {
    **{key: (0, rank) for rank, key in enumerate(_LEVEL_KEYS)},
    **{key: (1, rank) for rank, key in enumerate(_REQUEST_KEYS)},
    **{key: (2, rank) for rank, key in enumerate(_TIME_KEYS)},
    "record": (3, 0),
}
_META_KEYS = frozenset(_META)


def _json_fields(
    obj: dict[str, Any],
    present: Iterable[str],
    level: str | None,
    request_id: str | None,
    time: str | None,
) -> tuple[str | None, str | None, str | None]:
    """``level``, ``request_id`` and ``time`` completed from a JSON object's well-known keys
    (``present``: those the object has); a value already found in the prefix is kept. For each,
    the first key in the order of ``_LEVEL_KEYS`` / ``_REQUEST_KEYS`` / ``_TIME_KEYS`` whose value
    is usable wins: a level word or number, a non-empty string id, a non-empty string or an
    epoch number for the time. Lambda's ``platform.*`` records give ``record.requestId``."""
    need_level, need_id, need_time = level is None, request_id is None, time is None
    level_rank = id_rank = time_rank = 99
    has_record = False
    for key in present:
        field, rank = _META[key]
        value = obj[key]
        if field == 0:
            if need_level and rank < level_rank:
                found = _ALIASES.get(value) if type(value) is str else None
                if found is None:
                    found = normalize_level(value)
                if found is not None:
                    level, level_rank = found, rank
        elif field == 1:
            if need_id and rank < id_rank and type(value) is str and value:
                request_id, id_rank = value, rank
        elif field == 2:
            if need_time and rank < time_rank:
                found = _time_value(value)
                if found is not None:
                    time, time_rank = found, rank
        else:
            has_record = True
    if request_id is None and has_record:
        request_id = _platform_request_id(obj)
    return level, request_id, time


def _time_value(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch_iso(value)
    return None


def _epoch_iso(value: float) -> str | None:
    """Epoch seconds (zap, pino's ``time`` in ms when over 1e11) -> ISO 8601 UTC."""
    seconds = value / 1000 if value > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _platform_request_id(obj: dict[str, Any]) -> str | None:
    kind, record = obj.get("type"), obj.get("record")
    if isinstance(kind, str) and kind.startswith("platform.") and isinstance(record, dict):
        value = record.get("requestId")
        return value if isinstance(value, str) and value else None
    return None


def _logfmt(message: str) -> Fields | None:
    fields = {k: v[1:-1] if v.startswith('"') else v for k, v in _LOGFMT.findall(message.split("\n", 1)[0])}
    level = normalize_level(fields["level"]) if "level" in fields else None
    request_id = fields.get("requestId") or fields.get("aws_request_id") or fields.get("request_id") or None
    time = fields.get("time") or None
    if level is None and request_id is None and time is None:
        return None
    return (level, request_id, time, None)
