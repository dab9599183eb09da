"""Firehose ``PutRecordBatch`` with per-record retry of partial failures."""

from __future__ import annotations

from collections.abc import Sequence

from .. import limits
from .base import Deadline, entry_failures
from .kinesis import KinesisSink
from .records import Record


class FirehoseSink(KinesisSink):
    """Send log events as NDJSON records (each line ending in a newline) to a delivery stream.

    :meth:`send_raw` sends records as they are (a Firehose transformation re-ingesting data).
    Partition keys are not sent: Firehose has none.
    """

    service = "firehose"
    max_records = limits.FIREHOSE_MAX_RECORDS
    max_record_bytes = limits.FIREHOSE_MAX_RECORD_BYTES
    max_request_bytes = limits.FIREHOSE_MAX_REQUEST_BYTES

    @property
    def delivery_stream_name(self) -> str:
        return self.stream_name

    @property
    def destination(self) -> str:
        return f"firehose delivery stream {self.stream_name}"

    @staticmethod
    def _size(record: Record) -> int:
        return len(record.data)

    def _put(self, batch: Sequence[Record], deadline: Deadline) -> list[tuple[int, str, str]]:
        response = self.client_for(deadline).put_record_batch(
            DeliveryStreamName=self.stream_name, Records=[{"Data": r.data} for r in batch]
        )
        return entry_failures(response["RequestResponses"]) if response.get("FailedPutCount") else []
