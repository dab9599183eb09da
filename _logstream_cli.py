"""The ``logstream`` command's entry point (the console script calls :func:`main`).

It lives outside the ``logstream`` package on purpose: importing any module of the package
first imports the package and its decoder (60-150 ms), and Ctrl-C during that time printed a
``KeyboardInterrupt`` traceback. Until :func:`logstream.cli.main` takes over, SIGINT keeps its
default action here: Ctrl-C ends the process by SIGINT, quietly, as the CLI itself ends when
interrupted later (the shell reports 130 and a loop around it stops). A SIGINT that the parent
ignores (``logstream ... &`` in a script) stays ignored.

``python -m logstream`` imports the package before any of its code runs, so it cannot do the
same; the ``logstream`` command and ``python -m _logstream_cli`` do.
"""

from __future__ import annotations

import signal

__all__ = ["main"]


def main() -> int:
    """Run the ``logstream`` command line (``sys.argv``); returns the exit status."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from logstream.cli import main as run  # the package's imports: Ctrl-C ends the process here

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
