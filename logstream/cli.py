"""``logstream``: CloudWatch Logs subscription data in, NDJSON out, offline.

Exit status: 0 all input handled, 1 some input could not be read or decoded (each failure on
stderr with its place and step), 2 usage error, 141 output pipe closed early (like ``cat``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

import msgspec

from .decode import DEFAULT_MAX_SIZE, is_compressed, iter_json_values, payload_bytes
from .envelopes import iter_log_streams
from .errors import DecodeError, EnvelopeError, LogstreamError
from .models import LogEvent, LogStream, MessageType
from .ndjson import encode_line, event_lines

if TYPE_CHECKING:
    from .metrics import Pricing
    from .parsers.lambda_report import InvocationReport

__all__ = ["main"]

_enc = msgspec.json.Encoder()


class _StrictStop(Exception):
    """--strict: stop at the first input error."""


class Output:
    """Buffered binary stdout writer with line-break-safe JSON lines."""

    def __init__(self, stream: IO[bytes], limit: int = 1 << 20) -> None:
        self.stream = stream
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            data = b"".join(self.parts)
            self.parts.clear()
            self.size = 0
            self.stream.write(data)
        self.stream.flush()


class Reporter:
    """Collects input errors: prints each to stderr, remembers that one happened."""

    def __init__(self, strict: bool, stream: IO[str] | None = None) -> None:
        self.strict = strict
        self.count = 0
        self.stream = stream or sys.stderr

    def __call__(self, err: LogstreamError | str) -> None:
        self.count += 1
        print(f"logstream: {err}", file=self.stream)
        if self.strict:
            raise _StrictStop


# ----------------------------------------------------------------------------------- input
def read_inputs(files: list[str], report: Reporter) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) for every FILE; ``-`` or none reads stdin (binary)."""
    for name in files or ["-"]:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer.read()
            continue
        try:
            with open(name, "rb") as fh:
                yield name, fh.read()
        except OSError as exc:
            report(f"{name}: {exc.strerror or exc}")


PlainLines = Callable[[list[str]], Iterator[LogStream]]
_B64_LINE = re.compile(rb"^[A-Za-z0-9+/]+={0,2}$")


def iter_streams(
    args: argparse.Namespace, report: Reporter, plain_lines: PlainLines | None = None
) -> Iterator[LogStream]:
    for name, data in read_inputs(args.files, report):
        yield from _guess(data, name, args.max_size, report, plain_lines)


def _guess(
    data: bytes, name: str, max_size: int, report: Reporter, plain: PlainLines | None
) -> Iterator[LogStream]:
    """What the input holds: compressed data or JSON for the library; otherwise text lines, each
    a base64 payload, a JSON document, or (for the parsers) a plain log line."""
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if is_compressed(text):
        yield from iter_log_streams(text, max_size=max_size, source=name, on_error=report)
    elif text.lstrip()[:1] in (b"{", b"["):
        yield from _json_values(text, name, max_size, report, plain, {})
    else:
        yield from _lines(text, name, max_size, report, plain)


def _json_values(
    data: bytes, name: str, max_size: int, report: Reporter, plain: PlainLines | None, where: dict[str, Any]
) -> Iterator[LogStream]:
    for place, value in iter_json_values(data):
        here = {**where, **place}
        if isinstance(value, DecodeError):
            report(value.locate(source=name, **here))
            continue
        errors: list[DecodeError] = []
        streams = list(iter_log_streams(value, max_size=max_size, source=name, on_error=errors.append))
        if plain is not None and not streams and errors and all(isinstance(e, EnvelopeError) for e in errors):
            yield from plain([_enc.encode(value).decode()])  # parsers read other JSON as a log line
            continue
        yield from streams
        for err in errors:
            report(err.locate(**here))


def _lines(
    data: bytes, name: str, max_size: int, report: Reporter, plain: PlainLines | None
) -> Iterator[LogStream]:
    pending: list[str] = []
    for lineno, line in enumerate(data.split(b"\n"), 1):
        line = line.strip()
        if not line:
            continue
        raw = payload_bytes(line) if _B64_LINE.match(line) else None
        if raw is not None or (line[:1] == b"{" and (plain is None or line[-1:] == b"}")):
            if pending and plain is not None:
                yield from plain(pending)
                pending = []
            if raw is not None:
                on_error = lambda e, n=lineno: report(e.locate(line=n))  # noqa: E731
                yield from iter_log_streams(raw, max_size=max_size, source=name, on_error=on_error)
            else:
                yield from _json_values(line, name, max_size, report, plain, {"line": lineno})
        elif plain is not None:
            pending.append(line.decode("utf-8", "replace"))
        else:
            report(EnvelopeError("neither JSON nor a base64 payload").locate(source=name, line=lineno))
    if pending and plain is not None:
        yield from plain(pending)


# ----------------------------------------------------------------------------------- decode
def cmd_decode(args: argparse.Namespace, out: Output, report: Reporter) -> None:
    for stream in iter_streams(args, report):
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
        else:
            out.write(event_lines(stream))


# ----------------------------------------------------------------------------------- encode
def _plain_to_streams(args: argparse.Namespace) -> Callable[[list[str]], Iterator[LogStream]]:
    import time

    def plain(lines: list[str]) -> Iterator[LogStream]:
        now = int(time.time() * 1000)
        from .testing import event_id

        yield LogStream(
            MessageType.DATA_MESSAGE,
            args.owner,
            args.log_group,
            args.log_stream,
            tuple(args.subscription_filter),
            tuple(LogEvent(event_id(now, i), now, line + "\n") for i, line in enumerate(lines)),
        )

    return plain


def _merge(streams: Iterable[LogStream]) -> Iterator[LogStream]:
    """Merge consecutive one-stream batches (e.g. decode's NDJSON lines) back into documents."""
    pending: LogStream | None = None
    events: list[LogEvent] = []

    def key(s: LogStream) -> tuple[Any, ...]:
        return (s.message_type, s.owner, s.log_group, s.log_stream, s.subscription_filters, s.policy_level)

    for stream in streams:
        if pending is not None and key(pending) == key(stream) and stream.raw is None and pending.raw is None:
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


def cmd_encode(args: argparse.Namespace, out: Output, report: Reporter) -> None:
    from . import testing

    docs = list(_merge(iter_streams(args, report, plain_lines=_plain_to_streams(args))))
    if not docs:
        return
    if args.to == "lambda":
        for doc in docs:
            out.write(encode_line(testing.lambda_event(doc)))
    elif args.to == "kinesis":
        out.write(encode_line(testing.kinesis_event(docs)))
    elif args.to == "firehose":
        out.write(encode_line(testing.firehose_event(docs)))
    elif args.to == "firehose-http":
        out.write(encode_line(testing.firehose_http_body(docs)))
    else:  # s3: binary, gzip members back to back
        out.write(testing.s3_object(docs, outer_gzip=args.outer_gzip))


# ----------------------------------------------------------------------------------- parsers
def _plain_events(lines: list[str]) -> Iterator[LogStream]:
    """Plain log lines (no CloudWatch envelope): one stream, no group, time unknown (0)."""
    yield LogStream(MessageType.DATA_MESSAGE, "", "", "", (), tuple(LogEvent("", 0, line) for line in lines))


def _parser_streams(args: argparse.Namespace, report: Reporter) -> Iterator[LogStream]:
    return _merge(s for s in iter_streams(args, report, plain_lines=_plain_events) if not s.is_control)


def _pricing(args: argparse.Namespace) -> Pricing:
    from .metrics import Pricing

    return Pricing(architecture=args.architecture, price_per_gb_second=args.price_per_gb_second)


def cmd_report(args: argparse.Namespace, out: Output, report: Reporter) -> None:
    from .parsers.lambda_report import iter_reports

    streams = list(_parser_streams(args, report))
    reports = list(iter_reports(streams))
    if args.summary:
        out.write(summary_table(reports, _pricing(args)).encode())
        return
    for r in reports:
        out.write(encode_line(r.to_dict()))


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    import math

    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary_table(reports: list[InvocationReport], pricing: Pricing) -> str:
    """The per-function table of ``logstream report --summary``."""
    from .metrics import estimated_cost

    by_fn: dict[str, list[InvocationReport]] = {}
    for r in reports:
        by_fn.setdefault(r.function_name or r.log_group or "(unknown)", []).append(r)
    header = (
        "function",
        "invocations",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max MB",
        "mem %",
        "cold",
        "timeouts",
        "OOMs",
        "est. cost $",
    )
    rows = []
    for fn in sorted(by_fn):
        rs = by_fn[fn]
        durations = sorted(r.duration_ms for r in rs)
        mems = [r.max_memory_used_mb for r in rs if r.max_memory_used_mb is not None]
        utils = [u for u in (r.memory_utilization for r in rs) if u is not None]
        costs = [c for c in (estimated_cost(r, pricing) for r in rs) if c is not None]
        rows.append(
            (
                fn,
                str(len(rs)),
                f"{_percentile(durations, 50):.2f}",
                f"{_percentile(durations, 95):.2f}",
                f"{_percentile(durations, 99):.2f}",
                str(max(mems)) if mems else "-",
                f"{max(utils):.0f}" if utils else "-",
                str(sum(r.cold_start for r in rs)),
                str(sum(r.timeout for r in rs)),
                str(sum(r.out_of_memory for r in rs)),
                f"{sum(costs):.8f}" if costs else "-",
            )
        )
    if not rows:
        return "no invocation reports found\n"
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(header), *(fmt(r) for r in rows)]) + "\n"


def cmd_fluentd(args: argparse.Namespace, out: Output, report: Reporter) -> None:
    from .parsers.fluentd import iter_statuses

    for status in iter_statuses(_parser_streams(args, report), on_error=report):
        out.write(encode_line(status.to_dict()))


def cmd_metrics(args: argparse.Namespace, out: Output, report: Reporter) -> None:
    from . import metrics
    from .parsers.fluentd import iter_statuses
    from .parsers.lambda_report import iter_reports

    streams = list(_parser_streams(args, report))
    pricing = _pricing(args)
    lambda_data = [d for r in iter_reports(streams) for d in metrics.report_data(r, pricing)]
    fluentd = [d for s in iter_statuses(streams, on_error=report) for d in metrics.fluentd_data(s)]
    outputs = []
    if lambda_data:
        outputs.append((args.namespace or metrics.DEFAULT_LAMBDA_NAMESPACE, lambda_data))
    if fluentd:
        outputs.append((args.fluentd_namespace, fluentd))
    for namespace, data in outputs:
        if args.format == "emf":
            items = metrics.emf_documents(namespace, data)
        else:
            items = metrics.put_metric_data_requests(namespace, data)
        for item in items:
            out.write(encode_line(item))


# ----------------------------------------------------------------------------------- parser
def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib").rstrip("b")
    mult = units.get(t[-1:], 1)
    try:
        value = int(float(t[:-1] if t[-1:] in units else t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logstream",
        description="Decode CloudWatch Logs subscription data (any transport) to NDJSON.",
        epilog="Exit status: 0 ok, 1 some input could not be decoded, 2 usage error.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"logstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("files", nargs="*", metavar="FILE", help="input files; none or - reads stdin")
    common.add_argument("--strict", action="store_true", help="stop at the first input error")
    common.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help="cap on the decompressed size of one payload (default 256M)",
    )

    p = sub.add_parser(
        "decode", parents=[common], help="one NDJSON line per log event", description="Decode to NDJSON."
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--documents", action="store_true", help="one decoded document per line, as sent")
    mode.add_argument("--messages", action="store_true", help="only the original log text")
    p.add_argument("--include-control", action="store_true", help="also print control messages' events")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser(
        "encode",
        parents=[common],
        help="build a Lambda, Kinesis or Firehose event from documents, events or log lines",
        description="The inverse of decode: payloads exactly as CloudWatch writes them (gzip, mtime 0).",
    )
    p.add_argument(
        "--to",
        choices=["lambda", "kinesis", "firehose", "firehose-http", "s3"],
        default="lambda",
        help="event shape (default lambda: one event per document, one per line)",
    )
    p.add_argument("--outer-gzip", action="store_true", help="with --to s3: gzip the object again")
    p.add_argument("--log-group", default="/aws/lambda/example", help="for plain log lines")
    p.add_argument("--log-stream", default="2024/01/01/[$LATEST]logstream", help="for plain log lines")
    p.add_argument("--owner", default="123456789012", help="for plain log lines")
    p.add_argument("--subscription-filter", action="append", default=[], help="for plain log lines")
    p.set_defaults(func=cmd_encode)

    def parser_command(
        name: str, func: Callable[[argparse.Namespace, Output, Reporter], None], help_text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def pricing_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--architecture",
            choices=["x86_64", "arm64"],
            default="x86_64",
            help="for the estimated cost (default x86_64)",
        )
        p.add_argument(
            "--price-per-gb-second",
            type=float,
            default=None,
            metavar="USD",
            help="override the us-east-1 list price (other regions, discounts)",
        )

    p = parser_command("report", cmd_report, "one NDJSON line per Lambda invocation report")
    p.add_argument("--summary", action="store_true", help="a per-function table instead of NDJSON")
    pricing_options(p)
    parser_command("fluentd", cmd_fluentd, "one NDJSON line per fluentd plugin status")
    p = parser_command("metrics", cmd_metrics, "the metric data the handlers would send")
    p.add_argument(
        "--format",
        choices=["emf", "put-metric-data"],
        default="emf",
        help="EMF documents (default) or PutMetricData request parameters, one per line",
    )
    p.add_argument("--namespace", default=None, help="namespace of Lambda metrics (default Logstream/Lambda)")
    p.add_argument("--fluentd-namespace", default="fluentd", help="namespace of fluentd metrics")
    pricing_options(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(sys.stdout.buffer)
    report = Reporter(strict=args.strict)
    try:
        try:
            args.func(args, out, report)
        except _StrictStop:
            pass
        except LogstreamError as err:  # e.g. a ConfigError from an option value
            report.strict = False
            report(err)
        out.flush()
    except BrokenPipeError:
        # The reader went away (| head). Point stdout at /dev/null so the interpreter's own
        # flush at exit does not raise again, and leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    return 1 if report.count else 0
