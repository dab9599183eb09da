"""Help, usage errors and exit codes as a user meets them: bare command, typos, abbreviations."""

from __future__ import annotations

import json
import subprocess
import sys

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


# ------------------------------------------------------------------ options that act only together
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/logstream-failures"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
REPORT_LINE = (
    b"REPORT RequestId: 8f5a Duration: 102.25 ms Billed Duration: 103 ms "
    b"Memory Size: 1024 MB Max Memory Used: 80 MB\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["report", "--architecture", "arm64"],
            "logstream report: error: --architecture applies to the estimated cost of --summary; "
            "report lines carry no cost",
        ),
        (
            ["report", "--price-per-gb-second", "0.00001"],
            "logstream report: error: --price-per-gb-second applies to the estimated cost of --summary; "
            "report lines carry no cost",
        ),
        (
            ["report", "--summary", "--architecture", "arm64", "--price-per-gb-second", "0.00001"],
            "logstream report: error: --price-per-gb-second replaces the list price --architecture "
            "chooses: give one of them",
        ),
        (
            ["metrics", "--architecture", "x86_64", "--price-per-gb-second", "0.00001"],
            "logstream metrics: error: --price-per-gb-second replaces the list price --architecture "
            "chooses: give one of them",
        ),
        (
            ["encode", "--force"],
            "logstream encode: error: --force applies to --to s3 only (binary output to a terminal); "
            "the other events are text",
        ),
        (
            ["encode", "--to", "kinesis", "--force"],
            "logstream encode: error: --force applies to --to s3 only (binary output to a terminal); "
            "the other events are text",
        ),
        (
            ["decode", "--messages", "--tag", "team=payments"],
            "logstream decode: error: --tag only adds fields to NDJSON event lines; "
            "--messages prints the log text as it is",
        ),
        (
            ["decode", "--messages", "--parse", "--enrich"],
            "logstream decode: error: --parse and --enrich only add fields to NDJSON event lines; "
            "--messages prints the log text as it is",
        ),
        (
            ["decode", "-o", "text", "--parse", "--min-level", "WARN"],
            "logstream decode: error: --parse only adds fields to NDJSON event lines; -o/--output text "
            "shows time, group, stream and message only (--min-level reads levels without --parse)",
        ),
        (
            ["replay", QUEUE, "--to", STREAM_ARN, "--dry-run", "--since", "1h"],
            "logstream replay: error: --since applies to files and s3:// sources: a failure-queue "
            "message is replayed whole (it is deleted once all of its events are delivered)",
        ),
        (
            ["replay", "x.json", QUEUE, "--to", STREAM_ARN, "--log-group", "/aws/lambda/*"],
            "logstream replay: error: --log-group applies to files and s3:// sources: a failure-queue "
            "message is replayed whole (it is deleted once all of its events are delivered)",
        ),
        (
            ["decode", "--documents", "--join-multiline"],
            "logstream decode: error: --join-multiline applies to events; "
            "--documents prints every document as sent",
        ),
        (
            ["decode", "--documents", "--redact", "email", "--min-level", "WARN", "--sample", "1"],
            "logstream decode: error: --min-level, --sample and --redact apply to events; "
            "--documents prints every document as sent",
        ),
        (
            ["decode", "--documents", "--include-control"],
            "logstream decode: error: --include-control applies to event lines and --messages; "
            "--documents prints every document as sent, control messages included",
        ),
        (
            ["--version", "decode"],
            "logstream: error: --version takes no arguments, not 'decode'",
        ),
        (
            ["help", "report", "decode"],
            "logstream: error: help takes one subcommand (logstream help SUBCOMMAND), not 'decode'",
        ),
    ],
)
def test_given_an_option_its_combination_would_ignore_then_a_usage_error_naming_it(args, message):
    """Before: each of these ran with the option silently ignored (exit 0): no cost in report
    lines, the list price used whatever the architecture, --force on text output, parsed fields
    and tags nowhere in the log text or text lines, a queue replayed whole despite the filter,
    arguments after --version or help's subcommand dropped, --include-control with --documents
    (which prints control messages anyway)."""
    done = run_cli(*args, stdin=REPORT_LINE)
    assert (done.returncode, done.stdout) == (2, b"")
    assert message in done.stderr.decode().splitlines()


def test_given_the_options_with_what_they_act_on_then_accepted():
    arm = run_cli("report", "--summary", "--architecture", "arm64", stdin=REPORT_LINE)
    x86 = run_cli("report", "--summary", stdin=REPORT_LINE)
    assert (arm.returncode, x86.returncode) == (0, 0)
    # 0.103 s x 1 GB x the list price per GB-second, plus $0.20 per million requests
    assert arm.stdout.splitlines()[1].endswith(b" %.8f" % (0.103 * 0.0000133334 + 0.0000002))
    assert x86.stdout.splitlines()[1].endswith(b" %.8f" % (0.103 * 0.0000166667 + 0.0000002))
    priced = run_cli("metrics", "--price-per-gb-second", "0.00001", stdin=REPORT_LINE)
    assert priced.returncode == 0, priced.stderr
    assert run_cli("encode", "--to", "s3", "--force", stdin=b"x\n").returncode == 0


def test_given_help_before_a_subcommand_then_that_subcommands_help():
    """Before: `logstream --help report` printed the top-level help, the subcommand ignored."""
    for first in ("--help", "-h", "help"):
        res = run_cli(first, "report")
        assert res.returncode == 0 and res.stdout.startswith(b"usage: logstream report ")


def test_given_help_before_an_unknown_subcommand_then_a_usage_error_with_a_suggestion():
    res = run_cli("--help", "reprot")
    assert res.returncode == 2
    assert "logstream: error: unknown subcommand 'reprot'; did you mean 'report'?" in res.stderr.decode()


def test_given_a_control_message_then_include_control_shows_it_where_it_applies_and_documents_always():
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": "", "timestamp": 1600110003794, "message": "CWL CONTROL MESSAGE: Checking health"}
        ],
    }
    stdin = json.dumps(control).encode()
    message = "CWL CONTROL MESSAGE: Checking health"
    assert run_cli("decode", stdin=stdin).stdout == b""
    lines = run_cli("decode", "--include-control", stdin=stdin).stdout.splitlines()
    assert [json.loads(line)["message"] for line in lines] == [message]
    assert run_cli("decode", "--messages", stdin=stdin).stdout == b""
    assert (
        run_cli("decode", "--messages", "--include-control", stdin=stdin).stdout == (message + "\n").encode()
    )
    text = run_cli("decode", "-o", "text", "--include-control", stdin=stdin).stdout.decode()
    assert text == f"2020-09-14T19:00:03.794Z   {message}\n"
    assert [
        json.loads(line) for line in run_cli("decode", "--documents", stdin=stdin).stdout.splitlines()
    ] == [control]


def test_given_options_between_files_then_every_file_read_with_every_option(tmp_path):
    """`logstream decode a.json -r dir/ --messages b.json`, as cat, grep and ls take them. Before:
    'unrecognized arguments: dir/ b.json' (exit 2): files were taken only before the first option
    or after the last."""
    from logstream import testing as t

    def event(message: str) -> bytes:
        return json.dumps(t.lambda_event(t.make_document([message + "\n"]))).encode()

    (tmp_path / "a.json").write_bytes(event("a"))
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "in-dir.json").write_bytes(event("in dir"))
    (tmp_path / "b.json").write_bytes(event("b"))
    (tmp_path / "-c.json").write_bytes(event("dash"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "logstream",
            "decode",
            "a.json",
            "-r",
            "dir",
            "--messages",
            "b.json",
            "--",
            "-c.json",
        ],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"a\nin dir\nb\ndash\n", b"")
    mistyped = run_cli("decode", "a.json", "--messgaes", "b.json")
    assert mistyped.returncode == 2
    assert (  # (argparse takes b.json for the value of the unknown option)
        "logstream decode: error: unrecognized arguments: --messgaes b.json; did you mean --messages?"
        in mistyped.stderr.decode().splitlines()
    )


_PROCESSING_VALUES = {
    "--parse": [],
    "--join-multiline": [],
    "--multiline-start": ["^START"],
    "--include": ["x"],
    "--exclude": ["x"],
    "--min-level": ["WARN"],
    "--sample": ["0.5"],
    "--redact": ["email"],
    "--redact-pattern": ["x"],
    "--enrich": [],
    "--tag": ["team=a"],
}


def test_given_the_processing_flags_then_the_table_below_names_each_of_them():
    from logstream.cli.args import build_parser

    group = next(
        g for g in build_parser("decode")._action_groups if g.title and g.title.startswith("processing")
    )
    assert sorted(a.option_strings[0] for a in group._group_actions) == sorted(_PROCESSING_VALUES)


@pytest.mark.parametrize("flag", list(_PROCESSING_VALUES))
def test_given_a_processing_flag_with_documents_then_a_usage_error_naming_it(flag):
    """Before: a usage error that named no flag ('processing flags apply to events')."""
    done = run_cli("decode", "--documents", flag, *_PROCESSING_VALUES[flag], stdin=b"")
    assert (done.returncode, done.stdout) == (2, b"")
    message = f"logstream decode: error: {flag} applies to events; --documents prints every document as sent"
    assert message in done.stderr.decode().splitlines()
