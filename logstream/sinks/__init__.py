"""Sinks: batch, send within a deadline, retry only the failed entries, report what still failed.

Every sink takes an injectable boto3 client; without one it builds its clients lazily from the
environment (boto3 honours ``AWS_ENDPOINT_URL`` itself). ``import logstream.sinks`` does not
import boto3. Sinks depend on ``logstream.models`` and ``logstream.limits`` only; the
PutMetricData and EMF wire formats live in their sinks.
"""

from typing import Any

from .base import Deadline, DeliveryResult, FailedEntry, RetryPolicy, error_class
from .cloudwatch import CloudWatchSink
from .emf import EmfSink
from .firehose import FirehoseSink
from .kinesis import KinesisSink
from .records import Oversize, Record, event_records
from .sqs import DeadLetter, DeadLetterSink

__all__ = [
    "Deadline",
    "DeliveryResult",
    "FailedEntry",
    "RetryPolicy",
    "error_class",
    "CloudWatchSink",
    "EmfSink",
    "KinesisSink",
    "FirehoseSink",
    "DeadLetter",
    "DeadLetterSink",
    "event_records",
    "Record",
    "Oversize",
    "sink_for_destination",
]


def sink_for_destination(arn: str, client: Any = None, retry: RetryPolicy | None = None) -> KinesisSink:
    """A Kinesis or Firehose sink for a stream ARN (the service follows from the ARN)."""
    from ..errors import ConfigError

    parts = arn.split(":", 5)
    kw = {"retry": retry} if retry is not None else {}
    if len(parts) == 6 and parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return KinesisSink(parts[5].split("/", 1)[1], client=client, region=parts[3], **kw)
    if len(parts) == 6 and parts[2] == "firehose" and parts[5].startswith("deliverystream/"):
        return FirehoseSink(parts[5].split("/", 1)[1], client=client, region=parts[3], **kw)
    raise ConfigError(f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN: {arn!r}")
