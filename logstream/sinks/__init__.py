"""Sinks: batch, send, retry only the failed entries, report what still failed.

Every sink takes an injectable boto3 client; without one it builds its client lazily from the
environment (boto3 honours ``AWS_ENDPOINT_URL`` itself). ``import logstream.sinks`` does not
import boto3.
"""

from typing import Any

from .base import DeliveryResult, FailedEntry, RetryPolicy
from .cloudwatch import CloudWatchSink
from .emf import EmfSink
from .firehose import FirehoseSink, transform_response
from .kinesis import KinesisSink
from .records import Oversize, Record, event_records

__all__ = [
    "DeliveryResult",
    "FailedEntry",
    "RetryPolicy",
    "CloudWatchSink",
    "EmfSink",
    "KinesisSink",
    "FirehoseSink",
    "transform_response",
    "event_records",
    "Record",
    "Oversize",
    "sink_for_destination",
]


def sink_for_destination(arn: str, client: Any = None) -> KinesisSink | FirehoseSink:
    """A Kinesis or Firehose sink for a stream ARN (the service follows from the ARN)."""
    from ..errors import ConfigError

    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return KinesisSink(parts[5].split("/", 1)[1], client=client, region=parts[3])
    if len(parts) == 6 and parts[2] == "firehose" and parts[5].startswith("deliverystream/"):
        return FirehoseSink(parts[5].split("/", 1)[1], client=client, region=parts[3])
    raise ConfigError(f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN: {arn!r}")
