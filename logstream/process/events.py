"""The event a pipeline works on and writes: one line of ``logstream decode`` plus what the stages add."""

from __future__ import annotations

from typing import Any

import msgspec

from ..models import LogStream
from ..ndjson import escape_breaks  # one escaping rule for every NDJSON line

__all__ = ["ProcessedEvent", "from_stream", "encode_lines"]


class ProcessedEvent(msgspec.Struct, omit_defaults=True, rename="camel", gc=False):
    """One log event with its stream context: the NDJSON line of ``logstream decode`` (same keys,
    same order) followed by the keys the stages add. Keys a stage did not set are omitted.

    The pipeline's working copy: stages update it in place (the decoded :class:`~logstream.LogEvent`
    values stay untouched). ``message`` is changed only by redaction (and multi-line joining,
    which appends the continuation lines).

    Attributes
    ----------
    owner, log_group, log_stream, subscription_filters :
        The stream's context, as on every ``logstream decode`` line.
    id, timestamp, message, extracted_fields :
        The CloudWatch event. A joined event keeps the first event's id and timestamp.
    policy_level : str | None
        ``policyLevel`` of the document, when present.
    level, request_id, time, json :
        From :func:`logstream.parsers.lambda_lines.parse_line` (``PARSE_MESSAGES``).
    joined_ids : list[str] | None
        Ids of the events joined into this one, in order (``JOIN_MULTILINE``).
    region, function_name, function_version : str | None
        Enrichment (``ENRICH``).
    tags : dict[str, str] | None
        ``TAGS``.
    """

    owner: str
    log_group: str
    log_stream: str
    subscription_filters: list[str]
    id: str
    timestamp: int
    message: str
    extracted_fields: dict[str, str] | None = None
    policy_level: str | None = None
    level: str | None = None
    request_id: str | None = None
    time: str | None = None
    json: dict[str, Any] | None = None
    joined_ids: list[str] | None = None
    region: str | None = None
    function_name: str | None = None
    function_version: str | None = None
    tags: dict[str, str] | None = None


def from_stream(stream: LogStream) -> list[ProcessedEvent]:
    """Working copies of a stream's events, each with the stream's context.

    Example
    -------
    >>> from logstream.models import LogEvent, LogStream, MessageType
    >>> s = LogStream(MessageType.DATA_MESSAGE, "1", "/g", "s", ("f",), (LogEvent("7", 0, "hi"),))
    >>> from_stream(s)[0].message
    'hi'
    """
    owner, group, name, policy = stream.owner, stream.log_group, stream.log_stream, stream.policy_level
    filters = list(stream.subscription_filters)
    return [
        ProcessedEvent(owner, group, name, filters, e.id, e.timestamp, e.message, e.extracted_fields, policy)
        for e in stream.log_events
    ]


_enc = msgspec.json.Encoder()


def encode_lines(events: list[ProcessedEvent]) -> bytes:
    """The events as NDJSON, one line each (each ending in a newline); ``b""`` for none.
    Line separators inside strings (U+2028, U+2029, U+0085) are escaped, as on every NDJSON line."""
    return escape_breaks(_enc.encode_lines(events)) if events else b""
