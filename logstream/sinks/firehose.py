"""Firehose ``PutRecordBatch`` with per-record retry, and the transformation response."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from .. import limits
from ..envelopes import payload_streams
from ..errors import DecodeError
from ..ndjson import event_lines
from .base import entry_failures
from .kinesis import KinesisSink
from .records import Record


class FirehoseSink(KinesisSink):
    """Send log events as NDJSON records (each line ending in a newline) to a delivery stream."""

    service = "firehose"
    max_records = limits.FIREHOSE_MAX_RECORDS
    max_record_bytes = limits.FIREHOSE_MAX_RECORD_BYTES
    max_request_bytes = limits.FIREHOSE_MAX_REQUEST_BYTES

    @property
    def delivery_stream_name(self) -> str:
        return self.stream_name

    @staticmethod
    def _size(record: Record) -> int:
        return len(record.data)

    def _put(self, batch: Sequence[Record]) -> list[tuple[int, str, str]]:
        response = self.client.put_record_batch(
            DeliveryStreamName=self.stream_name, Records=[{"Data": r.data} for r in batch]
        )
        return entry_failures(response["RequestResponses"]) if response.get("FailedPutCount") else []


def transform_response(
    event: Mapping[str, Any],
    *,
    ignore_log_group: str | None = None,
    max_bytes: int = limits.FIREHOSE_TRANSFORM_MAX_RESPONSE_BYTES,
    on_error: Any = None,
) -> dict[str, Any]:
    """The Firehose transformation answer: every ``recordId`` once, in order.

    Data -> ``Ok`` with NDJSON event lines; control messages (and the handler's own log group)
    -> ``Dropped``; undecodable -> ``ProcessingFailed`` (Firehose keeps those in its error
    output). Records that would push the response past 6 MB are answered ``ProcessingFailed``
    too, so the invocation never fails as a whole.
    """
    out: list[dict[str, Any]] = []
    size = 100
    for index, record in enumerate(event.get("records", [])):
        rid = record.get("recordId", "")
        answer: dict[str, Any]
        try:
            streams = payload_streams(record.get("data"))
            data = b"".join(
                event_lines(s) for s in streams if not s.is_control and s.log_group != ignore_log_group
            )
            if data:
                answer = {"recordId": rid, "result": "Ok", "data": base64.b64encode(data).decode()}
            else:
                answer = {"recordId": rid, "result": "Dropped"}
        except DecodeError as err:
            err.locate(record=index)
            if on_error is not None:
                on_error(err)
            answer = {"recordId": rid, "result": "ProcessingFailed"}
        n = len(answer.get("data", "")) + len(rid) + 64
        if size + n > max_bytes:
            answer = {"recordId": rid, "result": "ProcessingFailed"}
            n = len(rid) + 64
        size += n
        out.append(answer)
    return {"records": out}
