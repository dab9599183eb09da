"""fluentd ``monitor_agent`` status: one record per plugin, fluentd's own key names kept.

Accepted, one CloudWatch event per line (fluentd's stdout output through Docker's awslogs driver):

- v1:    ``2024-05-01 12:00:00.123456789 +0000 monitor.tag: {json}``
- v0.12: ``2017-01-16 12:34:56 +0900 fluent.status: {json}``
- plain JSON: one plugin object, or an ``/api/plugins.json`` body (``{"plugins": [...]}``)

fluentd's own log lines (``2024-05-01 12:00:00 +0000 [info]: ...``) are not status.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec

from ..errors import ParseError
from ..models import LogStream
from .lambda_report import EventKey, event_key

__all__ = ["PluginStatus", "parse_status", "iter_statuses"]

_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s*(?P<tz>[+-]\d\d:?\d\d|Z|UTC)?\s+"
    r"(?P<tag>[^\s\[][^\s]*): (?P<json>\{.*?)\s*$",
    re.S,
)
_json = msgspec.json.Decoder()


@dataclasses.dataclass(frozen=True, slots=True)
class PluginStatus:
    """One plugin's status. ``fields`` holds fluentd's keys as fluentd wrote them (read-only).

    ``timestamp`` is epoch milliseconds from the status line's own time, else from the log
    event (``None`` for a plain log line: no time known); ``tag`` is the fluentd tag when the
    line had one.
    """

    plugin_id: str
    fields: Mapping[str, Any]
    timestamp: int | None = None
    tag: str | None = None
    log_group: str | None = None
    log_stream: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def numeric(self) -> dict[str, float]:
        """The numeric counters and gauges (booleans and nulls left out)."""
        return {
            k: v for k, v in self.fields.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }

    def to_dict(self) -> dict[str, Any]:
        """The NDJSON record of ``logstream fluentd``: fluentd's keys plus our context keys."""
        out = dict(self.fields)
        for key, value in (
            ("timestamp", self.timestamp),
            ("logGroup", self.log_group),
            ("logStream", self.log_stream),
            ("tag", self.tag),
        ):
            if value is not None:
                out[key] = value
        return out


def parse_status(line: str) -> list[PluginStatus] | None:
    """The plugin statuses in one line, or ``None`` when the line is not status.

    Raises
    ------
    ParseError
        The line has a status prefix (time, zone, tag) but its JSON is broken.

    Example
    -------
    >>> [s.plugin_id for s in parse_status('2017-01-16 12:34:56 +0900 fluent.status: '
    ...     '{"plugin_id":"out_es","retry_count":0}')]
    ['out_es']
    >>> parse_status("2024-05-01 12:00:00 +0000 [info]: starting fluentd") is None
    True
    """
    text = line.strip()
    if not text:
        return None
    timestamp = tag = None
    if text[0] != "{":
        m = _LINE.match(text)
        if m is None:
            return None
        tag = m.group("tag")
        try:
            timestamp = _epoch_ms(m.group("time"), m.group("tz"))
        except (ValueError, OverflowError):  # 2024-02-30, a zone like +9900
            raise ParseError(
                f"fluentd status line with tag {tag!r}: impossible time {m.group('time')!r}"
            ) from None
        text = m.group("json")
        try:
            value = _json.decode(text)
        except msgspec.DecodeError as exc:
            raise ParseError(f"fluentd status line with tag {tag!r}: invalid JSON ({exc})") from None
    else:
        try:
            value = _json.decode(text)
        except msgspec.DecodeError:
            return None
    plugins = value.get("plugins") if isinstance(value, dict) else None
    items = plugins if isinstance(plugins, list) else [value]
    out = [
        PluginStatus(str(p["plugin_id"]), MappingProxyType(p), timestamp, tag)
        for p in items
        if isinstance(p, dict) and "plugin_id" in p
    ]
    return out or None


def _epoch_ms(time: str, tz: str | None) -> int:
    zone = "+0000" if tz in (None, "Z", "UTC") else tz.replace(":", "")
    base, _, frac = time.replace("T", " ").partition(".")
    dt = datetime.strptime(f"{base} {zone}", "%Y-%m-%d %H:%M:%S %z")
    millis = int((frac + "000")[:3]) if frac else 0
    return int(dt.timestamp()) * 1000 + millis


def iter_statuses(
    streams: LogStream | Iterable[LogStream],
    on_error: Any = None,
    *,
    seen: set[EventKey] | None = None,
) -> Iterator[PluginStatus]:
    """Every plugin status in the batch; the event's timestamp when the line has none.

    ``on_error`` receives each :class:`ParseError` (a status line with broken JSON); without it
    the error is raised.

    A log event met twice (same log group, stream, CloudWatch id, time and message: delivered
    twice, as a Kinesis record written twice or two subscription filters into one stream give)
    counts once, as for REPORT lines; ``seen`` holds the keys
    (:func:`~logstream.parsers.lambda_report.event_key`) of events already counted elsewhere,
    and receives this batch's. Plain log lines (no id) are never merged.
    """
    batch = [streams] if isinstance(streams, LogStream) else streams
    if seen is None:
        seen = set()
    for stream in batch:
        for event in stream.log_events:
            try:
                found = parse_status(event.message)
            except ParseError as err:
                if on_error is None:
                    raise
                on_error(err)
                continue
            if not found:
                continue
            key = event_key(stream, event)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            for status in found:
                yield dataclasses.replace(
                    status,
                    # the event's time; 0 is a plain log line's: time unknown (as for REPORT lines)
                    timestamp=status.timestamp if status.timestamp is not None else event.timestamp or None,
                    log_group=stream.log_group or None,
                    log_stream=stream.log_stream or None,
                )
