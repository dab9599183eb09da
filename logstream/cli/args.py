"""Argument parsing: one parser per subcommand, no abbreviations, did-you-mean on every error."""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from ..decode import DEFAULT_MAX_SIZE
from .output import OutputClosed, say, write_all

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "USAGE_EXIT",
    "SUBCOMMANDS",
    "UsageError",
    "build_parser",
    "check",
    "top_help",
    "parse_size",
    "parse_time",
    "usage_error",
]

USAGE_EXIT = 2

EXIT_CODES = """\
exit status:
  0    all input handled
  1    some input could not be read or decoded (each failure on stderr), or output failed
  2    usage error
  130  interrupted (Ctrl-C): ends by SIGINT, which the shell reports as 130
  141  the reader closed the output pipe (| head), quietly, like cat"""

INPUTS = """\
input (detected per document, any mix): Lambda, Kinesis and Firehose events, Firehose HTTP
bodies and S3 objects (gzip members), one base64 payload per line, raw gzip/zlib, decoded
documents (pretty, compact, glued, NDJSON), logstream decode's NDJSON, aws logs
filter-log-events/get-log-events JSON, aws logs tail text, aws kinesis get-records JSON,
failure-queue messages (aws sqs receive-message, Lambda on-failure records), Firehose error
output. FILE may be -, a directory with -r, s3://bucket/key or s3://bucket/prefix/."""

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "decode": (
        "one NDJSON line per log event (readable lines on a terminal)",
        """\
examples:
  logstream decode event.json                     # a Lambda subscription event
  aws s3 cp s3://bucket/firehose/obj.gz - | logstream decode
  logstream decode -r s3://bucket/2024/05/01/ --log-group '/aws/lambda/*' --since 2h
  logstream decode --messages payload.b64          # the original log text only
  logstream decode -o ndjson events.json | jq .message""",
    ),
    "encode": (
        "build a Lambda, Kinesis or Firehose event (or an S3 object) from documents or log lines",
        """\
examples:
  printf 'START\\nREPORT ...\\n' | logstream encode --group /aws/lambda/f > event.json
  logstream decode archive.gz | logstream encode --to kinesis > kinesis-event.json
  logstream encode --to s3 docs.ndjson > object.gz    # binary: refused on a terminal""",
    ),
    "report": (
        "one NDJSON line per Lambda invocation report (REPORT / platform.report)",
        """\
examples:
  logstream report --summary s3://bucket/lambda-logs/
  aws logs filter-log-events --log-group-name /aws/lambda/f --filter-pattern REPORT \\
      | logstream report --summary
  logstream decode obj.gz | logstream report --since 1d""",
    ),
    "fluentd": (
        "one NDJSON line per fluentd monitor_agent plugin status",
        """\
examples:
  logstream fluentd event.json
  aws logs tail /ecs/fluentd --since 1h | logstream fluentd""",
    ),
    "metrics": (
        "the metric data the handlers would send (EMF or PutMetricData parameters)",
        """\
examples:
  logstream metrics event.json
  logstream metrics --format put-metric-data --namespace Ops kinesis-event.json""",
    ),
    "replay": (
        "re-drive what failed (failure queue, Firehose error output) into a Kinesis or Firehose stream",
        """examples:
  logstream replay https://sqs.us-east-1.amazonaws.com/123456789012/logstream-failures \\
      --to arn:aws:kinesis:us-east-1:123456789012:stream/logstream-events --dry-run
  logstream replay s3://bucket/errors/processing-failed/2024/05/01/ \\
      --to arn:aws:firehose:us-east-1:123456789012:deliverystream/archive
A failure-queue message is deleted only after all of its events were delivered; one that cannot
be decoded or delivered stays in the queue (reported on stderr). S3 objects are never deleted.""",
    ),
}


class UsageError(Exception):
    """A bad command line; main prints it with the usage and exits 2."""


def usage_error(usage: str, text: str) -> None:
    """A usage error on stderr (nothing more to do when nobody reads it: the exit status is 2)."""
    try:
        say(usage + text)
    except OutputClosed:
        pass


class Parser(argparse.ArgumentParser):
    """argparse with its own usage on errors, a did-you-mean, exit status 2, and help that
    reaches stdout or says why not (argparse drops write errors: help to a full disk was lost
    with exit status 0)."""

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        if file is not None:  # pragma: no cover - argparse itself prints help to stdout only
            super().print_help(file)
            return
        sys.stdout.flush()
        write_all(1, self.format_help().encode())

    def error(self, message: str) -> NoReturn:
        hint = self._suggest(message)
        text = f"{self.prog}: error: {message}"
        if hint:
            text += f"; {hint}"
        usage_error(self.format_usage(), f"{text}\nrun '{self.prog} --help' for options and examples\n")
        raise SystemExit(USAGE_EXIT)

    def _suggest(self, message: str) -> str | None:
        m = re.search(r"unrecognized arguments: (.*)", message)
        if m:
            options = [o for o in self._option_string_actions if o.startswith("--")]
            for token in m.group(1).split():
                if token.startswith("-") and os.path.lexists(token):
                    return f"to read the file {token!r}, write ./{token} or put -- before it"
                if token.startswith("-"):
                    close = difflib.get_close_matches(token.split("=", 1)[0], options, n=1, cutoff=0.5)
                    if close:
                        return f"did you mean {close[0]}?"
            return None
        m = re.search(r"invalid choice: '?([^' ]+)'? \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"[\w.-]+", m.group(2))
            close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.5)
            return f"did you mean '{close[0]}'?" if close else None
        return None


def parse_size(text: str) -> int:
    """``256M``, ``1GiB``, ``1048576``: a positive, finite number of bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M, 1G, 1048576)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    try:
        value = int(float(m.group(1)) * mult)
    except OverflowError:  # more digits than a float holds
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (too large)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def parse_price(text: str) -> float:
    """A price in USD: a finite number, 0 or more (a negative or NaN price made a negative or
    'nan' cost column)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a price in USD: {text!r} (a number, 0 or more)")
    return value


def parse_namespace(text: str) -> str:
    """A CloudWatch metric namespace, by the rule the handlers apply to METRICS_NAMESPACE."""
    if text.startswith("AWS/") or not 0 < len(text) <= 255:
        raise argparse.ArgumentTypeError(f"a namespace is 1-255 characters, not starting 'AWS/': {text!r}")
    return text


_RELATIVE = re.compile(r"\s*(\d+)\s*(s|m|h|d|w)\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: float | None = None) -> int:
    """ISO 8601 (``2024-05-01``, ``2024-05-01T12:00:00Z``, with an offset; no offset means UTC)
    or relative to now (``90s``, ``15m``, ``2h``, ``7d``, ``1w``) -> epoch milliseconds."""
    m = _RELATIVE.fullmatch(text)
    if m:
        now = time.time() if now is None else now
        try:
            return int((now - int(m.group(1)) * _UNITS[m.group(2)]) * 1000)
        except (OverflowError, ValueError):  # more seconds than a float holds, or digits than int()
            raise argparse.ArgumentTypeError(f"not a time: {text!r} (too far back)") from None
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (ISO 8601 such as 2024-05-01T12:00:00Z, or 90s, 15m, 2h, 7d)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="input: files, -, s3://bucket/key[/]; none: stdin"
    )
    p.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="read every file under directory FILEs (FIFOs, sockets and devices skipped, as grep -r)",
    )
    p.add_argument(
        "--since",
        type=parse_time,
        metavar="TIME",
        help="only events at or after TIME (ISO 8601 or 15m, 2h, 7d)",
    )
    p.add_argument("--until", type=parse_time, metavar="TIME", help="only events before TIME")
    p.add_argument(
        "--log-group",
        action="append",
        default=[],
        metavar="GLOB",
        help="only log groups matching GLOB (repeatable, e.g. '/aws/lambda/*')",
    )
    p.add_argument(
        "--group",
        default=None,
        metavar="NAME",
        help="log group of input that names none (aws logs output and tail text, plain lines)",
    )
    p.add_argument("--strict", action="store_true", help="stop at the first input error")
    p.add_argument(
        "--max-size",
        type=parse_size,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help="cap on the decompressed size of one payload (default 256M)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on a terminal's stderr")


def _pricing(p: argparse.ArgumentParser, of: str) -> None:
    p.add_argument(
        "--architecture",
        choices=["x86_64", "arm64"],
        default=None,
        help=f"the list price of {of} (default x86_64)",
    )
    p.add_argument(
        "--price-per-gb-second",
        type=parse_price,
        default=None,
        metavar="USD",
        help="instead of the us-east-1 list price (other regions, discounts; not with --architecture)",
    )


def build_parser(name: str) -> Parser:
    """The parser of one subcommand (``logstream NAME``)."""
    summary, examples = SUBCOMMANDS[name]
    p = Parser(
        prog=f"logstream {name}",
        description=summary[:1].upper() + summary[1:] + ".",
        epilog=f"{examples}\n\n{INPUTS}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    _common(p)
    if name == "decode":
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--documents", action="store_true", help="one decoded document per line, as sent")
        mode.add_argument("--messages", action="store_true", help="only the original log text, exactly")
        p.add_argument("--include-control", action="store_true", help="also print control messages' events")
        p.add_argument(
            "-o",
            "--output",
            choices=["ndjson", "text"],
            default=None,
            help="event lines as NDJSON (default in a pipe) or readable text (default on a terminal)",
        )
        processing_options(p)
    elif name == "encode":
        p.add_argument(
            "--to",
            choices=["lambda", "kinesis", "firehose", "firehose-http", "s3"],
            default="lambda",
            help="event shape (default lambda: one event per document, one per line)",
        )
        p.add_argument("--outer-gzip", action="store_true", help="with --to s3: gzip the object again")
        p.add_argument(
            "--force", action="store_true", help="with --to s3: write the binary output to a terminal"
        )
        p.add_argument(
            "--stream",
            "--log-stream",
            dest="stream",
            default="2024/01/01/[$LATEST]logstream",
            metavar="NAME",
            help="log stream of plain lines",
        )
        p.add_argument("--owner", default="123456789012", help="account id of plain log lines")
        p.add_argument(
            "--subscription-filter", action="append", default=[], metavar="NAME", help="for plain log lines"
        )
    elif name == "report":
        p.add_argument("--summary", action="store_true", help="a per-function table instead of NDJSON")
        _pricing(p, "--summary's estimated cost")
    elif name == "metrics":
        p.add_argument(
            "--format",
            choices=["emf", "put-metric-data"],
            default="emf",
            help="EMF documents (default) or PutMetricData request parameters, one per line",
        )
        p.add_argument(
            "--namespace",
            type=parse_namespace,
            default=None,
            metavar="NS",
            help="namespace of Lambda metrics (default Logstream/Lambda)",
        )
        p.add_argument(
            "--fluentd-namespace",
            type=parse_namespace,
            default="fluentd",
            metavar="NS",
            help="namespace of fluentd metrics",
        )
        _pricing(p, "the EstimatedCost metric")
    elif name == "replay":
        p.add_argument(
            "--to", required=True, metavar="ARN", help="Kinesis stream or Firehose delivery stream ARN"
        )
        p.add_argument("--dry-run", action="store_true", help="decode and count; send and delete nothing")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options that cannot go together: a usage error (exit 2) instead of empty or other output."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and since >= until:
        parser.error(
            f"--since ({_iso(since)}) is not before --until ({_iso(until)}): no event can be in that range"
        )
    output = getattr(args, "output", None)
    if output is not None and getattr(args, "messages", False):
        parser.error(f"-o/--output {output} applies to event lines; --messages prints the log text as it is")
    if output == "text" and getattr(args, "documents", False):
        parser.error("-o/--output text applies to event lines; --documents prints NDJSON documents")
    fields = field_flags(args)
    if fields and (getattr(args, "messages", False) or output == "text"):
        shown = (
            "--messages prints the log text as it is"
            if args.messages
            else "-o/--output text shows time, group, stream and message only"
        )
        hint = " (--min-level reads levels without --parse)" if "--parse" in fields and args.min_level else ""
        verb = "adds" if len(fields) == 1 else "add"
        parser.error(f"{_listed(fields)} only {verb} fields to NDJSON event lines; {shown}{hint}")
    # options that act only with another one: refused alone rather than ignored
    processing = processing_flags(args)
    if processing and args.documents:
        verb = "applies" if len(processing) == 1 else "apply"
        parser.error(f"{_listed(processing)} {verb} to events; --documents prints every document as sent")
    if getattr(args, "include_control", False) and args.documents:
        parser.error(
            "--include-control applies to event lines and --messages; "
            "--documents prints every document as sent, control messages included"
        )
    if getattr(args, "force", False) and args.to != "s3":
        parser.error(
            "--force applies to --to s3 only (binary output to a terminal); the other events are text"
        )
    if getattr(args, "outer_gzip", False) and args.to != "s3":
        parser.error("--outer-gzip applies to --to s3 only")
    architecture = getattr(args, "architecture", None)
    price = getattr(args, "price_per_gb_second", None)
    if hasattr(args, "summary") and not args.summary and (architecture is not None or price is not None):
        flag = "--architecture" if architecture is not None else "--price-per-gb-second"
        parser.error(f"{flag} applies to the estimated cost of --summary; report lines carry no cost")
    if architecture is not None and price is not None:
        parser.error("--price-per-gb-second replaces the list price --architecture chooses: give one of them")


def field_flags(args: argparse.Namespace) -> list[str]:
    """The processing flags given that only add fields to NDJSON event lines (``--messages``
    and text lines have no place for them)."""
    given = (("--parse", "parse"), ("--enrich", "enrich"), ("--tag", "tag"))
    return [flag for flag, dest in given if getattr(args, dest, None)]


_PROCESSING = (
    ("--parse", "parse"),
    ("--join-multiline", "join_multiline"),
    ("--multiline-start", "multiline_start"),
    ("--include", "include"),
    ("--exclude", "exclude"),
    ("--min-level", "min_level"),
    ("--sample", "sample"),
    ("--redact", "redact"),
    ("--redact-pattern", "redact_pattern"),
    ("--enrich", "enrich"),
    ("--tag", "tag"),
)


def processing_flags(args: argparse.Namespace) -> list[str]:
    """decode's processing flags given (see :func:`processing_options`), in their order there."""
    return [flag for flag, dest in _PROCESSING if getattr(args, dest, None) not in (None, False, [])]


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _iso(ms: int) -> str:
    try:
        dt = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def top_help() -> str:
    from .. import __version__

    width = max(len(n) for n in SUBCOMMANDS)
    commands = "\n".join(f"  {n.ljust(width)}  {s}" for n, (s, _) in SUBCOMMANDS.items())
    return f"""\
usage: logstream SUBCOMMAND [options] [FILE ...]
       logstream SUBCOMMAND --help

CloudWatch Logs subscription data (any transport, any AWS CLI output) to NDJSON, offline.
logstream {__version__}

subcommands:
{commands}

examples:
  logstream decode event.json                       # readable on a terminal, NDJSON in a pipe
  logstream decode s3://bucket/firehose/2024/05/01/ | jq -r .message
  logstream report --summary --since 1d lambda-logs.gz
  aws kinesis get-records --shard-iterator "$IT" | logstream decode

{INPUTS}

{EXIT_CODES}
"""


def suggest_subcommand(word: str) -> str | None:
    close = difflib.get_close_matches(word, list(SUBCOMMANDS), n=1, cutoff=0.5)
    return close[0] if close else None


def processing_options(p: argparse.ArgumentParser) -> None:
    """The forwarder's processing pipeline, as flags (the same stages as its environment
    variables: PARSE_MESSAGES, JOIN_MULTILINE, ... see the README's configuration table)."""
    g = p.add_argument_group("processing (off unless given; the forwarder's variables in brackets)")
    g.add_argument("--parse", action="store_true", help="add level, requestId, time, json [PARSE_MESSAGES]")
    g.add_argument(
        "--join-multiline", action="store_true", help="join stack traces into one event [JOIN_MULTILINE]"
    )
    g.add_argument("--multiline-start", metavar="REGEX", help="a line that starts an event [MULTILINE_START]")
    g.add_argument("--include", metavar="REGEX", help="keep only matching messages [INCLUDE_PATTERN]")
    g.add_argument("--exclude", metavar="REGEX", help="drop matching messages [EXCLUDE_PATTERN]")
    g.add_argument("--min-level", metavar="LEVEL", help="drop events below LEVEL, e.g. WARN [MIN_LEVEL]")
    g.add_argument(
        "--sample", metavar="RATE", help="keep RATE (0-1] of events, by id; never drops WARN+ [SAMPLE_RATE]"
    )
    g.add_argument(
        "--redact", action="append", metavar="RULES", help="email,ipv4,...,credit-card or all [REDACT]"
    )
    g.add_argument(
        "--redact-pattern", action="append", metavar="REGEX", help="also redact REGEX [REDACT_PATTERNS]"
    )
    g.add_argument("--enrich", action="store_true", help="add region, functionName, functionVersion [ENRICH]")
    g.add_argument("--tag", action="append", metavar="K=V", help="add tags.K = V, repeatable [TAGS]")
