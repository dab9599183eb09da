"""``s3://bucket/key`` and ``s3://bucket/prefix/`` input, streamed; boto3 is imported only here.

boto3's own configuration applies: credentials, region, and ``AWS_ENDPOINT_URL`` (another
endpoint, such as a local one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .inputs import Source

__all__ = ["s3_sources", "parse_url"]


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``."""
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def s3_sources(url: str, report: Callable[[str], None]) -> Iterator[Source]:
    """One source per object: the object itself, or every object under a prefix (a URL ending in
    ``/``, or the bucket alone) in key order. Each object is opened only when it is read."""
    bucket, key = parse_url(url)
    if not bucket:
        report(f"{url}: no bucket in the URL (s3://bucket/key or s3://bucket/prefix/)")
        return
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        report(f"{url}: s3:// input needs boto3 (pip install boto3)")
        return
    try:
        session = boto3.session.Session()
        client = session.client("s3", region_name=session.region_name or "us-east-1")
        if key and not key.endswith("/"):
            keys: Iterator[str] = iter([key])
        else:
            keys = _list(client, bucket, key)
        found = False
        for k in keys:
            found = True
            name = f"s3://{bucket}/{k}"
            try:
                body = client.get_object(Bucket=bucket, Key=k)["Body"]
            except (ClientError, BotoCoreError) as exc:
                report(f"{name}: {_reason(exc)}")
                continue
            yield Source(name, body.read, body.close)
        if not found:
            report(f"{url}: no objects under this prefix")
    except (ClientError, BotoCoreError, ValueError) as exc:  # ValueError: AWS_ENDPOINT_URL not a URL
        report(f"{url}: {_reason(exc)}")


def _list(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):  # S3 lists keys in UTF-8 binary order
            if not obj["Key"].endswith("/"):  # "folder" placeholder objects
                yield obj["Key"]


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code:
            return f"{code}: {message}" if message else str(code)
    return str(exc)
