"""``logstream``: CloudWatch Logs subscription data in, NDJSON out, offline.

Modules: :mod:`.args` (argument parsing), :mod:`.inputs` (sources, streaming reading, input
detection), :mod:`.output` (the byte-exact writer, terminal format, progress),
:mod:`.commands` (the subcommands).

Exit status: 0 all input handled; 1 some input could not be read or decoded (each failure on
stderr with its place and step) or the output could not be written; 2 usage error; 130
interrupted; 141 the output pipe was closed early (quietly, like ``cat``).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import LogstreamError
from .args import SUBCOMMANDS, USAGE_EXIT, UsageError, build_parser, suggest_subcommand, top_help
from .commands import COMMANDS, Reporter, StrictStop
from .output import Output, OutputClosed, OutputError, Progress

__all__ = ["main"]

_TOP_USAGE = "usage: logstream SUBCOMMAND [options] [FILE ...]\n"


def _usage_error(message: str) -> int:
    sys.stderr.write(f"{_TOP_USAGE}logstream: error: {message}\nrun 'logstream --help' for subcommands\n")
    return USAGE_EXIT


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except OutputClosed:
        return _closed()
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(top_help())
        sys.stdout.flush()
        return 0
    if argv[0] == "--version":
        from .. import __version__

        sys.stdout.write(f"logstream {__version__}\n")
        sys.stdout.flush()
        return 0
    name = argv[0]
    if name == "help" and len(argv) > 1 and argv[1] in SUBCOMMANDS:
        name, argv = argv[1], [argv[1], "--help"]
    if name not in SUBCOMMANDS:
        if name.startswith("-"):
            return _usage_error(f"a subcommand comes first, before {name!r}: one of {', '.join(SUBCOMMANDS)}")
        hint = suggest_subcommand(name)
        return _usage_error(
            f"unknown subcommand {name!r}"
            + (f"; did you mean {hint!r}?" if hint else f" ({', '.join(SUBCOMMANDS)})")
        )
    parser = build_parser(name)
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        sys.stdout.flush()
        return exc.code if isinstance(exc.code, int) else USAGE_EXIT
    return run(name, args, parser)


def run(name: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    out = Output(1)
    progress = Progress(enabled=not args.no_progress and os.isatty(2))
    report = Reporter(strict=args.strict, progress=progress)
    try:
        try:
            COMMANDS[name](args, out, report, progress)
        except StrictStop:
            pass
        except LogstreamError as err:  # e.g. a ConfigError from an option value
            report.strict = False
            report(err)
        out.flush()
    except UsageError as exc:
        progress.done()
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return USAGE_EXIT
    except OutputClosed:
        progress.done()
        return _closed()
    except OutputError as exc:
        progress.done()
        sys.stderr.write(f"logstream: cannot write output: {exc}\n")
        return 1
    except KeyboardInterrupt:
        progress.done()
        return 130
    progress.done()
    return 1 if report.count else 0


def _closed() -> int:
    """The reader went away (| head): point stdout at /dev/null so nothing else tries to write
    to the closed pipe at exit, and leave quietly with 141 (128 + SIGPIPE), like cat."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:  # pragma: no cover
        pass
    return 141
