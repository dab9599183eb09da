"""Kinesis Data Streams ``PutRecords`` with per-record retry of partial failures."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from .. import limits
from ..models import LogStream
from .base import (
    FATAL,
    RECORD_TOO_LARGE,
    Deadline,
    DeliveryResult,
    FailedEntry,
    LazyClient,
    RetryPolicy,
    batches,
    entry_failures,
    send_with_retry,
)
from .records import NDJSON, RECORD_FORMATS, LinesOf, Oversize, Record, event_records


class KinesisSink(LazyClient):
    """Send log events as records to a Kinesis stream, in ``record_format`` (``ndjson``,
    ``ndjson-gzip`` or ``cloudwatch``: see :mod:`logstream.sinks.records`).

    Example
    -------
    >>> sink = KinesisSink("my-stream", client=object())  # any boto3-like client
    >>> sink.stream_name
    'my-stream'
    """

    service = "kinesis"
    max_records = limits.KINESIS_MAX_RECORDS
    max_record_bytes = limits.KINESIS_MAX_RECORD_BYTES
    max_request_bytes = limits.KINESIS_MAX_REQUEST_BYTES

    def __init__(
        self,
        stream_name: str,
        *,
        client: Any = None,
        region: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        record_format: str = NDJSON,
    ) -> None:
        if record_format not in RECORD_FORMATS:
            from ..errors import ConfigError

            raise ConfigError(
                f"RECORD_FORMAT must be one of {', '.join(RECORD_FORMATS)}, not {record_format!r}"
            )
        self.record_format = record_format
        self.stream_name = stream_name
        self._client = client
        self.region = region
        self.retry = retry

    @property
    def destination(self) -> str:
        return f"{self.service} stream {self.stream_name}"

    def send(
        self,
        streams: Iterable[LogStream | tuple[Hashable, LogStream]],
        deadline: Deadline | None = None,
        *,
        lines: LinesOf | None = None,
    ) -> DeliveryResult:
        """Deliver every event of ``streams``; the result lists each record still failed.

        Pass ``(tag, stream)`` pairs to learn which source each failed record came from: every
        :class:`FailedEntry` then carries a ``Record`` or ``Oversize`` whose ``tag`` is yours.
        Requests stop before ``deadline``; records not attempted are failed ``DeadlineExceeded``.
        ``lines(stream)`` makes each stream's event lines (a processing pipeline's), for the
        NDJSON formats.
        """
        return self.send_records(self.records(streams, lines=lines, lazy=True), deadline)

    def records(
        self,
        streams: Iterable[LogStream | tuple[Hashable, LogStream]],
        *,
        lines: LinesOf | None = None,
        lazy: bool = False,
    ) -> Iterable[Record | Oversize]:
        """The records (and :class:`Oversize` events) ``streams`` make in this sink's format and
        limit, without sending them: a list, so whatever making them raises is raised here
        (``lazy=True``: made as they are sent)."""
        made = event_records(streams, self.max_record_bytes, record_format=self.record_format, lines=lines)
        return made if lazy else list(made)

    def send_records(
        self, items: Iterable[Record | Oversize], deadline: Deadline | None = None
    ) -> DeliveryResult:
        """Send records made by :meth:`records`; each :class:`Oversize` is a failed entry
        (``RecordTooLarge``, fatal)."""
        result = DeliveryResult()
        records: list[Record] = []
        for item in items:
            if isinstance(item, Record):
                records.append(item)
            else:
                result.failed.append(
                    FailedEntry(item, RECORD_TOO_LARGE, "one log event over the record limit", FATAL)
                )
        return self._send(records, deadline, result)

    def send_raw(self, records: list[Record], deadline: Deadline | None = None) -> DeliveryResult:
        """Send ``records`` as they are (e.g. data re-ingested by a Firehose transformation),
        batched by the limits and retried entry by entry."""
        result = DeliveryResult()
        return self._send(records, deadline, result)

    @staticmethod
    def _size(record: Record) -> int:
        return len(record.data) + len(record.partition_key.encode())

    def _put(self, batch: Sequence[Record], deadline: Deadline) -> list[tuple[int, str, str]]:
        response = self.client_for(deadline).put_records(
            StreamName=self.stream_name,
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in batch],
        )
        return entry_failures(response["Records"]) if response.get("FailedRecordCount") else []

    def _send(
        self, records: list[Record], deadline: Deadline | None, result: DeliveryResult
    ) -> DeliveryResult:
        for batch in batches(records, self._size, self.max_records, self.max_request_bytes):
            # at least once: an unknown outcome is sent again here rather than reported, which
            # would have Lambda send it again with the rest of its batch or event
            result.merge(send_with_retry(batch, self._put, self.retry, deadline, retry_unknown=True))
        failed = [f.entry for f in result.failed if isinstance(f.entry, Record)]
        result.events = sum(r.events for r in records) - sum(r.events for r in failed)
        result.bytes = sum(len(r.data) for r in records) - sum(len(r.data) for r in failed)
        return result
