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
