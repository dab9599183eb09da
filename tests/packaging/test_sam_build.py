"""`sam build` from a fresh copy of the repository, as the README says, on this machine: no
Docker, no Python 3.13. Every function's artifact holds what the handlers import, with compiled
extensions for arm64 and CPython 3.13 (read from the ELF headers and file names here, not taken
from the build script), and nothing else of the repository."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.packaging.conftest import ROOT, build_env, source_tree

FUNCTIONS = [
    "LambdaMetricsFunction",
    "FluentdMetricsFunction",
    "ForwardFunction",
    "FirehoseTransformFunction",
]
# Top level of every artifact: our two packages and the runtime dependencies (boto3 is the runtime's).
TOP_LEVEL = {
    "logstream",
    "handlers",
    "msgspec",
    "pybase64",
    "isal",
    "re2",  # google-re2
    "aws_lambda_powertools",
    "jmespath",  # Powertools' dependency
    "typing_extensions.py",  # Powertools' dependency
}
DIST_INFO = {
    "msgspec",
    "pybase64",
    "isal",
    "google_re2",
    "aws_lambda_powertools",
    "jmespath",
    "typing_extensions",
}
# Every compiled extension module they ship, by package.
EXTENSIONS = {
    "msgspec/_core",
    "pybase64/_pybase64",
    "isal/_isal",
    "isal/igzip_lib",
    "isal/isal_zlib",
    "re2/_re2",
}
EM_AARCH64 = 183


def elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[5] == 1, f"{path}: not a little-endian ELF file"
    return int.from_bytes(head[18:20], "little")


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory, sam_cli):
    repo = source_tree(tmp_path_factory.mktemp("clone"))
    app_dir = tmp_path_factory.mktemp("sam-app")  # SAM's own settings: no telemetry, no update check
    (app_dir / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    env = build_env(SAM_CLI_TELEMETRY="0", __SAM_CLI_APP_DIR=str(app_dir))
    env["PATH"] = f"{sam_cli.parent}:{env['PATH']}"
    res = subprocess.run(
        [str(sam_cli), "build", "-t", "sam-template.yaml"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return repo, res.stdout + res.stderr


def test_given_a_fresh_clone_when_sam_build_runs_then_it_succeeds_without_docker_or_python313(sam_build):
    repo, output = sam_build
    assert "Build Succeeded" in output
    assert "requirements.txt file not found" not in output
    built = yaml.load((repo / ".aws-sam/build/template.yaml").read_text(), Loader=CfnLoader)
    for fn in FUNCTIONS:
        assert built["Resources"][fn]["Properties"]["CodeUri"] == fn


@pytest.mark.parametrize("function", FUNCTIONS)
def test_given_sam_build_then_each_artifact_holds_exactly_the_handlers_and_their_dependencies(
    sam_build, function
):
    repo, _ = sam_build
    art = repo / ".aws-sam" / "build" / function
    names = {p.name for p in art.iterdir()}
    dist_infos = {n for n in names if n.endswith(".dist-info")}
    assert names - dist_infos == TOP_LEVEL
    assert {re.sub(r"-[^-]+\.dist-info$", "", n) for n in dist_infos} == DIST_INFO
    for pkg in ("logstream", "handlers"):
        expected = {p.relative_to(repo) for p in (repo / pkg).rglob("*.py")}
        assert {p.relative_to(art) for p in (art / pkg).rglob("*.py")} == expected
    assert (art / "logstream" / "py.typed").is_file()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_given_sam_build_then_every_compiled_extension_is_for_arm64_and_cpython313(sam_build, function):
    repo, _ = sam_build
    art = repo / ".aws-sam" / "build" / function
    shared = sorted(p for p in art.rglob("*.so*") if p.is_file())
    assert {re.sub(r"\.cpython-.*$", "", str(p.relative_to(art))) for p in shared} == EXTENSIONS
    for so in shared:
        assert so.name.endswith(".cpython-313-aarch64-linux-gnu.so"), so
        assert elf_machine(so) == EM_AARCH64, so


def test_given_no_python313_on_the_build_machine_then_no_bytecode_of_another_python_is_shipped(sam_build):
    """.pyc files are per Python version: the build writes 3.13's only with a Python 3.13 at hand
    and otherwise says that it ships none (never 3.11's, which the runtime would ignore)."""
    repo, output = sam_build
    pycs = list((repo / ".aws-sam" / "build").rglob("*.pyc"))
    if pycs:
        assert all(".cpython-313." in p.name for p in pycs)
        assert all(p.read_bytes()[4:8] == (1).to_bytes(4, "little") for p in pycs)  # unchecked hash
    else:
        assert "artifact ships without bytecode" in output


def test_given_the_template_then_the_makefile_builds_for_its_runtime_and_architecture():
    template = yaml.load((ROOT / "sam-template.yaml").read_text(), Loader=CfnLoader)
    fn = template["Globals"]["Function"]
    target = dict(re.findall(r"^(\w+) \?= (\S+)$", (ROOT / "packaging" / "target.mk").read_text(), re.M))
    assert fn["Runtime"] == f"python{target['LAMBDA_PYTHON_VERSION']}"
    assert fn["Architectures"] == [target["LAMBDA_ARCH"]]
    assert fn["CodeUri"] == "packaging/"
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert name in FUNCTIONS and resource["Metadata"] == {"BuildMethod": "makefile"}
            assert "Runtime" not in resource["Properties"] and "Architectures" not in resource["Properties"]
    makefile = (ROOT / "packaging" / "Makefile").read_text()
    assert f"FUNCTIONS := {' '.join(FUNCTIONS)}" in makefile
