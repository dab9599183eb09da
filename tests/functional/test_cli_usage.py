"""Help, usage errors and exit codes as a user meets them: bare command, typos, abbreviations."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def test_given_no_arguments_then_help_on_stdout_and_exit_0():
    res = run_cli()
    assert res.returncode == 0
    out = res.stdout.decode()
    assert out.startswith("usage: logstream SUBCOMMAND [options] [FILE ...]\n")
    for name in ("decode", "encode", "report", "fluentd", "metrics"):
        assert f"\n  {name} " in out
    assert "examples:" in out and "exit status:" in out
    assert res.stderr == b""


@pytest.mark.parametrize("name", ["decode", "encode", "report", "fluentd", "metrics"])
def test_given_subcommand_help_then_examples_and_every_exit_code(name):
    res = run_cli(name, "--help")
    assert res.returncode == 0
    out = res.stdout.decode()
    assert out.startswith(f"usage: logstream {name} ")
    assert f"examples:\n  logstream {name}" in out or "examples:\n  " in out
    for code in ("0 ", "1 ", "2 ", "130 ", "141 "):
        assert f"\n  {code}" in out, code


def test_given_mistyped_flag_then_own_usage_and_did_you_mean():
    res = run_cli("decode", "--messgaes")
    assert res.returncode == 2
    err = res.stderr.decode().splitlines()
    assert err[0].startswith("usage: logstream decode ")
    assert "logstream decode: error: unrecognized arguments: --messgaes; did you mean --messages?" in err
    assert err[-1] == "run 'logstream decode --help' for options and examples"


def test_given_abbreviated_flag_then_refused_with_the_full_name_suggested():
    res = run_cli("decode", "--doc")
    assert res.returncode == 2
    assert "did you mean --documents?" in res.stderr.decode()


def test_given_mistyped_choice_then_did_you_mean():
    res = run_cli("encode", "--to", "kinesys")
    assert res.returncode == 2
    assert "did you mean 'kinesis'?" in res.stderr.decode()


def test_given_mistyped_subcommand_then_did_you_mean():
    res = run_cli("decod", "x.json")
    assert res.returncode == 2
    assert (
        res.stderr.decode().splitlines()[1]
        == "logstream: error: unknown subcommand 'decod'; did you mean 'decode'?"
    )


def test_given_option_before_subcommand_then_usage_error():
    res = run_cli("--documents")
    assert res.returncode == 2
    assert "a subcommand comes first" in res.stderr.decode()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "lots", "1e400", "12Q"])
def test_given_bad_max_size_then_usage_error_not_traceback(value):
    res = run_cli("decode", "--max-size", value)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "argument --max-size" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["256M", "1GiB", "1048576", "0.5k"])
def test_given_good_max_size_then_accepted(value):
    assert run_cli("decode", "--max-size", value, stdin=b"").returncode == 0


@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_given_bad_time_then_usage_error(flag):
    res = run_cli("report", flag, "yesterday")
    assert res.returncode == 2
    assert "not a time: 'yesterday'" in res.stderr.decode()


def test_given_version_then_printed():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith(b"logstream ")


def test_given_help_subcommand_then_that_help():
    res = run_cli("help", "report")
    assert res.returncode == 0 and res.stdout.startswith(b"usage: logstream report ")


def test_given_outer_gzip_without_s3_then_usage_error():
    res = run_cli("encode", "--outer-gzip", stdin=b"x\n")
    assert res.returncode == 2
    assert "--outer-gzip applies to --to s3 only" in res.stderr.decode()


def test_given_encode_group_and_stream_names_then_plain_lines_carry_them():
    enc = run_cli("encode", "--group", "/aws/lambda/f", "--log-stream", "s1", "--owner", "111", stdin=b"x\n")
    out = json.loads(run_cli("decode", "-o", "ndjson", stdin=enc.stdout).stdout)
    assert (out["owner"], out["logGroup"], out["logStream"], out["message"]) == (
        "111",
        "/aws/lambda/f",
        "s1",
        "x\n",
    )
