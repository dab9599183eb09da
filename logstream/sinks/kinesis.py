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
from .records import Record, event_records


class KinesisSink(LazyClient):
    """Send log events as NDJSON records to a Kinesis stream.

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
    ) -> None:
        self.stream_name = stream_name
        self._client = client
        self.region = region
        self.retry = retry

    @property
    def destination(self) -> str:
        return f"{self.service} stream {self.stream_name}"

    def send(
        self, streams: Iterable[LogStream | tuple[Hashable, LogStream]], deadline: Deadline | None = None
    ) -> DeliveryResult:
        """Deliver every event of ``streams``; the result lists each record still failed.

        Pass ``(tag, stream)`` pairs to learn which source each failed record came from: every
        :class:`FailedEntry` then carries a ``Record`` or ``Oversize`` whose ``tag`` is yours.
        Requests stop before ``deadline``; records not attempted are failed ``DeadlineExceeded``.
        """
        result = DeliveryResult()
        records: list[Record] = []
        for item in event_records(streams, self.max_record_bytes):
            if isinstance(item, Record):
                records.append(item)
            else:
                result.failed.append(
                    FailedEntry(item, RECORD_TOO_LARGE, "one log event over the record limit", FATAL)
                )
        for batch in batches(records, self._size, self.max_records, self.max_request_bytes):
            result.merge(send_with_retry(batch, self._put, self.retry, deadline))
        return result

    def send_raw(self, records: list[Record], deadline: Deadline | None = None) -> DeliveryResult:
        """Send ``records`` as they are (e.g. data re-ingested by a Firehose transformation),
        batched by the limits and retried entry by entry."""
        result = DeliveryResult()
        for batch in batches(records, self._size, self.max_records, self.max_request_bytes):
            result.merge(send_with_retry(batch, self._put, self.retry, deadline))
        return result

    @staticmethod
    def _size(record: Record) -> int:
        return len(record.data) + len(record.partition_key.encode())

    def _put(self, batch: Sequence[Record], deadline: Deadline) -> list[tuple[int, str, str]]:
        response = self.client_for(deadline).put_records(
            StreamName=self.stream_name,
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in batch],
        )
        return entry_failures(response["Records"]) if response.get("FailedRecordCount") else []
