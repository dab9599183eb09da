"""Lambda invocation reports: ``REPORT`` lines (text log format) and ``platform.report`` records
(JSON log format) into one typed :class:`InvocationReport`.

Text lines are read as key/value pairs in any order (the runtime interface emulator prints
``Init Duration`` first; Managed Instances print only the duration), separated by tabs or runs
of spaces, with or without a trailing tab and a following ``XRAY TraceId`` line.

A line with a number Lambda never writes is not a report: ``None``, as for a line that is not
one (``Memory Size: inf MB``, ``Duration: lots ms``, a negative duration or memory size in
either format: no invocation, metric or estimated cost is made from it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, NamedTuple

import msgspec

from ..models import LogEvent, LogStream

__all__ = [
    "InvocationReport",
    "parse_report",
    "parse_timeout",
    "parse_killed",
    "iter_reports",
    "event_key",
    "may_be_report",
    "report_marks",
    "function_name",
    "function_version",
]


@dataclasses.dataclass(frozen=True, slots=True)
class InvocationReport:
    """One invocation's report. Field names follow Lambda's JSON log format, snake_cased.

    ``None`` means Lambda did not print the field (never a made-up zero). ``timeout`` and
    ``out_of_memory`` say what the line itself says (``Status: timeout``, ``Error Type:
    Runtime.OutOfMemory``); :func:`iter_reports` adds what other lines of the batch say.
    """

    request_id: str
    duration_ms: float
    billed_duration_ms: float | None = None
    memory_size_mb: int | None = None
    max_memory_used_mb: int | None = None
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: float | None = None
    status: str | None = None
    error_type: str | None = None
    xray_trace_id: str | None = None
    timeout: bool = False
    out_of_memory: bool = False
    timestamp: int | None = None
    log_group: str | None = None
    function_name: str | None = None
    function_version: str | None = None

    @property
    def cold_start(self) -> bool:
        """A new execution environment served this invocation: an init phase ran (``Init
        Duration``) or, with SnapStart, one was restored from a snapshot (``Restore Duration``)."""
        return self.init_duration_ms is not None or self.restore_duration_ms is not None

    @property
    def snap_start_restore(self) -> bool:
        """The environment was restored from a SnapStart snapshot (tells restores from inits)."""
        return self.restore_duration_ms is not None

    @property
    def memory_utilization(self) -> float | None:
        """Max memory used as a percentage of the configured memory size."""
        if self.max_memory_used_mb is None or not self.memory_size_mb:
            return None
        return 100.0 * self.max_memory_used_mb / self.memory_size_mb

    def to_dict(self) -> dict[str, Any]:
        """The NDJSON record of ``logstream report`` (Lambda's JSON names, absent fields omitted)."""
        out: dict[str, Any] = {}
        for key, value in (
            ("functionName", self.function_name),
            ("logGroup", self.log_group),
            ("requestId", self.request_id),
            ("timestamp", self.timestamp),
            ("durationMs", self.duration_ms),
            ("billedDurationMs", _num(self.billed_duration_ms)),
            ("memorySizeMB", self.memory_size_mb),
            ("maxMemoryUsedMB", self.max_memory_used_mb),
            ("initDurationMs", self.init_duration_ms),
            ("restoreDurationMs", self.restore_duration_ms),
            ("billedRestoreDurationMs", _num(self.billed_restore_duration_ms)),
            ("status", self.status),
            ("errorType", self.error_type),
        ):
            if value is not None:
                out[key] = value
        out["coldStart"] = self.cold_start
        if self.snap_start_restore:
            out["snapStartRestore"] = True
        out["timeout"] = self.timeout
        out["outOfMemory"] = self.out_of_memory
        if self.xray_trace_id is not None:
            out["xrayTraceId"] = self.xray_trace_id
        return out


def _num(value: float | None) -> float | int | None:
    return int(value) if value is not None and value == int(value) else value


_KEYS = (
    "RequestId|Billed Restore Duration|Restore Duration|Billed Duration|Init Duration|Duration"
    "|Memory Size|Max Memory Used|Status|Error Type|TraceId|SegmentId|Sampled"
)
# Lambda's usual layout, whole line: parsed in one match (the general parser gives the same result).
_USUAL = re.compile(
    r"REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: ([\d.]+) ms\tMemory Size: (\d+) MB\t"
    r"Max Memory Used: (\d+) MB\t(?:Init Duration: ([\d.]+) ms\t)?\s*\Z"
)
_KV = re.compile(rf"(?<![A-Za-z])({_KEYS}): ?([^\s]+)")
_TIMEOUT = re.compile(r"(?:^|\s)(\S+) Task timed out after [\d.]+ seconds")
_KILLED = re.compile(r"RequestId: (\S+) Error: Runtime exited with error: signal: killed")
_EDGE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d\.")
_VERSION = re.compile(r"\[([^\]]+)\]")
# a custom log group's streams: YYYY/MM/DD/<function_name>[<function_version>]<environment id>
_STREAM_FUNCTION = re.compile(r"\d{4}/\d\d/\d\d/([A-Za-z0-9_-]+)\[")
_OOM = "Runtime.OutOfMemory"


_Ms = Annotated[float, msgspec.Meta(ge=0)]  # Lambda never writes a negative duration
_MB = Annotated[int, msgspec.Meta(ge=0)]  # nor a negative memory size


class _Metrics(msgspec.Struct, rename="camel"):
    duration_ms: _Ms
    billed_duration_ms: _Ms | None = None
    memory_size_m_b: _MB | None = msgspec.field(default=None, name="memorySizeMB")
    max_memory_used_m_b: _MB | None = msgspec.field(default=None, name="maxMemoryUsedMB")
    init_duration_ms: _Ms | None = None
    restore_duration_ms: _Ms | None = None
    billed_restore_duration_ms: _Ms | None = None


class _Tracing(msgspec.Struct):
    value: str | None = None


class _Record(msgspec.Struct, rename="camel"):
    request_id: str
    metrics: _Metrics
    status: str | None = None
    error_type: str | None = None
    tracing: _Tracing | None = None


class _Platform(msgspec.Struct):
    type: str
    record: _Record


_platform = msgspec.json.Decoder(_Platform)


def parse_report(message: str) -> InvocationReport | None:
    """Parse one log message into a report, or ``None`` when it is not a report.

    Example
    -------
    >>> r = parse_report("REPORT RequestId: 1\\tDuration: 9.14 ms\\tBilled Duration: 10 ms\\t"
    ...                  "Memory Size: 128 MB\\tMax Memory Used: 36 MB\\tInit Duration: 190.62 ms\\t")
    >>> r.billed_duration_ms, r.cold_start
    (10.0, True)
    >>> parse_report("REPORT invalid report log line") is None
    True
    """
    if message.startswith("REPORT "):  # may_be_report(), inline on the hot path
        m = _USUAL.match(message)  # Lambda's usual layout in one match; anything else: _parse_text
        if m is not None:
            try:
                return InvocationReport(
                    m[1], float(m[2]), float(m[3]), int(m[4]), int(m[5]), float(m[6]) if m[6] else None
                )
            except ValueError:
                pass  # e.g. "1.2.3 ms": the general parser decides
        return _parse_text(message)
    if message.startswith("{") and "platform.report" in message:
        return _parse_json(message)
    return None


def _parse_text(message: str) -> InvocationReport | None:
    """Key/value pairs in any order, tabs or runs of spaces between them."""
    if "\t" not in message and "\\t" in message:  # literal backslash escapes (seen in fixtures)
        message = message.replace("\\t", "\t").replace("\\n", "\n")
    fields = dict(_KV.findall(message))
    request_id = fields.get("RequestId")
    duration = fields.get("Duration")
    if request_id is None or duration is None:
        return None
    try:
        return InvocationReport(
            request_id=request_id,
            duration_ms=_number(duration),
            billed_duration_ms=_float(fields.get("Billed Duration")),
            memory_size_mb=_int(fields.get("Memory Size")),
            max_memory_used_mb=_int(fields.get("Max Memory Used")),
            init_duration_ms=_float(fields.get("Init Duration")),
            restore_duration_ms=_float(fields.get("Restore Duration")),
            billed_restore_duration_ms=_float(fields.get("Billed Restore Duration")),
            status=fields.get("Status"),
            error_type=fields.get("Error Type"),
            xray_trace_id=fields.get("TraceId"),
            timeout=fields.get("Status") == "timeout",
            out_of_memory=fields.get("Error Type") == _OOM,
        )
    except (ValueError, OverflowError):  # not a number ("inf" MB), or negative: not a report Lambda wrote
        return None


def _number(value: str) -> float:
    """The number of a field; ValueError when it is below zero (Lambda never writes one)."""
    number = float(value)
    if number < 0:
        raise ValueError(f"negative: {value}")
    return number


def _float(value: str | None) -> float | None:
    return None if value is None else _number(value)


def _int(value: str | None) -> int | None:
    return None if value is None else int(_number(value))


def _parse_json(message: str) -> InvocationReport | None:
    try:
        line = _platform.decode(message)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if line.type != "platform.report":
        return None
    rec, m = line.record, line.record.metrics
    trace = None
    if rec.tracing is not None and rec.tracing.value:
        trace = rec.tracing.value.split(";")[0].removeprefix("Root=")
    return InvocationReport(
        request_id=rec.request_id,
        duration_ms=m.duration_ms,
        billed_duration_ms=m.billed_duration_ms,
        memory_size_mb=m.memory_size_m_b,
        max_memory_used_mb=m.max_memory_used_m_b,
        init_duration_ms=m.init_duration_ms,
        restore_duration_ms=m.restore_duration_ms,
        billed_restore_duration_ms=m.billed_restore_duration_ms,
        status=rec.status,
        error_type=rec.error_type,
        xray_trace_id=trace,
        timeout=rec.status == "timeout",
        out_of_memory=rec.error_type == _OOM,
    )


def parse_timeout(message: str) -> str | None:
    """The request id of a ``Task timed out after N seconds`` line, else ``None``."""
    if "Task timed out" not in message:
        return None
    m = _TIMEOUT.search(message.replace("\\n", "\n"))
    return m.group(1) if m else None


def parse_killed(message: str) -> str | None:
    """The request id of a ``Runtime exited with error: signal: killed`` line (legacy OOM)."""
    if "signal: killed" not in message:
        return None
    m = _KILLED.search(message)
    return m.group(1) if m else None


def function_name(log_group: str, log_stream: str = "") -> str | None:
    """``/aws/lambda/NAME`` -> NAME; Lambda@Edge ``/aws/lambda/us-east-1.NAME`` -> NAME.

    With ``log_stream``, a function's stream in a custom log group (which several functions may
    share) names the function first: ``2024/01/01/NAME[$LATEST]abc`` -> NAME.

    Example
    -------
    >>> function_name("/aws/lambda/us-east-1.edge-fn"), function_name("/other")
    ('edge-fn', None)
    >>> function_name("/shared/app", "2024/01/01/checkout[$LATEST]0123abcd")
    'checkout'
    """
    if log_stream:
        m = _STREAM_FUNCTION.match(log_stream)
        if m is not None:
            return m.group(1)
    if not log_group.startswith("/aws/lambda/"):
        return None
    name = log_group[len("/aws/lambda/") :]
    return _EDGE.sub("", name, count=1) or None


def function_version(log_stream: str) -> str | None:
    """``2024/01/01/[$LATEST]abc`` -> ``$LATEST``; ``None`` when the stream does not say."""
    m = _VERSION.search(log_stream)
    return m.group(1) if m else None


#: What tells one CloudWatch log event from another: the same event delivered twice (a Kinesis
#: record written twice, two subscription filters into one stream) has the same key.
EventKey = tuple[str, str, str, int, str]


def event_key(stream: LogStream, event: LogEvent) -> EventKey | None:
    """The key of a log event for de-duplication, ``None`` when it has no CloudWatch id (a
    plain log line: nothing tells two equal lines apart, both are counted)."""
    if not event.id:
        return None
    return (stream.log_group, stream.log_stream, event.id, event.timestamp, event.message)


def may_be_report(message: str) -> bool:
    """Whether :func:`parse_report` may find a report in ``message`` (a cheap test, no parsing)."""
    return message.startswith("REPORT ") or (message.startswith("{") and "platform.report" in message)


class _Found(NamedTuple):
    stream: LogStream
    key: EventKey | None
    timestamp: int
    position: int
    report: InvocationReport


#: request id -> [(timestamp, position, killed)] of its Task timed out / signal: killed lines
_Marks = dict[str, list[tuple[int, int, bool]]]


def _scan(batch: Iterable[LogStream], seen: set[EventKey]) -> tuple[list[_Found], _Marks]:
    """The reports of the batch (an event met twice, once) and the lines that mark them."""
    marks: _Marks = {}
    found: list[_Found] = []
    position = 0
    for stream in batch:
        for event in stream.log_events:
            position += 1
            msg = event.message
            report = parse_report(msg)
            if report is not None:
                key = event_key(stream, event)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                found.append(_Found(stream, key, event.timestamp, position, report))
                continue
            rid = parse_timeout(msg)
            killed = False
            if rid is None:
                rid = parse_killed(msg)
                killed = True
            if rid is not None:
                marks.setdefault(rid, []).append((event.timestamp, position, killed))
    return found, marks


def _nearest(found: list[_Found], marks: _Marks) -> tuple[set[int], set[int]]:
    """Indexes in ``found`` of the reports marked timed out, and killed: each line marks the
    report of its request id nearest to it in time, then in position."""
    timed_out: set[int] = set()
    killed: set[int] = set()
    if not marks:
        return timed_out, killed
    candidates: dict[str, list[int]] = {}
    for i, f in enumerate(found):
        if f.report.request_id in marks:
            candidates.setdefault(f.report.request_id, []).append(i)
    for rid, lines in marks.items():
        for ts, pos, is_killed in lines:
            near = min(
                candidates.get(rid, ()),
                key=lambda i: (abs(found[i].timestamp - ts), abs(found[i].position - pos)),
                default=None,
            )
            if near is not None:
                (killed if is_killed else timed_out).add(near)
    return timed_out, killed


def report_marks(streams: Iterable[LogStream]) -> dict[EventKey, tuple[bool, bool]]:
    """``(timed out, killed)`` by :func:`event_key` of each report event a ``Task timed out``
    or ``signal: killed`` line of ``streams`` marks, as :func:`iter_reports` marks them: for a
    batch processed in parts, each part given the marks of the whole batch."""
    found, marks = _scan(streams, set())
    timed_out, killed = _nearest(found, marks)
    return {
        key: (i in timed_out, i in killed) for i in timed_out | killed if (key := found[i].key) is not None
    }


def iter_reports(
    streams: LogStream | Iterable[LogStream],
    *,
    seen: set[EventKey] | None = None,
    marks: Mapping[EventKey, tuple[bool, bool]] | None = None,
) -> Iterator[InvocationReport]:
    """One report per invocation in the batch, with the derived fields filled in.

    ``timeout`` comes from ``Status: timeout`` or a ``Task timed out`` line for the same
    request id in the batch; ``out_of_memory`` from ``Runtime.OutOfMemory``, a ``signal:
    killed`` line for the same request, or max memory reaching memory size together with an
    error. Lambda's retries of an asynchronous invocation keep its request id, each attempt
    with its own REPORT, so such a line marks the one report of its request id nearest to it
    in time (then in position: plain log lines have no time), not every attempt. ``marks``
    (from :func:`report_marks` over a larger batch) replaces the lines of ``streams``.

    A log event met twice (same log group, stream, CloudWatch id, time and message: delivered
    twice) is one report; ``seen`` holds the keys (:func:`event_key`) of events already counted
    elsewhere, and receives this batch's.
    """
    batch = [streams] if isinstance(streams, LogStream) else streams
    found, lines = _scan(batch, set() if seen is None else seen)
    if marks is None:
        timed_out, killed = _nearest(found, lines)
    else:
        timed_out = {i for i, f in enumerate(found) if f.key is not None and marks.get(f.key, _NO)[0]}
        killed = {i for i, f in enumerate(found) if f.key is not None and marks.get(f.key, _NO)[1]}
    for i, (stream, _, timestamp, _, r) in enumerate(found):
        timeout = r.timeout or i in timed_out
        oom_killed = i in killed
        errored = r.status in ("error", "failure") or r.error_type is not None or oom_killed
        oom = (
            r.out_of_memory
            or oom_killed
            or (
                errored
                and r.max_memory_used_mb is not None
                and r.memory_size_mb is not None
                and r.max_memory_used_mb >= r.memory_size_mb
            )
        )
        yield dataclasses.replace(
            r,
            status=r.status or ("timeout" if timeout else None),
            timeout=timeout,
            out_of_memory=oom,
            timestamp=timestamp or None,  # 0: a plain log line, time unknown
            log_group=stream.log_group or None,
            function_name=function_name(stream.log_group, stream.log_stream),
            function_version=function_version(stream.log_stream),
        )


_NO = (False, False)
