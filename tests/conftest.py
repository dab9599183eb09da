"""Shared fixtures: one loader for the corpus, accelerator switching, a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logstream import decode

CORPUS = Path(__file__).parent / "data" / "corpus"
ROOT = Path(__file__).resolve().parent.parent


def corpus_path(*parts: str) -> Path:
    return CORPUS.joinpath(*parts)


def load_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in corpus_path(name).read_text().splitlines() if line.strip()]


@pytest.fixture(params=["accelerated", "pure"])
def codec(request):
    """Run a test with the accelerators (pybase64, isal) and again with the stdlib path."""
    decode.use_accelerators(request.param == "accelerated")
    yield request.param
    decode.use_accelerators(True)


def run_cli(*args: str, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m logstream`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "logstream", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
