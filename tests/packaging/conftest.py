"""Packaging fixtures: tool environments and build outputs, cached by their inputs.

Everything lands in the running virtual environment (``.venv/logstream-test-cache``), so
``make clean`` drops it and a fresh clone builds it once: aws-sam-cli's environment (~30 s),
the runtime's environment (boto3 + awslambdaric), the Lambda dependencies per platform.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(sys.prefix) / "logstream-test-cache"
BUILD_CACHE = CACHE / "lambda-build"
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def tool_venv(name: str, requirements: Path) -> Path:
    """A virtual environment with exactly ``requirements`` (a full pinned closure), made once
    per content of that file and per Python; nothing from the project's .venv is in it."""
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-{digest}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["--no-deps", "-r", str(requirements)],
        check=True,
        timeout=900,
    )
    (venv / ".complete").touch()
    return venv


def source_tree(dest: Path) -> Path:
    """What a fresh clone holds (tracked and new files, nothing ignored: no .venv, no dist)."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))
    return dest


def build_env(**extra: str) -> dict[str, str]:
    """The build's environment: no route to AWS, the test cache for the Lambda dependencies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_PYTHON", "VIRTUAL_ENV"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        LOGSTREAM_BUILD_CACHE=str(BUILD_CACHE),
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def host_artifact(tmp_path_factory) -> Path:
    """The Lambda artifact built for this machine's platform and Python (so it can run here),
    by the same script ``sam build`` and ``make package`` use."""
    out = tmp_path_factory.mktemp("host") / "artifact"
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}[os.uname().machine]
    res = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build_lambda.py"), str(out)]
        + ["--arch", arch, "--python-version", HOST_PYTHON, "--require-bytecode"],
        env=build_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    """A clean interpreter with only what Lambda's Python runtime has: boto3, awslambdaric."""
    return tool_venv("lambda-runtime", HERE / "runtime-requirements.txt") / "bin" / "python"


@pytest.fixture(scope="session")
def sam_cli() -> Path:
    return tool_venv("aws-sam-cli", HERE / "sam-requirements.txt") / "bin" / "sam"
