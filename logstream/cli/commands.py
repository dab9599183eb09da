"""The subcommands: decode, encode, report, fluentd, metrics. Each streams: a document is
written as soon as it is decoded (``encode --to kinesis|firehose|firehose-http`` excepted, whose
output is one JSON event holding every document)."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import LogstreamError
from ..models import LogEvent, LogStream
from ..ndjson import encode_line, event_lines
from .args import UsageError, field_flags
from .inputs import Options, iter_streams, open_sources
from .output import Output, Progress, TextFormat, one_line, say, use_color
from .replay import cmd_replay

if TYPE_CHECKING:
    from ..metrics import Pricing

__all__ = ["COMMANDS", "Reporter", "StrictStop"]


class StrictStop(Exception):
    """--strict: stop at the first input error."""


class Reporter:
    """Input errors: each on stderr as one line (control characters in names shown escaped),
    counted; --strict stops at the first."""

    def __init__(self, strict: bool, progress: Progress | None = None) -> None:
        self.strict = strict
        self.count = 0
        self.progress = progress

    def __call__(self, err: LogstreamError | str) -> None:
        self.count += 1
        if self.progress is not None:
            self.progress.done()
        say(f"logstream: {one_line(str(err))}\n")
        if self.strict:
            raise StrictStop


Command = Callable[[argparse.Namespace, Output, Reporter, Progress], None]


def _streams(
    args: argparse.Namespace, opts: Options, out: Output, report: Reporter, progress: Progress
) -> Iterator[LogStream]:
    opts.max_size = args.max_size
    opts.since, opts.until = args.since, args.until
    opts.groups = tuple(args.log_group)
    if opts.mode != "encode":
        opts.group = args.group or ""
    sources = open_sources(args.files, args.recursive, report)
    return iter_streams(sources, opts, report, progress, out.flush)


# ----------------------------------------------------------------------------------- decode
def _pipeline(args: argparse.Namespace) -> Any:
    """The processing pipeline of the decode flags, or None when no flag is given."""
    from ..errors import ConfigError
    from ..process import Pipeline, PipelineConfig

    try:
        pipeline = Pipeline(PipelineConfig.from_flags(args))
    except ConfigError as err:
        raise UsageError(str(err)) from None
    if not pipeline.enabled:
        return None
    return pipeline  # (with --documents, a usage error already: args.check)


def _processed(pipeline: Any, stream: LogStream) -> LogStream:
    """A stream of what the pipeline kept (messages as redacted or joined), for text output."""
    events = tuple(LogEvent(e.id, e.timestamp, e.message) for e in pipeline.process(stream))
    return LogStream(
        stream.message_type,
        stream.owner,
        stream.log_group,
        stream.log_stream,
        stream.subscription_filters,
        events,
        stream.policy_level,
    )


def cmd_decode(args: argparse.Namespace, out: Output, report: Reporter, progress: Progress) -> None:
    # on a terminal, event lines are text unless a flag adds fields that only NDJSON shows
    text = args.output == "text" or (args.output is None and not field_flags(args) and os.isatty(out.fd))
    fmt = TextFormat(use_color(out.fd)) if text else None
    opts = Options("decode", whole_documents=args.documents)
    pipeline = _pipeline(args)
    for stream in _streams(args, opts, out, report, progress):
        if pipeline is not None and not stream.is_control:
            if not (args.messages or fmt is not None):
                out.write(pipeline.lines(stream))
                progress.add_events(len(stream.log_events))
                continue
            stream = _processed(pipeline, stream)
        if args.documents:
            out.write(encode_line(stream.to_document()))
        elif stream.is_control and not args.include_control:
            continue
        elif args.messages:
            out.write(
                "".join(
                    m if m.endswith("\n") else m + "\n" for m in (e.message for e in stream.log_events)
                ).encode("utf-8", "surrogatepass")
            )
        elif fmt is not None:
            out.write(fmt.lines(stream))
        else:
            out.write(event_lines(stream))
        progress.add_events(len(stream.log_events))


# ----------------------------------------------------------------------------------- encode
_MAX_EVENTS = 10_000  # events per document, as CloudWatch's PutLogEvents


def _merge(streams: Iterable[LogStream]) -> Iterator[LogStream]:
    """Merge consecutive batches of one stream (decode's event lines, text runs) into documents
    of at most 10,000 events; decoded documents stay as they were."""
    pending: LogStream | None = None
    events: list[LogEvent] = []

    def key(s: LogStream) -> tuple[Any, ...]:
        return (s.message_type, s.owner, s.log_group, s.log_stream, s.subscription_filters, s.policy_level)

    for stream in streams:
        if (
            pending is not None
            and stream.raw is None
            and pending.raw is None
            and key(pending) == key(stream)
            and len(events) + len(stream.log_events) <= _MAX_EVENTS
        ):
            events.extend(stream.log_events)
            continue
        if pending is not None:
            yield _with_events(pending, events)
        pending, events = stream, list(stream.log_events)
    if pending is not None:
        yield _with_events(pending, events)


def _with_events(stream: LogStream, events: list[LogEvent]) -> LogStream:
    if len(events) == len(stream.log_events):
        return stream
    return LogStream(
        stream.message_type,
        stream.owner,
        stream.log_group,
        stream.log_stream,
        stream.subscription_filters,
        tuple(events),
        stream.policy_level,
    )


def _plain_group(args: argparse.Namespace) -> str:
    """--group; else a single --log-group without wildcards (what encode --log-group used to
    set, and the filter then lets those lines through); else the example group."""
    if args.group:
        return str(args.group)
    if len(args.log_group) == 1 and not any(c in args.log_group[0] for c in "*?["):
        return str(args.log_group[0])
    return "/aws/lambda/example"


def cmd_encode(args: argparse.Namespace, out: Output, report: Reporter, progress: Progress) -> None:
    from .. import testing

    if args.to == "s3" and os.isatty(out.fd) and not args.force:
        raise UsageError(
            "refusing to write binary gzip data to a terminal: redirect stdout (> object.gz) or pass --force"
        )
    opts = Options(
        "encode",
        owner=args.owner,
        group=_plain_group(args),
        stream=args.stream,
        subscription_filters=tuple(args.subscription_filter),
    )
    docs = _merge(_streams(args, opts, out, report, progress))
    if args.to == "lambda":
        for doc in docs:
            out.write(encode_line(testing.lambda_event(doc)))
    elif args.to == "s3":
        gz = _GzipWriter(out) if args.outer_gzip else None
        for doc in docs:
            member = testing.gzip_member(testing.document_json(doc))
            if gz is None:
                out.write(member)
            else:
                gz.write(member)
        if gz is not None:
            gz.close()
    else:
        collected = list(docs)
        if not collected:
            return
        if args.to == "kinesis":
            event = testing.kinesis_event(collected)
        elif args.to == "firehose":
            event = testing.firehose_event(collected)
        else:
            event = testing.firehose_http_body(collected)
        out.write(encode_line(event))


class _GzipWriter:
    """One gzip member written as it is compressed, with CloudWatch's header (mtime 0, OS 0):
    the same bytes as ``testing.gzip_member`` of the whole body."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.co = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.crc = 0
        self.size = 0
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00")

    def write(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.out.write(self.co.compress(data))

    def close(self) -> None:
        self.out.write(self.co.flush() + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))


# ----------------------------------------------------------------------------------- parsers
def _parser_streams(
    args: argparse.Namespace, out: Output, report: Reporter, progress: Progress
) -> Iterator[LogStream]:
    for stream in _streams(args, Options("parse"), out, report, progress):
        if not stream.is_control:
            progress.add_events(len(stream.log_events))
            yield stream


def _pricing(args: argparse.Namespace) -> Pricing:
    from ..metrics import Pricing

    return Pricing(architecture=args.architecture or "x86_64", price_per_gb_second=args.price_per_gb_second)


_CARRY = 1_000  # timeout / killed lines waiting for their REPORT
RECENT = 50_000  # report and status events remembered to count an event delivered twice once


class Recent(set[Any]):
    """The last ``limit`` keys added (hashes: a key holds the whole message), for ``seen=`` of
    :func:`~logstream.parsers.lambda_report.iter_reports` and
    :func:`~logstream.parsers.fluentd.iter_statuses` over an input of any size: the same event
    delivered twice (Firehose retried a batch, two subscription filters into one stream, a file
    given twice) counts once when the copies are at most ``limit`` such events apart.

    Example
    -------
    >>> r = Recent(2)
    >>> for key in ("a", "b", "c"):
    ...     r.add(key)
    >>> "a" in r, "b" in r, "c" in r
    (False, True, True)
    """

    def __init__(self, limit: int = RECENT) -> None:
        super().__init__()
        self.limit = limit
        self._order: collections.deque[int] = collections.deque()

    def __contains__(self, key: object) -> bool:
        return super().__contains__(hash(key))

    def add(self, key: Any) -> None:
        h = hash(key)
        if super().__contains__(h):
            return
        super().add(h)
        self._order.append(h)
        if len(self._order) > self.limit:
            self.discard(self._order.popleft())


def iter_stream_reports(streams: Iterable[LogStream], seen: Recent | None = None) -> Iterator[Any]:
    """Reports of each stream as it comes, with ``Task timed out`` and ``signal: killed`` lines
    of earlier streams remembered (the last 1,000 not yet matched) so a REPORT in a later
    document is still marked as a timeout or an OOM; a report event met again (``seen``, the
    last :data:`RECENT` by default) is not reported twice."""
    from ..models import MessageType
    from ..parsers.lambda_report import iter_reports, parse_killed, parse_timeout

    seen = Recent() if seen is None else seen
    carry: dict[str, LogEvent] = {}
    for stream in streams:
        batch = [stream]
        if carry:
            batch.insert(0, LogStream(MessageType.DATA_MESSAGE, "", "", "", (), tuple(carry.values())))
        for r in iter_reports(batch, seen=seen):
            carry.pop(r.request_id, None)
            yield r
        for e in stream.log_events:
            msg = e.message
            if "timed out" in msg or "signal: killed" in msg:
                rid = parse_timeout(msg) or parse_killed(msg)
                if rid is not None:
                    carry[rid] = e
                    if len(carry) > _CARRY:
                        del carry[next(iter(carry))]


def cmd_report(args: argparse.Namespace, out: Output, report: Reporter, progress: Progress) -> None:
    from ..summary import Summary

    reports = iter_stream_reports(_parser_streams(args, out, report, progress))
    if args.summary:
        summary = Summary(_pricing(args))
        for r in reports:
            summary.add(r)
        out.write(summary.table().encode())
        return
    for r in reports:
        out.write(encode_line(r.to_dict()))


def cmd_fluentd(args: argparse.Namespace, out: Output, report: Reporter, progress: Progress) -> None:
    from ..parsers.fluentd import iter_statuses

    seen = Recent()
    for stream in _parser_streams(args, out, report, progress):
        for status in iter_statuses(stream, on_error=report, seen=seen):
            out.write(encode_line(status.to_dict()))


def cmd_metrics(args: argparse.Namespace, out: Output, report: Reporter, progress: Progress) -> None:
    from .. import metrics
    from ..parsers.fluentd import iter_statuses
    from ..sinks.cloudwatch import put_metric_data_requests
    from ..sinks.emf import emf_documents

    pricing = _pricing(args)
    fluentd: list[Any] = []

    # plain log lines carry no time: their metrics are stamped with the time of the run (a
    # timestamp of 0 is 1970, which CloudWatch refuses)
    now_ms = int(time.time() * 1000)

    seen = Recent()

    def statuses_on_the_way() -> Iterator[LogStream]:
        for stream in _parser_streams(args, out, report, progress):
            for status in iter_statuses(stream, on_error=report, seen=seen):
                if status.timestamp is None:
                    status = dataclasses.replace(status, timestamp=now_ms)
                fluentd.extend(metrics.fluentd_data(status))
            yield stream

    # Metric data is aggregated per minute over the whole input: it is kept until the end.
    reports = (
        r if r.timestamp else dataclasses.replace(r, timestamp=now_ms)
        for r in iter_stream_reports(statuses_on_the_way())
    )
    lambda_data = [d for r in reports for d in metrics.report_data(r, pricing)]
    outputs = []
    if lambda_data:
        outputs.append((args.namespace or metrics.DEFAULT_LAMBDA_NAMESPACE, lambda_data))
    if fluentd:
        outputs.append((args.fluentd_namespace, fluentd))
    for namespace, data in outputs:
        if args.format == "emf":
            items = emf_documents(namespace, data)
        else:
            items = put_metric_data_requests(namespace, data)
        for item in items:
            out.write(encode_line(item))


COMMANDS: dict[str, Command] = {
    "decode": cmd_decode,
    "encode": cmd_encode,
    "report": cmd_report,
    "fluentd": cmd_fluentd,
    "metrics": cmd_metrics,
    "replay": cmd_replay,
}
