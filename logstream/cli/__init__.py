"""``logstream``: CloudWatch Logs subscription data in, NDJSON out, offline.

Modules: :mod:`.args` (argument parsing), :mod:`.inputs` (sources, streaming reading, input
detection), :mod:`.output` (the byte-exact writer, terminal format, progress),
:mod:`.commands` (the subcommands).

Exit status: 0 all input handled; 1 some input could not be read or decoded (each failure on
stderr with its place and step) or the output could not be written; 2 usage error; 130
interrupted (the program ends by SIGINT, as ``cat`` does, so a shell loop around it stops too);
141 the reader of stdout (or of stderr) closed the pipe early (quietly, like ``cat``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ..errors import LogstreamError
from .args import (
    SUBCOMMANDS,
    USAGE_EXIT,
    UsageError,
    build_parser,
    check,
    suggest_subcommand,
    top_help,
    usage_error,
)
from .commands import COMMANDS, Reporter, StrictStop
from .output import (
    Output,
    OutputClosed,
    OutputError,
    Progress,
    close_stderr,
    release_wakeup,
    say,
    write_all,
)

__all__ = ["main"]

_TOP_USAGE = "usage: logstream SUBCOMMAND [options] [FILE ...]\n"


def _usage_error(message: str) -> int:
    usage_error(_TOP_USAGE, f"logstream: error: {message}\nrun 'logstream --help' for subcommands\n")
    return USAGE_EXIT


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Interrupted (Ctrl-C), the program itself (``argv`` None) ends by SIGINT after erasing its
    progress line, so that the shell sees 130 *and* knows the user interrupted it (bash stops a
    loop only then); called with ``argv``, it returns 130. The program is interrupted quietly
    from start to end: the ``logstream`` command's launcher (``_logstream_cli``) leaves SIGINT
    at its default action while Python imports the CLI, this takes over (Ctrl-C becomes
    ``KeyboardInterrupt``) inside its ``try``, and gives the default action back once the work
    is done, for the interpreter's shutdown.
    """
    program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if program and signal.getsignal(signal.SIGINT) == signal.SIG_DFL:  # set by the launcher
            signal.signal(signal.SIGINT, signal.default_int_handler)
        status = _main(argv)
    except OutputClosed:
        status = _closed()
    except OutputError as exc:
        say(f"logstream: cannot write output: {exc}\n")
        status = 1
    except KeyboardInterrupt:
        if program:
            _end_by_sigint()
        return 130
    finally:
        if program and signal.getsignal(signal.SIGINT) == signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C from here on: the end, quietly
        # what the run set up, given back (a program that calls main() goes on without it)
        close_stderr()
        release_wakeup()
    return status


def _end_by_sigint() -> None:
    try:
        sys.stdout.flush()  # (nothing of ours is buffered there; help text at most)
    except (OSError, ValueError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)  # the default action: the process ends here


def _unknown(name: str) -> int:
    hint = suggest_subcommand(name)
    return _usage_error(
        f"unknown subcommand {name!r}"
        + (f"; did you mean {hint!r}?" if hint else f" ({', '.join(SUBCOMMANDS)})")
    )


def _main(argv: list[str]) -> int:
    if not argv or argv in (["help"], ["-h"], ["--help"]):
        write_all(1, top_help().encode())
        return 0
    if argv[0] == "--version":
        if len(argv) > 1:
            return _usage_error(f"--version takes no arguments, not {argv[1]!r}")
        from .. import __version__

        write_all(1, f"logstream {__version__}\n".encode())
        return 0
    name = argv[0]
    if name in ("help", "-h", "--help"):  # `logstream help decode`, `logstream --help decode`
        if len(argv) > 2:
            return _usage_error(f"{name} takes one subcommand (logstream help SUBCOMMAND), not {argv[2]!r}")
        name = argv[1]
        if name not in SUBCOMMANDS:
            return _unknown(name)
        argv = [name, "--help"]
    if name not in SUBCOMMANDS:
        if name.startswith("-"):
            return _usage_error(f"a subcommand comes first, before {name!r}: one of {', '.join(SUBCOMMANDS)}")
        return _unknown(name)
    parser = build_parser(name)
    try:
        args = _parse(parser, argv[1:])
        check(parser, args)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE_EXIT
    return run(name, args, parser)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Options and files in any order (``logstream decode a.json -r dir/ --messages b.json``, as
    ``cat`` or ``grep`` take them); everything after ``--`` is a file. (Python 3.11's
    ``parse_intermixed_args`` reads what follows ``--`` as options again: it is split off here.)"""
    if "--" in argv:
        at = argv.index("--")
        args = parser.parse_intermixed_args(argv[:at])
        args.files = [*args.files, *argv[at + 1 :]]
        return args
    return parser.parse_intermixed_args(argv)


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
        usage_error(parser.format_usage(), f"{parser.prog}: error: {exc}\n")
        return USAGE_EXIT
    except OutputClosed:
        progress.done()
        return _closed()
    except OutputError as exc:
        progress.done()
        say(f"logstream: cannot write output: {exc}\n")
        return 1
    except KeyboardInterrupt:
        progress.done()
        raise
    finally:
        out.close()
    progress.done()
    return 1 if report.count else 0


def _closed() -> int:
    """The reader went away (| head): point stdout and stderr at /dev/null so nothing else tries
    to write to the closed pipe at exit, and leave quietly with 141 (128 + SIGPIPE), like cat."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    except OSError:  # pragma: no cover
        pass
    close_stderr()  # (it wrote to the pipe: the next message goes to the new fd 2)
    return 141
