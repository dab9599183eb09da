"""The distribution `logstream-cw`: built with `python -m build`, clean under `twine check`,
installed from the wheel into a fresh virtual environment, where the `logstream` command and
the typed library work and no `handlers` package appears."""

from __future__ import annotations

import base64
import gzip
import json
import re
import signal
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.functional.test_cli_interrupt import HOOK, interrupted_at
from tests.packaging.conftest import ROOT, source_tree

DIST = "logstream-cw"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    src = source_tree(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    [wheel] = dist.glob("*.whl")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["-c", str(ROOT / "constraints.txt"), str(wheel)],
        check=True,
        timeout=600,
    )
    return venv


def test_given_the_sources_when_built_then_wheel_and_sdist_pass_twine_check(dist):
    names = sorted(p.name for p in dist.iterdir())
    assert names == ["logstream_cw-0.1.0-py3-none-any.whl", "logstream_cw-0.1.0.tar.gz"]
    res = subprocess.run(
        [str(Path(sys.executable).with_name("twine")), "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_given_the_wheel_then_it_holds_logstream_typed_the_launcher_and_no_handlers(dist):
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read("logstream_cw-0.1.0.dist-info/METADATA").decode()
        top_level = zf.read("logstream_cw-0.1.0.dist-info/top_level.txt").decode().split()
        scripts = zf.read("logstream_cw-0.1.0.dist-info/entry_points.txt").decode()
    # the command's entry point is a module of its own, outside the package (_logstream_cli.py)
    assert top_level == ["_logstream_cli", "logstream"]
    assert {n.split("/")[0] for n in names} == {
        "_logstream_cli.py",
        "logstream",
        "logstream_cw-0.1.0.dist-info",
    }
    assert "logstream/py.typed" in names
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "logstream").rglob("*.py")}
    assert {n for n in names if n.endswith(".py")} == expected | {"_logstream_cli.py"}
    assert scripts.split() == ["[console_scripts]", "logstream", "=", "_logstream_cli:main"]
    assert f"Name: {DIST}" in metadata.splitlines()
    assert "Requires-Dist: msgspec>=0.18" in metadata.splitlines()


def test_given_a_fresh_venv_with_the_wheel_when_the_cli_runs_then_version_and_decode_work(installed):
    exe = installed / "bin" / "logstream"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert (version.returncode, version.stdout.strip()) == (0, "logstream 0.1.0")
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/checkout",
        "logStream": "2025/11/23/[$LATEST]0f1e",
        "subscriptionFilters": ["logstream"],
        "logEvents": [{"id": "1" * 56, "timestamp": 1763900000000, "message": "hello\n"}],
    }
    payload = base64.b64encode(gzip.compress(json.dumps(doc).encode(), mtime=0)) + b"\n"
    res = subprocess.run([str(exe), "decode"], input=payload, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert [json.loads(line) for line in res.stdout.splitlines()] == [
        {
            "owner": "123456789012",
            "logGroup": "/aws/lambda/checkout",
            "logStream": "2025/11/23/[$LATEST]0f1e",
            "subscriptionFilters": ["logstream"],
            "id": "1" * 56,
            "timestamp": 1763900000000,
            "message": "hello\n",
        }
    ]


def test_given_the_sdist_then_it_holds_the_launcher(dist):
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    assert "logstream_cw-0.1.0/_logstream_cli.py" in names
    assert "logstream_cw-0.1.0/logstream/cli/__init__.py" in names


def test_given_the_installed_command_when_interrupted_while_it_imports_then_quiet(installed, tmp_path):
    """The wheel's `logstream` command goes through the launcher: Ctrl-C while Python imports
    the package ends it by SIGINT without a traceback (see tests/functional/test_cli_interrupt)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    exe = str(installed / "bin" / "logstream")
    assert interrupted_at("msgspec", hook, "decode", exe=exe) == (-signal.SIGINT, b"", "")


def test_given_the_installed_wheel_then_handlers_is_not_importable_and_types_are_marked(installed):
    python = str(installed / "bin" / "python")
    probe = (
        "import importlib.util, importlib.resources, logstream; "
        "print(importlib.util.find_spec('handlers') is None, "
        "importlib.resources.files('logstream').joinpath('py.typed').is_file())"
    )
    res = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, cwd=installed)
    assert (res.returncode, res.stdout.split()) == (0, ["True", "True"]), res.stderr


def test_given_pyproject_then_no_requirement_names_the_other_projects_logstream():
    """`logstream` on the package index is another project: a requirement on it (say a
    self-reference in the extras left over from before the rename) installs that project and
    its `logstream` package over ours."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DIST
    requirements = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    names = {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}
    assert "logstream" not in names and DIST in names  # dev pulls in our own extras by our name
