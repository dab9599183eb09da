"""``logstream replay SOURCE --to ARN``: re-drive what failed back through the forwarder's path.

Sources: the failure queue (an SQS queue URL: Lambda's on-failure records carry the original
event under ``requestPayload``, the handlers' dead letters their data, split ones in parts joined
here; a Kinesis event source mapping record carries no data: its batch is read again from the
stream) and anything ``decode`` reads, such as Firehose's error output in S3
(``s3://bucket/processing-failed/...``: ``rawData`` lines). Events go out as the forwarder sends
them (NDJSON event lines, batched, failed entries retried). A queue message is deleted only after
every one of its events was delivered; what is left is made visible again when the run ends. S3
objects are never deleted.

Every message the run holds (being delivered, waiting its turn, a part waiting for the others,
kept) stays hidden until the run deletes or releases it: at safe points between requests (before
each receive, each message, each call to the sink, each read of a Kinesis batch, each delete) the
hides that end within half the hide time are extended (ChangeMessageVisibilityBatch), and each
call to the sink is given a deadline before the first hide ends; what it did not attempt in time
is sent again once the hides are extended. No thread: nothing races the deliveries. A message
whose hide cannot be extended (refused, or SQS's 12-hour limit) is reported.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from ..envelopes import iter_log_streams
from ..errors import ConfigError, DecodeError
from ..limits import SQS_MAX_BATCH_ENTRIES
from ..models import LogStream
from ..ndjson import encode_line
from .args import UsageError

if TYPE_CHECKING:
    from ..sinks import Deadline, DeliveryResult

__all__ = ["cmd_replay", "is_queue_url"]

_QUEUE_URL = re.compile(r"^https?://[^/]+/\d{12}/[\w.-]+$")
_SQS_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")
_BATCH_STREAMS = 100  # documents sent per sink call when replaying files (bounded memory)
_RECEIVE_HIDE_S = 300  # a received message is hidden this long, extended while the run holds it
# Amazon SQS ChangeMessageVisibility: a message is hidden at most 12 hours after the receive that
# gave its receipt handle, extensions included (beyond that the request is refused).
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
# ChangeMessageVisibilityBatch takes SQS_MAX_BATCH_ENTRIES (10) entries, with Ids unique in the
# request ([A-Za-z0-9_-], up to 80 characters), and answers each in Successful or Failed.
_MAX_HIDE_S = 12 * 3600
_EXTEND_WITHIN = 0.5  # share of the hide time: a hide ending sooner is extended at a safe point
_EXTEND_GROUP = 0.75  # ... and with it every hide ending within this share (fewer, fuller batches)
_SEND_MARGIN = 0.25  # share of the hide time between a sink call's deadline and the first hide's end
# Every other call of a run (receive, GetRecords, delete, extend) ends in bounded time: at most
# _CALL_ATTEMPTS attempts of connect + read timeout, far below half the hide time.
_CONNECT_TIMEOUT_S, _READ_TIMEOUT_S, _CALL_ATTEMPTS = 5, 20, 3
_EMPTY_READS = 5  # GetRecords answers in a row with no record behind the tip: the range is read
_STOP_AFTER = 5  # messages in a row delivering nothing: stop (each would wait out the retries)
_WAIT_S = 1  # long poll: every SQS server is asked, so an empty answer means an empty queue


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
    filters = {
        "--since": args.since,
        "--until": args.until,
        "--log-group": args.log_group,
        "--group": args.group,
    }
    given = [flag for flag, value in filters.items() if value not in (None, [])]
    if queues and given:
        raise UsageError(
            f"{given[0]} applies to files and s3:// sources: a failure-queue message is replayed whole "
            "(it is deleted once all of its events are delivered)"
        )
    if queues or sink is not None:  # a dry run of files is the only replay that needs no AWS API
        try:
            import boto3  # noqa: F401
        except ImportError:
            report("replay needs boto3 (pip install boto3): nothing was read or sent")
            return
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


def _client(service: str, region: str | None) -> Any:
    """A boto3 client whose calls end in bounded time (see _CALL_ATTEMPTS): nothing but a call to
    the sink, which has its own deadline, runs long between two safe points of a run."""
    import boto3  # only for a queue source
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT_S,
        read_timeout=_READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": _CALL_ATTEMPTS},
    )
    return boto3.client(service, region_name=region, config=config)


def _sqs_client(url: str) -> Any:
    m = _SQS_REGION.match(url)
    return _client("sqs", m.group(1) if m else None)


def _replay_queue(
    url: str,
    sink: Any,
    args: argparse.Namespace,
    report: Any,
    *,
    hide_s: int = _RECEIVE_HIDE_S,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Replay the messages of the queue at ``url`` into ``sink`` (None: a dry run); the run's
    summary. Messages are hidden ``hide_s`` seconds at a time, measured on ``clock`` (tests
    pass a short hide or a clock of their own)."""
    totals: dict[str, Any] = {
        "source": url,
        "messages": 0,
        "events": 0,
        "records": 0,
        "deleted": 0,
        "kept": 0,
    }
    run = _QueueRun(url, sink, args.max_size, report, totals, hide_s=hide_s, clock=clock)
    try:
        run.sqs = _sqs_client(url)
        run.drain()
    except Exception as exc:  # noqa: BLE001 - botocore's errors (no queue, no endpoint, no region): one line
        report(f"{url}: {_reason(exc)}")
    finally:
        run.release()
    if sink is None:
        totals["dryRun"] = True
    return totals


class _DeadLetterBody(msgspec.Struct):
    """A message of the handlers' dead-letter queue (``logstream.sinks.sqs``)."""

    reason: str
    source: dict[str, Any]
    part: int
    parts: int
    data: str
    letter: str | None = None  # which letter a part belongs to (split letters)


_dead_letter = msgspec.json.Decoder(_DeadLetterBody)
_BATCH_INFO = ("KinesisBatchInfo", "DDBStreamBatchInfo", "SQSBatchInfo")


@dataclasses.dataclass(slots=True)
class _Hidden:
    """A message the run holds: its latest receipt handle, when the receive that gave it was sent
    and the earliest the hide can end (both on the run's clock), and whether it could no longer
    be kept hidden (reported once)."""

    handle: str
    received: float
    until: float
    lost: bool = False


class _QueueRun:
    """One pass over a queue: each message is handled once; a message not deleted is held
    (hidden) until the pass ends, then made visible again for the next run."""

    def __init__(
        self,
        url: str,
        sink: Any,
        max_size: int,
        report: Any,
        totals: dict[str, Any],
        *,
        hide_s: int = _RECEIVE_HIDE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url, self.sink, self.max_size, self.report, self.totals = url, sink, max_size, report, totals
        self.hide_s, self.clock = hide_s, clock
        self.sqs: Any = None
        self.seen: set[str] = set()
        self.hidden: dict[str, _Hidden] = {}  # message id -> hide, for every message not deleted
        self.first_end = math.inf  # no later than the first hide to end (of those not lost)
        self.parts: dict[tuple[str, str, int, str | None], dict[int, list[dict[str, Any]]]] = {}
        self.failing = 0  # messages in a row that delivered nothing: the destination is down
        self.last_error = ""

    def drain(self) -> None:
        while True:
            self.keep_hidden()
            sent = self.clock()
            received = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=self.hide_s,
                WaitTimeSeconds=_WAIT_S,  # a long poll: a short one may answer nothing while messages wait
            ).get("Messages", [])
            if not received:
                break
            for msg in received:  # held from now on, whether handled yet or not
                self.hidden[msg["MessageId"]] = _Hidden(msg["ReceiptHandle"], sent, sent + self.hide_s)
                self.first_end = min(self.first_end, sent + self.hide_s)
            for msg in received:
                if self.failing >= _STOP_AFTER:  # the messages not handled are visible again at the end
                    self.report(
                        f"{self.url}: stopped: the last {self.failing} messages delivered nothing"
                        f" (last error: {self.last_error}); the messages not read stay in the queue"
                    )
                    return
                mid = msg["MessageId"]
                if mid in self.seen:  # back after its hide could not be kept: handled already
                    continue
                self.seen.add(mid)
                self.totals["messages"] += 1
                self.keep_hidden()
                self.message(msg)
        self.incomplete_parts()

    # ------------------------------------------------------------------ holding messages hidden
    def keep_hidden(self) -> None:
        """A safe point (no request under way): extend the hides that end within half the hide
        time, and with them those ending within three quarters of it."""
        now = self.clock()
        if self.first_end - now >= self.hide_s * _EXTEND_WITHIN:
            return
        due = [
            (mid, h)
            for mid, h in self.hidden.items()
            if not h.lost and h.until - now < self.hide_s * _EXTEND_GROUP
        ]
        for start in range(0, len(due), SQS_MAX_BATCH_ENTRIES):
            self._extend(due[start : start + SQS_MAX_BATCH_ENTRIES])
        self.first_end = min((h.until for h in self.hidden.values() if not h.lost), default=math.inf)

    def _extend(self, chunk: list[tuple[str, _Hidden]]) -> None:
        now = self.clock()  # before the request: SQS's hide ends no sooner than now + seconds
        entries: list[dict[str, Any]] = []
        for i, (mid, h) in enumerate(chunk):
            seconds = min(self.hide_s, int(h.received + _MAX_HIDE_S - now))
            if h.until - now >= seconds:  # no longer than it is: SQS's limit is reached
                self.lose(mid, h, now, "SQS hides a message for at most 12 hours after it was received")
                continue
            entries.append({"Id": str(i), "ReceiptHandle": h.handle, "VisibilityTimeout": seconds})
        if not entries:
            return
        try:
            answer = self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - botocore's errors: reported, the run goes on
            for entry in entries:
                mid, h = chunk[int(entry["Id"])]
                self.lose(mid, h, now, _reason(exc))
            return
        failed = {str(f.get("Id")): f for f in answer.get("Failed", [])}
        for entry in entries:
            mid, h = chunk[int(entry["Id"])]
            if entry["Id"] in failed:
                f = failed[entry["Id"]]
                self.lose(mid, h, now, f"{f.get('Code', '?')}: {f.get('Message', '')}".rstrip(": "))
            else:
                h.until = now + entry["VisibilityTimeout"]

    def lose(self, mid: str, h: _Hidden, now: float, why: str) -> None:
        h.lost = True
        self.totals["notHidden"] = self.totals.get("notHidden", 0) + 1
        self.report(
            f"{self.url}: message {mid}: could not be kept hidden ({why}): it is visible again in the"
            f" queue within {max(0, math.ceil(h.until - now))} s, so another reader (a second replay,"
            " the queue's redrive) may take it while this run holds it and its events may be sent twice"
        )

    def deadline(self) -> Deadline:
        """When a call to the sink must have ended: well before the first hide does."""
        from ..sinks import Deadline

        return Deadline(self.first_end - self.hide_s * _SEND_MARGIN, self.clock)

    def send(self, streams: list[LogStream]) -> DeliveryResult:
        """Send ``streams`` without letting a hide run out: each call to the sink ends before the
        deadline, the records it did not send in time go again once the hides are extended (for
        as long as each call delivers some)."""
        from ..sinks import Record
        from ..sinks.base import DEADLINE_EXCEEDED

        def late(f: Any) -> bool:
            return f.error_code == DEADLINE_EXCEEDED and isinstance(f.entry, Record)

        self.keep_hidden()
        result: DeliveryResult = self.sink.send(streams, self.deadline())
        while again := [f.entry for f in result.failed if late(f)]:
            self.keep_hidden()
            more: DeliveryResult = self.sink.send_raw(again, self.deadline())
            result.failed = [f for f in result.failed if not late(f)]
            result.merge(more)
            if not more.delivered:
                break
        return result

    # ------------------------------------------------------------------ messages
    def message(self, msg: dict[str, Any]) -> None:
        name = f"{self.url}: message {msg['MessageId']}"
        body = msg.get("Body", "")
        letter = _as_dead_letter(body)
        if letter is not None and letter.parts > 1:
            self.dead_letter_part(msg, letter)
            return
        if letter is not None:
            body = letter.data
        else:
            batch = _batch_info(body)
            if batch is not None and batch[0] == "requestContext":
                self.keep(
                    [msg],
                    f"{name}: a Lambda on-failure record without its requestPayload ({_context(batch[1])}):"
                    " Lambda leaves the event out of a record too large for the destination, so it"
                    " holds nothing to replay; the events are still in their log group (kept in the queue)",
                )
                return
            if batch is not None:
                self.batch_record(msg, name, *batch)
                return
        self.deliver([msg], name, body)

    def deliver(self, msgs: list[dict[str, Any]], name: str, body: Any) -> None:
        """Decode ``body`` and send its events; delete ``msgs`` when all of them went out."""
        errors: list[DecodeError] = []
        streams = [
            s
            for s in iter_log_streams(body, max_size=self.max_size, source=name, on_error=errors.append)
            if not s.is_control
        ]
        if errors:
            self.keep(msgs, *(f"{err} (kept in the queue)" for err in errors))
            return
        self.totals["events"] += sum(len(s.log_events) for s in streams)
        if self.sink is None:  # a dry run: left as found (made visible at the end), not counted as kept
            return
        if streams:
            result = self.send(streams)
            self.totals["records"] += result.delivered
            self.failing = self.failing + 1 if result.failed and not result.delivered else 0
            if result.failed:
                why = Counter((f.error_code, f.error_message) for f in result.failed)
                self.last_error = ": ".join(next(iter(why)))
                self.keep(
                    msgs,
                    *(
                        f"{name}: {n} record{'s' * (n > 1)} not delivered: {code}: {text} (kept in the queue)"
                        for (code, text), n in why.items()
                    ),
                )
                return
        for msg in msgs:
            self.delete(msg)

    def delete(self, msg: dict[str, Any]) -> None:
        self.keep_hidden()
        mid = msg["MessageId"]
        try:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=self.hidden[mid].handle)
        except Exception as exc:  # noqa: BLE001 - botocore's errors: reported, the run goes on
            self.keep(
                [msg],
                f"{self.url}: message {mid}: delivered but not deleted: {_reason(exc)}"
                " (a later run sends its events again)",
            )
            return
        del self.hidden[mid]
        self.totals["deleted"] += 1

    def keep(self, msgs: list[dict[str, Any]], *why: str) -> None:
        """Leave ``msgs`` in the queue (hidden until the run ends), saying why."""
        for line in why:
            self.report(line)
        self.totals["kept"] += len(msgs)

    def batch_record(self, msg: dict[str, Any], name: str, key: str, info: dict[str, Any]) -> None:
        """An event source mapping's on-failure record: a Kinesis batch is read again from its
        stream and replayed; any other holds nothing to replay (kept, named)."""
        where = ", ".join(f"{k} {v}" for k, v in info.items())
        what = f"{name}: an event source mapping on-failure record ({key}: {where})"
        if key != "KinesisBatchInfo":
            self.keep(
                [msg], f"{what} holds no log data and names no stream logstream reads (kept in the queue)"
            )
            return
        try:
            records = _read_kinesis_batch(info, between=self.keep_hidden)
        except Exception as exc:  # noqa: BLE001 - botocore's errors, a trimmed range: one line
            self.keep(
                [msg],
                f"{what}: its records cannot be read again from the stream: {_reason(exc)}"
                " (kept in the queue)",
            )
            return
        self.totals["kinesisRecords"] = self.totals.get("kinesisRecords", 0) + len(records)
        records_b64 = [{"Data": base64.b64encode(data).decode()} for data in records]
        self.deliver([msg], what, {"Records": records_b64})  # as `aws kinesis get-records` prints them

    def dead_letter_part(self, msg: dict[str, Any], letter: _DeadLetterBody) -> None:
        key = (letter.reason, msgspec.json.encode(letter.source).decode(), letter.parts, letter.letter)
        group = self.parts.setdefault(key, {})
        group.setdefault(letter.part, []).append({**msg, "_data": letter.data})
        if len(group) < letter.parts or not all(1 <= p <= letter.parts for p in group):
            return
        del self.parts[key]
        msgs = [m for p in sorted(group) for m in group[p]]
        name = f"{self.url}: dead letter {letter.reason!r} ({letter.parts} parts)"
        if any(len(v) > 1 for v in group.values()):
            self.keep(
                msgs,
                f"{name}: several dead letters with this reason and source are split the same way:"
                " their parts cannot be told apart (kept in the queue)",
            )
            return
        self.deliver(msgs, name, "".join(group[p][0]["_data"] for p in sorted(group)))

    def incomplete_parts(self) -> None:
        for (reason, _, parts, _), group in self.parts.items():
            missing = [str(p) for p in range(1, parts + 1) if p not in group]
            msgs = [m for v in group.values() for m in v]
            self.keep(
                msgs,
                f"{self.url}: dead letter {reason!r}: missing part {', '.join(missing)} of {parts}"
                f" (the {len(msgs)} present are kept in the queue)",
            )
        self.parts.clear()

    def release(self) -> None:
        """Make the messages left in the queue visible again, for the next run (those that could
        not be kept hidden are already reported)."""
        if self.sqs is None:
            return
        left = [(mid, h) for mid, h in self.hidden.items() if not h.lost]
        for start in range(0, len(left), SQS_MAX_BATCH_ENTRIES):
            chunk = left[start : start + SQS_MAX_BATCH_ENTRIES]
            entries = [
                {"Id": str(i), "ReceiptHandle": h.handle, "VisibilityTimeout": 0}
                for i, (_, h) in enumerate(chunk)
            ]
            try:
                answer = self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except Exception as exc:  # noqa: BLE001 - they show again when their hide runs out
                n = len(left) - start
                self.report(
                    f"{self.url}: {n} message{'s' * (n > 1)} kept, but hidden for up to {self.hide_s} s:"
                    f" {_reason(exc)}"
                )
                return
            for f in answer.get("Failed", []):
                mid = chunk[int(f["Id"])][0]
                self.report(
                    f"{self.url}: message {mid}: kept, but hidden for up to {self.hide_s} s:"
                    f" {f.get('Code', '?')}: {f.get('Message', '')}"
                )


def _as_dead_letter(body: str) -> _DeadLetterBody | None:
    if not body.startswith('{"reason":'):
        return None
    try:
        return _dead_letter.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _batch_info(body: str) -> tuple[str, dict[str, Any]] | None:
    """``(key, info)`` of an event source mapping's on-failure record (``KinesisBatchInfo``
    ...: where its batch was, never its data), or ``None`` for any other body."""
    if not any(k in body for k in _BATCH_INFO) and '"requestContext"' not in body:
        return None
    try:
        record = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(record, dict) or "requestPayload" in record:
        return None
    for key in _BATCH_INFO:
        info = record.get(key)
        if isinstance(info, dict):
            return key, info
    context = record.get("requestContext")
    if isinstance(context, dict) and "version" in record:  # an async invocation's record
        return "requestContext", context
    return None


def _context(context: dict[str, Any]) -> str:
    return ", ".join(f"{k} {context[k]}" for k in ("functionArn", "requestId", "condition") if k in context)


def _read_kinesis_batch(info: dict[str, Any], between: Callable[[], None] = lambda: None) -> list[bytes]:
    """The data of the records ``startSequenceNumber`` to ``endSequenceNumber`` of a shard, read
    again from the stream (they are there for its retention period, 24 hours by default);
    ``between()`` runs before each request (a safe point of the run)."""
    arn, shard = str(info.get("streamArn", "")), str(info.get("shardId", ""))
    start, end = str(info.get("startSequenceNumber", "")), str(info.get("endSequenceNumber", ""))
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("stream/") or not shard or not start.isdigit():
        raise ValueError("the record does not name a stream, a shard and a first sequence number")
    last = int(end) if end.isdigit() else None
    kinesis = _client("kinesis", parts[3] or None)
    name = parts[5].split("/", 1)[1]
    between()
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=start
    )["ShardIterator"]
    out: list[bytes] = []
    empty = 0
    while iterator and empty < _EMPTY_READS:
        between()
        got = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        records = got.get("Records", [])
        if out == [] and records and records[0]["SequenceNumber"] != start:
            raise ValueError(
                f"record {start} is no longer in the stream (the first one there is"
                f" {records[0]['SequenceNumber']}): past the stream's retention"
            )
        for rec in records:
            if last is not None and int(rec["SequenceNumber"]) > last:
                return out
            out.append(rec["Data"])
        if last is not None and out and records and int(records[-1]["SequenceNumber"]) == last:
            return out
        empty = 0 if records else empty + 1
        if not records and not got.get("MillisBehindLatest"):
            break  # at the tip of the shard
        iterator = got.get("NextShardIterator")
    if not out:
        raise ValueError(f"record {start} is no longer in the stream: past the stream's retention")
    return out


def _reason(exc: Exception) -> str:
    from .s3 import _reason as reason

    return reason(exc)
