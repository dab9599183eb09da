"""Typed, immutable values for CloudWatch Logs subscription data.

Names are snake_case here; the camelCase names of the wire format are mapped in exactly one
place (the ``rename`` of each struct and :data:`DOCUMENT_KEYS`).
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec

__all__ = ["MessageType", "LogEvent", "LogStream", "CONTROL_OWNER", "Timestamp"]

#: ``owner`` of control messages (CloudWatch Logs checking that a destination is reachable).
CONTROL_OWNER = "CloudwatchLogs"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Epoch milliseconds a ``datetime`` can hold (0001-01-01 to 9999-12-31): decoding refuses
#: timestamps outside this range as a schema error instead of failing later on ``.datetime``.
MIN_TIMESTAMP_MS = -62_135_596_800_000
MAX_TIMESTAMP_MS = 253_402_300_799_999
Timestamp = Annotated[int, msgspec.Meta(ge=MIN_TIMESTAMP_MS, le=MAX_TIMESTAMP_MS)]


class MessageType(str, enum.Enum):  # noqa: UP042 - str() stays "MessageType.X" as released
    """``messageType`` of a subscription document."""

    DATA_MESSAGE = "DATA_MESSAGE"
    CONTROL_MESSAGE = "CONTROL_MESSAGE"

    def __str__(self) -> str:
        return self.value


class LogEvent(
    msgspec.Struct,
    frozen=True,
    gc=False,
    omit_defaults=True,
    rename={"extracted_fields": "extractedFields"},
):
    """One log event of a subscription document.

    Attributes
    ----------
    id : str
        CloudWatch's event id (a 56-digit string; empty in control messages). Stable across
        retries, so downstream systems can de-duplicate on it.
    timestamp : int
        Epoch milliseconds, as CloudWatch sent it.
    message : str
        The log line. A non-string ``message`` (some hand-made fixtures hold JSON objects) is
        kept as its compact JSON text.
    extracted_fields : dict[str, str] | None
        ``extractedFields`` when the subscription filter names fields or system fields.

    Example
    -------
    >>> LogEvent(id="1", timestamp=0, message="hi\\n").datetime.isoformat()
    '1970-01-01T00:00:00+00:00'
    """

    id: str
    timestamp: Timestamp
    message: str
    extracted_fields: dict[str, str] | None = None

    @property
    def datetime(self) -> datetime:
        """The timestamp as an aware UTC datetime (millisecond precision)."""
        return _EPOCH + timedelta(milliseconds=self.timestamp)

    def to_dict(self) -> dict[str, Any]:
        """The event as CloudWatch writes it (camelCase keys, optional keys only when set)."""
        out: dict[str, Any] = {"id": self.id, "timestamp": self.timestamp, "message": self.message}
        if self.extracted_fields is not None:
            out["extractedFields"] = self.extracted_fields
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class LogStream:
    """One decoded subscription document: a batch of events of one log stream.

    Attributes
    ----------
    message_type : MessageType
    owner : str
        Account id (``CloudwatchLogs`` for control messages).
    log_group, log_stream : str
    subscription_filters : tuple[str, ...]
    log_events : tuple[LogEvent, ...]
    policy_level : str | None
        ``policyLevel`` (e.g. ``ACCOUNT_LEVEL_POLICY``) when present.
    raw : bytes | None
        The document's JSON text exactly as received, when it was decoded from bytes. Not part
        of equality. :meth:`to_document` uses it so unknown keys survive.

    Example
    -------
    >>> s = LogStream(MessageType.DATA_MESSAGE, "123", "/aws/lambda/f", "s", ("f",), ())
    >>> s.is_control
    False
    """

    message_type: MessageType
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    log_events: tuple[LogEvent, ...]
    policy_level: str | None = None
    raw: bytes | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def is_control(self) -> bool:
        """True for CloudWatch's health-check messages (not a log event of any user)."""
        return self.message_type is MessageType.CONTROL_MESSAGE

    def to_document(self) -> dict[str, Any]:
        """The document as CloudWatch sent it: same keys (unknown ones too), same values."""
        if self.raw is not None:
            try:
                doc = msgspec.json.decode(self.raw)
            except (msgspec.DecodeError, UnicodeError, RecursionError):
                doc = None  # an unknown key holds what no JSON parser reads back: typed fields only
            if isinstance(doc, dict):
                return doc
        doc = {
            "messageType": self.message_type.value,
            "owner": self.owner,
            "logGroup": self.log_group,
            "logStream": self.log_stream,
            "subscriptionFilters": list(self.subscription_filters),
            "logEvents": [e.to_dict() for e in self.log_events],
        }
        if self.policy_level is not None:
            doc["policyLevel"] = self.policy_level
        return doc

    @property
    def context(self) -> dict[str, Any]:
        """The per-stream keys that ``logstream decode`` puts on every event line."""
        return {
            "owner": self.owner,
            "logGroup": self.log_group,
            "logStream": self.log_stream,
            "subscriptionFilters": list(self.subscription_filters),
        }
