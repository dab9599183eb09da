"""What the failure queue holds, for the replay tests: Lambda's on-failure records (an async
invocation's, with the event; a Kinesis event source mapping's, naming where the batch was) and
the source stream such a record points at."""

from __future__ import annotations

import gzip
import json
import uuid

import msgspec

from logstream import testing as t
from tests.functional.wire import ACCOUNT, new_stream


def on_failure_record(messages: list[str], log_stream: str = "s") -> str:
    """An async invocation's on-failure record holding a subscription event of ``messages``."""
    event = t.lambda_event(t.make_document(messages, log_group="/aws/lambda/checkout", log_stream=log_stream))
    return msgspec.json.encode(
        {
            "version": "1.0",
            "timestamp": "2026-11-23T10:00:00.000Z",
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:logstream-forward:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "2 records not delivered", "errorType": "DeliveryError"},
        }
    ).decode()


def kinesis_esm_record(stream_arn: str, start: str, end: str, batch_size: int) -> str:
    """What Lambda writes to an SQS on-failure destination of a Kinesis event source mapping:
    where the batch was, never its data (AWS Lambda developer guide, "Kinesis: on-failure
    destinations")."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4ea6-9fa7-05e5d4b2d2b0",
                "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:logstream-forward",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 1,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": "2019-11-14T00:13:49.717Z",
            "KinesisBatchInfo": {
                "shardId": "shardId-000000000000",
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
                "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
                "batchSize": batch_size,
                "streamArn": stream_arn,
            },
        }
    )


def source_stream(aws, payloads: list[bytes]) -> tuple[str, list[str]]:
    """A stream holding ``payloads`` as records (one shard): ``(ARN, sequence numbers)``."""
    name, arn = new_stream(aws)
    kinesis = aws("kinesis")
    seqs = [kinesis.put_record(StreamName=name, Data=p, PartitionKey="k")["SequenceNumber"] for p in payloads]
    return arn, seqs


def gzip_doc(messages: list[str], log_stream: str = "s") -> bytes:
    """A subscription document of ``messages`` as CloudWatch Logs puts it in a Kinesis record."""
    return gzip.compress(t.document_json(t.make_document(messages, log_stream=log_stream)))


def event_messages(records: list[bytes]) -> list[str]:
    """The ``message`` of every NDJSON event line in ``records``."""
    return [json.loads(line)["message"] for r in records for line in r.splitlines()]
