"""Builders for payloads exactly as CloudWatch Logs and its destinations deliver them.

For logstream's tests and for yours: make a document, then wrap it the way a Lambda
subscription, a Kinesis stream, a Firehose transformation, a Firehose HTTP endpoint or a
Firehose S3 object would.

Example
-------
>>> from logstream import decode_log_stream
>>> doc = make_document(["REPORT RequestId: 1\\tDuration: 1.00 ms\\t"], log_group="/aws/lambda/f")
>>> decode_log_stream(lambda_event(doc)).to_document() == doc
True
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from .models import CONTROL_OWNER, LogStream

__all__ = [
    "make_document",
    "control_document",
    "event_id",
    "document_json",
    "gzip_member",
    "encode_payload",
    "lambda_event",
    "kinesis_event",
    "firehose_event",
    "firehose_http_body",
    "s3_object",
]

Document = Mapping[str, Any] | LogStream
_FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898
_json = msgspec.json.Encoder()
#: CloudWatch's gzip header: no flags, mtime 0, no extra flags, OS 0 (seen in every AWS sample).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00"
DEFAULT_START_MS = 1_700_000_000_000


def event_id(timestamp: int, sequence: int = 0, source: str = "") -> str:
    """A 56-digit event id in CloudWatch's format, unique per timestamp, sequence and source
    (log group and stream)."""
    salt = zlib.crc32(source.encode()) if source else 0
    return f"{timestamp:020d}{salt:010d}{sequence:026d}"


def make_document(
    messages: Iterable[Any] = ("hello\n",),
    *,
    log_group: str = "/aws/lambda/example",
    log_stream: str = "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    owner: str = "123456789012",
    subscription_filters: Sequence[str] = ("logstream",),
    start_ms: int = DEFAULT_START_MS,
    step_ms: int = 1,
    extracted_fields: Mapping[str, str] | None = None,
    policy_level: str | None = None,
) -> dict[str, Any]:
    """A DATA_MESSAGE document with one event per message, keys in CloudWatch's order.

    A message may also be a ``(timestamp_ms, text)`` pair.
    """
    events = []
    source = f"{log_group}\n{log_stream}"
    for seq, msg in enumerate(messages):
        ts, text = msg if isinstance(msg, tuple) else (start_ms + seq * step_ms, msg)
        event: dict[str, Any] = {"id": event_id(ts, seq, source), "timestamp": ts, "message": text}
        if extracted_fields is not None:
            event["extractedFields"] = dict(extracted_fields)
        events.append(event)
    doc: dict[str, Any] = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(subscription_filters),
        "logEvents": events,
    }
    if policy_level is not None:
        doc["policyLevel"] = policy_level
    return doc


def control_document(timestamp: int = DEFAULT_START_MS, destination: str = "Firehose") -> dict[str, Any]:
    """The health check CloudWatch sends when a subscription is created."""
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": CONTROL_OWNER,
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": timestamp,
                "message": f"CWL CONTROL MESSAGE: Checking health of destination {destination}.",
            }
        ],
    }


def document_json(doc: Document) -> bytes:
    """Compact JSON of a document (key order kept), as CloudWatch writes it."""
    if isinstance(doc, LogStream):
        doc = doc.to_document()
    return _json.encode(doc)


def gzip_member(data: bytes, level: int = 6) -> bytes:
    """One gzip member with CloudWatch's header (mtime 0, OS 0)."""
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = co.compress(data) + co.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def encode_payload(doc: Document, *, compression: str = "gzip") -> str:
    """base64(gzip(json(doc))): the string in ``awslogs.data`` and in each record's ``data``.

    ``compression="zlib"`` makes the zlib variant some fixtures use.
    """
    raw = document_json(doc)
    packed = gzip_member(raw) if compression == "gzip" else zlib.compress(raw, 9)
    return base64.b64encode(packed).decode("ascii")


def lambda_event(doc: Document, *, compression: str = "gzip") -> dict[str, Any]:
    """The event a Lambda subscription target receives."""
    return {"awslogs": {"data": encode_payload(doc, compression=compression)}}


def kinesis_event(
    docs: Iterable[Document],
    *,
    stream_arn: str = "arn:aws:kinesis:us-east-1:123456789012:stream/logstream",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A Kinesis Data Streams -> Lambda event, one record per document."""
    records = []
    for i, doc in enumerate(docs):
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "logstream",
                    "sequenceNumber": f"{_FIRST_SEQUENCE + i}",
                    "data": encode_payload(doc),
                    "approximateArrivalTimestamp": 1_700_000_000.0 + i,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{_FIRST_SEQUENCE + i}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/logstream",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": records}


def firehose_event(
    docs: Iterable[Document],
    *,
    delivery_stream_arn: str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/logstream",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A Firehose data-transformation event, one record per document."""
    return {
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": delivery_stream_arn,
        "region": region,
        "records": [
            {
                "recordId": f"49546986683135544286507457936321625675700192471156785154{i:04d}",
                "approximateArrivalTimestamp": 1_700_000_000_000 + i,
                "data": encode_payload(doc),
            }
            for i, doc in enumerate(docs)
        ],
    }


def firehose_http_body(docs: Iterable[Document], *, timestamp: int = DEFAULT_START_MS) -> dict[str, Any]:
    """The JSON body Firehose POSTs to an HTTP endpoint destination."""
    return {
        "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
        "timestamp": timestamp,
        "records": [{"data": encode_payload(doc)} for doc in docs],
    }


def s3_object(docs: Iterable[Document], *, outer_gzip: bool = False) -> bytes:
    """A Firehose -> S3 object: each record's gzip member appended with no delimiter.

    With ``outer_gzip`` the object is gzipped again (delivery stream compression on top).
    """
    body = b"".join(gzip_member(document_json(doc)) for doc in docs)
    return gzip_member(body) if outer_gzip else body
