"""``logstream replay SOURCE --to ARN``: re-drive what failed back through the forwarder's path.

Sources: the failure queue (an SQS queue URL: Lambda's on-failure records carry the original
event under ``requestPayload``) and anything ``decode`` reads, such as Firehose's error output
in S3 (``s3://bucket/processing-failed/...``: ``rawData`` lines). Events go out as the
forwarder sends them (NDJSON event lines, batched, failed entries retried). A queue message is
deleted only after every one of its events was delivered; S3 objects are never deleted.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from typing import Any

from ..envelopes import iter_log_streams
from ..errors import ConfigError, DecodeError
from ..models import LogStream
from ..ndjson import encode_line
from .args import UsageError

__all__ = ["cmd_replay", "is_queue_url"]

_QUEUE_URL = re.compile(r"^https?://[^/]+/\d{12}/[\w.-]+$")
_SQS_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")
_BATCH_STREAMS = 100  # documents sent per sink call when replaying files (bounded memory)
_RECEIVE_HIDE_S = 300  # a received message stays hidden this long: each is seen once per run


def is_queue_url(text: str) -> bool:
    """True for an SQS queue URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``)."""
    return bool(_QUEUE_URL.match(text))


def cmd_replay(args: argparse.Namespace, out: Any, report: Any, progress: Any) -> None:
    from ..sinks import sink_for_destination

    if not args.files:
        raise UsageError("replay needs a SOURCE: a failure queue URL or s3://bucket/prefix/ (or files)")
    sink: Any
    try:
        sink = sink_for_destination(args.to)  # clients are built on first send: none in a dry run
    except ConfigError:
        raise UsageError(
            f"--to {args.to!r} is not a Kinesis stream or Firehose delivery stream ARN"
        ) from None
    if args.dry_run:
        sink = None
    queues = [f for f in args.files if is_queue_url(f)]
    for url in queues:
        out.write(encode_line(_replay_queue(url, sink, args, report)))
    files = [f for f in args.files if not is_queue_url(f)]
    if files:
        from .commands import _streams
        from .inputs import Options

        args.files = files
        streams = (s for s in _streams(args, Options("decode"), out, report, progress) if not s.is_control)
        out.write(encode_line(_replay_streams(", ".join(files), streams, sink, report)))


def _replay_streams(source: str, streams: Iterator[LogStream], sink: Any, report: Any) -> dict[str, Any]:
    totals: dict[str, Any] = {"source": source, "documents": 0, "events": 0, "records": 0, "failed": 0}
    batch: list[LogStream] = []

    def flush() -> None:
        totals["documents"] += len(batch)
        totals["events"] += sum(len(s.log_events) for s in batch)
        if sink is not None and batch:
            result = sink.send(batch)
            totals["records"] += result.delivered
            totals["failed"] += len(result.failed)
            for failure in result.failed:
                report(f"{source}: not delivered: {failure.error_code}: {failure.error_message}")
        batch.clear()

    for stream in streams:
        batch.append(stream)
        if len(batch) >= _BATCH_STREAMS:
            flush()
    flush()
    if sink is None:
        totals["dryRun"] = True
    return totals


def _replay_queue(url: str, sink: Any, args: argparse.Namespace, report: Any) -> dict[str, Any]:
    import boto3  # only for a queue source

    m = _SQS_REGION.match(url)
    sqs = boto3.client("sqs", region_name=m.group(1) if m else None)
    totals: dict[str, Any] = {
        "source": url,
        "messages": 0,
        "events": 0,
        "records": 0,
        "deleted": 0,
        "kept": 0,
    }
    seen: set[str] = set()
    while True:
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=_RECEIVE_HIDE_S, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [msg for msg in received if msg["MessageId"] not in seen]
        if not fresh:
            break
        for msg in fresh:
            seen.add(msg["MessageId"])
            totals["messages"] += 1
            if _replay_message(url, msg, sink, max_size=args.max_size, report=report, totals=totals):
                if sink is not None:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
                    totals["deleted"] += 1
            else:
                totals["kept"] += 1
    if sink is None:
        totals["dryRun"] = True
    return totals


def _replay_message(
    url: str, msg: dict[str, Any], sink: Any, *, max_size: int, report: Any, totals: dict[str, Any]
) -> bool:
    """Decode and deliver one message's events; True when all of them went out (or would)."""
    name = f"{url}: message {msg['MessageId']}"
    errors: list[DecodeError] = []
    streams = [
        s
        for s in iter_log_streams(msg.get("Body", ""), max_size=max_size, source=name, on_error=errors.append)
        if not s.is_control
    ]
    for err in errors:
        report(f"{err} (kept in the queue)")
    if errors:
        return False
    totals["events"] += sum(len(s.log_events) for s in streams)
    if sink is None or not streams:
        return True
    result = sink.send(streams)
    totals["records"] += result.delivered
    for failure in result.failed:
        report(f"{name}: not delivered: {failure.error_code}: {failure.error_message} (kept in the queue)")
    return not result.failed
