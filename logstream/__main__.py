"""``python -m logstream``: the same as the ``logstream`` command."""

from .cli import main

raise SystemExit(main())
