"""Reading the README as a user reads it: its sections, tables, code blocks and code spans, for the
tests that hold the README to what the code and the template do (tests/unit/test_readme_claims.py,
tests/functional/test_readme_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SPAN = re.compile(r"`([^`]+)`")


def text() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading of the same or a
    higher level."""
    lines = text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+) (.*)$", line)
        if m and m.group(2).strip() == title:
            level = len(m.group(1))
            body = []
            for following in lines[i + 1 :]:
                n = re.match(r"^(#+) ", following)
                if n and len(n.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"README has no section {title!r}")


def table(body: str, header: str) -> list[list[str]]:
    """The rows (cells stripped, ``\\|`` unescaped) of the table whose header row starts with
    ``header`` (e.g. ``"| parameter |"``), separator row left out."""
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header):
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                cells = _CELL_SPLIT.split(row.strip())[1:-1]
                rows.append([c.strip().replace("\\|", "|") for c in cells])
            return rows
    raise AssertionError(f"no table with header {header!r}")


def spans(cell: str) -> list[str]:
    """The code spans of a cell, in order."""
    return _SPAN.findall(cell)


def code_blocks(body: str) -> list[tuple[str, str]]:
    """``(language, content)`` of every fenced block of ``body``, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", body, re.M | re.S)]
