"""Build the Lambda artifact: ``logstream/`` and ``handlers/`` plus their dependencies, with
compiled wheels for the function's architecture and Python version, whatever machine builds it.

    python packaging/build_lambda.py OUT_DIR [--arch arm64|x86_64] [--python-version 3.13] [--zip FILE]

Used by ``sam build`` (``packaging/Makefile``, BuildMethod: makefile) and ``make package``.
Needs any Python 3.10+ with pip 22+ (pip checks the packages' Requires-Python against the
building interpreter too, and msgspec needs 3.10); no Docker and no Python 3.13. Steps:

1. ``pip install --target`` the pinned requirements (``packaging/lambda-requirements.txt`` with
   ``constraints.txt``) as binary wheels only, for manylinux ``aarch64``/``x86_64`` and the
   runtime's CPython version (``--platform --python-version --implementation cp
   --only-binary=:all:``). boto3 is not shipped: the runtime has it. The result is cached, keyed
   by every input (requirements, constraints, target, pip version), so the four functions of
   ``sam build`` and repeated builds install once.
2. Check that every compiled extension is tagged for the target (ELF machine and CPython tag).
3. Copy ``logstream/`` and ``handlers/`` (``.py`` files and ``py.typed`` only).
4. Bytecode, when an interpreter of the runtime's version is at hand (the running one, or
   ``LAMBDA_PYTHON``, or ``pythonX.Y`` on PATH): ``compileall --invalidation-mode unchecked-hash``,
   because Lambda's zip carries no usable timestamps (SAM stamps 1980-01-01), so timestamp
   ``.pyc`` files are never used, and the code directory is read-only, so nothing is cached at
   run time. Without such an interpreter the artifact ships without bytecode and this says so:
   ``.pyc`` files are per Python version and no other version can write 3.13's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "packaging" / "lambda-requirements.txt"
CONSTRAINTS = REPO / "constraints.txt"
SOURCES = ("logstream", "handlers")
# ELF e_machine of each Lambda architecture, and the triplet in CPython's extension suffix.
ELF_MACHINE = {"arm64": 183, "x86_64": 62}
TRIPLET = {"arm64": "aarch64-linux-gnu", "x86_64": "x86_64-linux-gnu"}
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.12/3.13 runtimes run on Amazon Linux 2023 (glibc 2.34): every manylinux wheel
# up to glibc 2.34 loads there. pip matches --platform tags literally, so name each one.
GLIBC_MINORS = range(17, 35)


class BuildError(Exception):
    pass


def log(msg: str) -> None:
    # stdout: `sam build` shows a makefile build's stdout and swallows its stderr unless it fails
    print(f"build_lambda: {msg}", flush=True)


def platforms(arch: str) -> list[str]:
    m = MACHINE[arch]
    return [f"manylinux2014_{m}", *(f"manylinux_2_{minor}_{m}" for minor in GLIBC_MINORS)]


def cache_root() -> Path:
    if os.environ.get("LOGSTREAM_BUILD_CACHE"):
        return Path(os.environ["LOGSTREAM_BUILD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logstream-build"


def pip_version() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


def find_bytecode_python(version: str) -> str | None:
    """An interpreter that writes ``version``'s bytecode, or None."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which(f"python{version}")]
    for exe in filter(None, candidates):
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return exe
    return None


def compile_tree(python: str, path: Path) -> None:
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def check_extensions(root: Path, arch: str, version: str) -> int:
    """Every ``.so`` is an ELF for ``arch`` and carries CPython ``version``'s tag (or abi3)."""
    tag = "cpython-" + version.replace(".", "")
    count = 0
    for so in sorted(root.rglob("*.so*")):
        if not so.is_file():
            continue
        head = so.read_bytes()[:20]
        if head[:4] != b"\x7fELF":
            raise BuildError(f"{so.relative_to(root)}: not an ELF file")
        order = "little" if head[5] == 1 else "big"
        machine = int.from_bytes(head[18:20], order)
        if machine != ELF_MACHINE[arch]:
            raise BuildError(f"{so.relative_to(root)}: ELF machine {machine}, expected {arch}")
        name = so.name
        if name.endswith(".so") and ".cpython-" in name and not name.endswith(f".{tag}-{TRIPLET[arch]}.so"):
            raise BuildError(f"{so.relative_to(root)}: not built for CPython {version} on {arch}")
        count += 1
    return count


def install_dependencies(arch: str, version: str, bytecode: str | None) -> Path:
    """The dependencies for ``arch``/``version`` in the cache (installed on first use)."""
    key = hashlib.sha256()
    for part in (REQUIREMENTS.read_bytes(), CONSTRAINTS.read_bytes()):
        key.update(hashlib.sha256(part).digest())
    key.update(f"{arch} {version} {pip_version()} bytecode={bool(bytecode)}".encode())
    target = cache_root() / f"deps-{arch}-cp{version.replace('.', '')}-{key.hexdigest()[:16]}"
    if target.is_dir():
        log(f"dependencies from cache {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        cmd += ["--no-compile", "--target", str(tmp), "--only-binary=:all:", "--implementation", "cp"]
        cmd += ["--python-version", version, "--abi", "cp" + version.replace(".", "")]
        for plat in platforms(arch):
            cmd += ["--platform", plat]
        cmd += ["-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)]
        log(f"installing dependencies for {arch}/cp{version.replace('.', '')}")
        if subprocess.run(cmd, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"}).returncode != 0:
            raise BuildError("pip install failed (see above)")
        shutil.rmtree(tmp / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
        count = check_extensions(tmp, arch, version)
        log(f"{count} compiled extensions, all for {arch}/CPython {version}")
        if bytecode:
            compile_tree(bytecode, tmp)
        try:
            tmp.rename(target)
        except OSError:  # a parallel build got there first: same inputs, same content
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def copy_sources(out: Path) -> None:
    for pkg in SOURCES:
        for src in sorted((REPO / pkg).rglob("*")):
            if src.suffix not in (".py", ".typed") or "__pycache__" in src.parts:
                continue
            dest = out / src.relative_to(REPO)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)


def write_zip(root: Path, dest: Path) -> None:
    """Deterministic zip: sorted names, fixed date, 0644 files (0755 directories)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(dest)


def build(out: Path, arch: str, version: str, *, bytecode_required: bool = False) -> dict:
    bytecode = find_bytecode_python(version)
    if bytecode is None:
        msg = (
            f"no Python {version} found (set LAMBDA_PYTHON or put python{version} on PATH): "
            "the artifact ships without bytecode, so the runtime compiles the code on every cold start"
        )
        if bytecode_required:
            raise BuildError(msg)
        log("warning: " + msg)
    deps = install_dependencies(arch, version, bytecode)
    if out.exists():
        shutil.rmtree(out)  # ARTIFACTS_DIR may hold an earlier build
    shutil.copytree(deps, out, symlinks=True)
    copy_sources(out)
    if bytecode:
        for pkg in SOURCES:
            compile_tree(bytecode, out / pkg)
    return {"arch": arch, "python": version, "bytecode": bytecode}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="artifact directory (replaced)")
    p.add_argument("--arch", choices=sorted(ELF_MACHINE), default="arm64")
    p.add_argument("--python-version", default="3.13", help="the runtime's Python (default 3.13)")
    p.add_argument("--zip", type=Path, help="also write the artifact as this zip file")
    p.add_argument("--require-bytecode", action="store_true", help="fail when no bytecode can be written")
    args = p.parse_args(argv)
    try:
        info = build(args.out, args.arch, args.python_version, bytecode_required=args.require_bytecode)
        if args.zip:
            write_zip(args.out, args.zip)
    except (BuildError, subprocess.CalledProcessError, OSError) as err:
        log(f"error: {err}")
        return 1
    where = f"{args.out}" + (f" and {args.zip}" if args.zip else "")
    log(f"built {where} for {info['arch']}/python{info['python']}, bytecode: {info['bytecode'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
