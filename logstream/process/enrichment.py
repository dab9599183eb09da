"""Enrichment: where an event comes from (region, Lambda function and version) and user tags."""

from __future__ import annotations

from collections.abc import Mapping

from ..parsers.lambda_report import function_name, function_version
from .events import ProcessedEvent

__all__ = ["enrich", "add_tags"]


def enrich(events: list[ProcessedEvent], region: str | None = None) -> list[ProcessedEvent]:
    """Set ``region`` (``extractedFields["@aws.region"]``, else ``region``), and for Lambda log
    groups (``/aws/lambda/NAME``, Lambda@Edge ``/aws/lambda/us-east-1.NAME``) ``function_name``
    and ``function_version`` (from the stream name ``YYYY/MM/DD/[VERSION]...``), in place. A
    function logging to a custom log group is named by its stream, ``YYYY/MM/DD/NAME[VERSION]...``
    (as the metrics name it).

    Example
    -------
    >>> from logstream.process.events import ProcessedEvent as E
    >>> ev = E("1", "/aws/lambda/checkout", "2024/05/01/[$LATEST]ab12", [], "1", 0, "hi")
    >>> e = enrich([ev], "eu-west-1")[0]
    >>> e.region, e.function_name, e.function_version
    ('eu-west-1', 'checkout', '$LATEST')
    >>> ev = E("1", "/shared/app", "2024/05/01/search[7]ab12", [], "1", 0, "hi")
    >>> e = enrich([ev], "eu-west-1")[0]
    >>> e.function_name, e.function_version
    ('search', '7')
    """
    group = name = None
    found: tuple[str | None, str | None] = (None, None)
    for ev in events:
        if ev.log_group is not group or ev.log_stream is not name:  # one stream's events share these
            group, name = ev.log_group, ev.log_stream
            function = function_name(group, name)
            found = (function, function_version(name) if function else None)
        ev.function_name, ev.function_version = found
        fields = ev.extracted_fields
        ev.region = fields.get("@aws.region", region) if fields else region
    return events


def add_tags(events: list[ProcessedEvent], tags: Mapping[str, str]) -> list[ProcessedEvent]:
    """Set ``tags`` (one shared, read-only mapping) on every event, in place."""
    shared = dict(tags)
    for ev in events:
        ev.tags = shared
    return events
