"""Helpers for handler tests over the wire (moto's server): streams, queues, what arrived, and
the EMF documents a handler printed."""

from __future__ import annotations

import json
import uuid

ACCOUNT = "123456789012"
SELF_NAMESPACE = "Logstream/Pipeline"


def new_stream(aws, shards: int = 1) -> tuple[str, str]:
    """A new Kinesis stream: ``(name, ARN)``."""
    name = f"s-{uuid.uuid4().hex[:8]}"
    aws("kinesis").create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def stream_records(kinesis, name: str) -> list[bytes]:
    """The data of every record in the stream, shard by shard, in order."""
    out: list[bytes] = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            got = kinesis.get_records(ShardIterator=it, Limit=10_000)
            out += [r["Data"] for r in got["Records"]]
            it = got.get("NextShardIterator") if got["Records"] else None
    return out


def s3_objects(s3, bucket: str) -> list[bytes]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return out


def emf_documents(text: str, namespace: str) -> list[dict]:
    """The EMF documents in ``namespace`` among the lines printed on stdout."""
    docs = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    return [d for d in docs if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace]


def new_queue(aws) -> str:
    return aws("sqs").create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def queue_with(aws, bodies: list[str]) -> str:
    """A new queue holding ``bodies``, one message each."""
    url = new_queue(aws)
    for body in bodies:
        aws("sqs").send_message(QueueUrl=url, MessageBody=body)
    return url


def read_queue(sqs, url: str) -> list[dict]:
    """Every message body in the queue, decoded (deleted as read)."""
    bodies = []
    while out := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in out]
        for m in out:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def messages_left(sqs, url: str) -> int:
    """Messages in the queue, visible or not."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
