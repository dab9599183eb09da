"""The README's reference tables and lists say what the code and the template do: every row of the
configuration tables names a variable the handlers read, a template parameter with the same
default and allowed values, and a ``logstream decode`` flag that exists; the CLI synopsis lists
each subcommand's real options; the self-metrics, the Lambda metrics, the exit codes and the
error tree are the ones the code has. A change to either side without the other fails here."""

from __future__ import annotations

import argparse
import io
import json
import re
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import logstream
from handlers._config import Config
from handlers._selfmetrics import DIMENSION, METRICS, NAMESPACE
from logstream import ConfigError, DecodeError, LogstreamError
from logstream import testing as t
from logstream.cli.args import EXIT_CODES, SUBCOMMANDS, build_parser
from logstream.metrics import report_data
from logstream.parsers.lambda_report import parse_report
from logstream.process.config import ENV_NAMES, FLAG_NAMES, PipelineConfig
from tests import readme_text as readme
from tests.lambda_sim import Context
from tests.template import load_template

ROOT = Path(__file__).resolve().parents[2]
HANDLER_VARIABLES = ("RECORD_FORMAT", "SELF_METRICS")  # in the processing table, read by Config
OPTION_OF = {var: option for option, var in ENV_NAMES.items()}
FIELD_OF = {option: ("sample_rate" if option == "sample" else option) for option in ENV_NAMES}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template()


def function_env(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})


def processing_rows() -> list[dict[str, str]]:
    rows = readme.table(readme.section("Processing pipeline"), "| variable [parameter] |")
    out = []
    for first, flag, default, what in rows:
        m = re.match(r"^`([A-Z_]+)` \[`(\w+)`\](.*)$", first)
        assert m, first
        out.append(
            {"var": m[1], "param": m[2], "scope": m[3], "flag": flag, "default": default, "what": what}
        )
    return out


def deploy_rows() -> list[dict[str, object]]:
    rows = readme.table(readme.section("Deploy"), "| parameter |")
    return [{"params": readme.spans(p), "default": d, "what": w} for p, d, w in rows]


def load_for(var: str):
    """The configuration the handlers build from an environment holding only ``var``'s value."""
    if var in HANDLER_VARIABLES:
        return lambda env: Config.load(env)
    return lambda env: PipelineConfig.from_env(env)


def reads(var: str) -> bool:
    """The handlers' configuration reads ``var``: a value other than the default changes it or
    is refused by name."""
    try:
        changed = Config.load({var: "\x01not-a-default"})
    except ConfigError as err:
        return var in str(err)
    return changed != Config.load({})


def allowed_values_named(param: dict, row_text: str) -> list[str]:
    """The parameter's allowed values (other than empty, true and false) the row does not name."""
    values = [str(v) for v in param.get("AllowedValues", []) if str(v) not in ("", "true", "false")]
    return [v for v in values if v not in row_text]


# ------------------------------------------------------------------------ processing pipeline
def test_given_the_processing_table_then_it_lists_every_pipeline_variable_and_the_forwarder_settings():
    assert {row["var"] for row in processing_rows()} == set(ENV_NAMES.values()) | set(HANDLER_VARIABLES)


@pytest.mark.parametrize("row", processing_rows(), ids=lambda r: r["var"])
def test_given_a_processing_row_when_its_flag_is_read_then_decode_has_it_with_that_arity(row):
    decode = build_parser("decode")
    if row["flag"] == "(none)":
        assert row["var"] not in OPTION_OF  # no flag: a handler setting only
        return
    option = OPTION_OF[row["var"]]
    flag, *metavar = readme.spans(row["flag"])[0].split()
    assert flag == FLAG_NAMES[option][1]
    action = decode._option_string_actions[flag]
    assert isinstance(action, argparse._AppendAction) == ("(repeatable)" in row["flag"])
    assert (action.nargs == 0) == (metavar == [])  # a switch shows no value, an option one


@pytest.mark.parametrize("row", processing_rows(), ids=lambda r: r["var"])
def test_given_a_processing_row_when_the_variable_is_unset_then_the_code_does_what_its_default_says(row):
    var, default = row["var"], row["default"]
    load = load_for(var)
    unset = load({})
    assert load({var: ""}) == unset  # "an empty value is unset"
    if default.startswith("`"):  # a value: setting it changes nothing
        assert load({var: readme.spans(default)[0]}) == unset
    elif default in ("none", "all", "built-in rules"):  # the stage or pattern is off
        assert getattr(unset, FIELD_OF[OPTION_OF[var]]) in (None, ())
    elif default.startswith("follows "):  # ENRICH follows PARSE_MESSAGES
        leader = readme.spans(default)[0]
        assert unset.enrich is None
        assert load({leader: "true"}).enriches and not load({leader: "false"}).enriches
    else:
        pytest.fail(f"a default the test cannot read: {default!r}")


@pytest.mark.parametrize("row", processing_rows(), ids=lambda r: r["var"])
def test_given_a_processing_row_then_the_template_parameter_has_that_default_and_reaches_the_functions(
    row, template
):
    param = template["Parameters"][row["param"]]
    default = row["default"]
    if default.startswith("`") and "template parameter: empty" not in default:
        assert str(param["Default"]) == readme.spans(default)[0]
    else:
        assert param["Default"] == ""
    assert allowed_values_named(param, default + row["what"]) == []
    wired = {"Ref": row["param"]}
    forward = function_env(template, "ForwardFunction").get(row["var"])
    transform = function_env(template, "FirehoseTransformFunction").get(row["var"])
    if row["var"] == "SELF_METRICS":
        assert "every handler" in row["scope"]
        assert template["Globals"]["Function"]["Environment"]["Variables"][row["var"]] == wired
    elif row["var"] == "RECORD_FORMAT":
        assert "forwarder only" in row["scope"]
        assert (forward, transform) == (wired, None)
    else:  # "passed to both functions"
        assert (forward, transform) == (wired, wired)


# ------------------------------------------------------------------------ deploy parameters
def test_given_the_two_parameter_tables_then_together_they_name_every_template_parameter(template):
    named = [p for row in deploy_rows() for p in row["params"]] + [r["param"] for r in processing_rows()]
    assert sorted(named) == sorted(template["Parameters"])


@pytest.mark.parametrize("row", deploy_rows(), ids=lambda r: "/".join(r["params"]))
def test_given_a_deploy_row_then_each_parameter_has_that_default_and_those_allowed_values(row, template):
    default = row["default"]
    for name in row["params"]:
        param = template["Parameters"][name]
        if default == "(required)":
            assert "Default" not in param
        elif default == "empty":
            assert param["Default"] == ""
        elif default.startswith("`"):
            assert str(param["Default"]) == readme.spans(default)[0]
        elif default.isdigit():
            assert str(param["Default"]) == default
        else:  # described in words (LambdaFilterPattern): there is one
            assert param["Default"]
        assert allowed_values_named(param, default + row["what"]) == []


# ------------------------------------------------------------------------ handlers
def handler_rows() -> list[list[str]]:
    return readme.table(readme.section("Handlers and configuration"), "| handler |")


def test_given_the_handlers_table_then_it_names_the_handlers_the_template_deploys(template):
    named = {readme.spans(handler)[0] for handler, _, _ in handler_rows()}
    deployed = {
        r["Properties"]["Handler"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert named == deployed


@pytest.mark.parametrize("row", handler_rows(), ids=lambda r: readme.spans(r[0])[0])
def test_given_a_handler_row_then_every_variable_it_names_is_read_and_its_defaults_hold(row):
    env = row[2]
    names = re.findall(r"`([A-Z][A-Z0-9_]+)`", env)
    assert names
    assert [n for n in names if not reads(n)] == []
    for var, a, b in re.findall(r"`([A-Z_]+)` \((?:`([^`]+)` default|default `([^`]+)`)", env):
        value = a or b
        if var == "METRICS_NAMESPACE":  # per handler: checked on what the handler emits
            continue
        assert Config.load({var: value}) == Config.load({}), var


def test_given_the_text_under_the_handlers_table_then_the_variables_it_names_are_read():
    body = readme.section("Handlers and configuration").split("### Processing pipeline")[0]
    after = body.split("| handler |")[1].split("\n\n", 1)[1]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", after)) - {"AWS_ENDPOINT_URL", "AWS_LAMBDA_LOG_GROUP_NAME"}
    assert {"SELF_METRICS", "DEAD_LETTER_QUEUE_URL", "SKIP_LOG_GROUPS"} <= names
    assert [n for n in names if not reads(n)] == []
    # the handler's own group is skipped whatever SKIP_LOG_GROUPS says
    own = Config.load({"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/self", "SKIP_LOG_GROUPS": "/aws/lambda/x"})
    assert own.skip_log_groups == {"/aws/lambda/self", "/aws/lambda/x"}


def emitted(module: str, event: dict) -> list[dict]:
    """The metric EMF documents (not the self-metrics one) a handler built from an empty
    environment prints for ``event``."""
    import importlib

    out = io.StringIO()
    with redirect_stdout(out):
        handler = importlib.import_module(module).build(Config.load({}), dead_letters=None)
        handler(event, Context())
    docs = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith('{"_aws"')]
    return [d for d in docs if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] != NAMESPACE]


@pytest.mark.parametrize("module", ["lambda_metrics", "fluentd_metrics"])
def test_given_a_metrics_handler_row_when_nothing_is_configured_then_it_emits_in_the_documented_namespace(
    module,
):
    # (no POWERTOOLS_LOG_LEVEL here: the handler modules' loggers are made once, at import, and
    # other tests read their warnings)
    (row,) = [r for r in handler_rows() if readme.spans(r[0])[0] == f"handlers.{module}.handler"]
    namespace = re.search(r"`METRICS_NAMESPACE` \(default `([^`]+)`\)", row[2])[1]
    dimension = re.search(r"`METRICS_DIMENSION` \(default `([^`]+)`\)", row[2])
    now = int(time.time() * 1000)  # metric data older than two weeks is dropped
    if module == "lambda_metrics":
        line = (
            "REPORT RequestId: r1\tDuration: 10.0 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 64 MB\t\n"
        )
        event = t.lambda_event(t.make_document([(now, line)], log_group="/aws/lambda/checkout"))
        want_dims = [["FunctionName"]]
    else:
        status = {
            "plugin_id": "out_s3",
            "plugin_category": "output",
            "buffer_queue_length": 2,
            "retry_count": 1,
        }
        event = t.lambda_event(t.make_document([(now, json.dumps(status) + "\n")], log_group="/ecs/fluentd"))
        want_dims = [[dimension[1]]]
    docs = emitted(f"handlers.{module}", event)
    assert docs
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert (directive["Namespace"], directive["Dimensions"]) == (namespace, want_dims)


# ------------------------------------------------------------------------ self-metrics, metrics
def test_given_the_self_metrics_table_then_it_is_what_every_handler_writes_in_that_order():
    body = readme.section("Self-metrics")
    rows = readme.table(body, "| metric |")
    assert [(readme.spans(name)[0], unit) for name, unit, _ in rows] == list(METRICS)
    assert f"namespace `{NAMESPACE}`, one dimension `{DIMENSION}`" in body


def test_given_the_lambda_metrics_list_then_a_cold_start_and_a_snapstart_restore_emit_exactly_those():
    m = re.search(r"Lambda metrics \(dimension `(\w+)`\):\s*((?:\w+,\s*)+\w+)", readme.text())
    assert m
    listed = [name.strip() for name in m[2].split(",")]
    head = (
        "REPORT RequestId: {}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 64 MB\t"
    )
    cold = parse_report(head.format("a") + "Init Duration: 100.00 ms\t")
    restored = parse_report(
        head.format("b") + "Restore Duration: 200.00 ms\tBilled Restore Duration: 150 ms\t"
    )
    data = report_data(cold) + report_data(restored)
    assert sorted({d.name for d in data}) == sorted(listed)
    assert {name for d in data for name, _ in d.dimensions} == {m[1]}


# ------------------------------------------------------------------------ CLI reference
def synopsis() -> tuple[dict[str, str], str]:
    """Each subcommand's synopsis text (decode with its processing flags), and COMMON's."""
    block = readme.code_blocks(readme.section("CLI"))[0][1]
    commands: dict[str, str] = {}
    common = ""
    current = None
    for line in block.splitlines():
        line = line.split("#", 1)[0]
        if m := re.match(r"^logstream (\w+)\s", line):
            current = m[1]
            commands[current] = line[m.end() :]
        elif line.startswith("decode also takes"):
            current = "decode"
        elif line.startswith("COMMON:"):
            current = "COMMON"
            common += line[len("COMMON:") :]
        elif current == "COMMON":
            common += " " + line
        elif current is not None:
            commands[current] += " " + line
    return commands, common


def options_of(text: str) -> dict[str, tuple[bool, list[str] | None]]:
    """``option -> (shown repeatable, choices shown)`` for every option named in ``text``."""
    found: dict[str, tuple[bool, list[str] | None]] = {}
    for m in re.finditer(r"(?<![\w-])(--?[a-z][a-z-]*)(?: ([\w.=-]+(?:\|[\w.=-]+)*))?(\]\.\.\.)?", text):
        value = m[2]
        choices = value.split("|") if value and "|" in value else None
        found[m[1]] = (bool(m[3]), choices)
    return found


def test_given_the_cli_synopsis_then_it_lists_every_subcommand_and_exactly_its_options():
    commands, common = synopsis()
    assert set(commands) == set(SUBCOMMANDS)
    for name, text in commands.items():
        shown = options_of(text + " " + common)
        parser = build_parser(name)
        actions = [a for a in parser._actions if a.option_strings and a.dest != "help"]
        for action in actions:
            names = [o for o in action.option_strings if o in shown]
            assert names, (name, action.option_strings)  # every real option is in the synopsis
            repeatable, choices = shown[names[0]]
            assert repeatable == isinstance(action, argparse._AppendAction), (name, names[0])
            if action.choices is not None:
                assert choices == list(action.choices), (name, names[0])
        real = {o for a in actions for o in a.option_strings}
        assert set(shown) - real == set(), name  # and the synopsis names no option that is not


def test_given_the_exit_status_table_then_the_codes_are_the_ones_help_prints():
    rows = readme.table(readme.section("CLI"), "| status |")
    assert [int(code) for code, _ in rows] == [int(c) for c in re.findall(r"^\s+(\d+)\s", EXIT_CODES, re.M)]


# ------------------------------------------------------------------------ library
def test_given_the_error_tree_sentence_then_it_is_the_package_exception_tree():
    m = re.search(r"Errors form one tree \((.*?)\);", readme.text(), re.S)
    assert m
    tree, others = m[1].split(";", 1)
    root, middle, leaves = (readme.spans(level) for level in tree.split(">"))
    assert (root, middle) == (["LogstreamError"], ["DecodeError"])
    siblings = [n for n in readme.spans(others) if n.endswith("Error") and n != "LogstreamError"]
    for name in leaves:
        assert DecodeError in getattr(logstream, name).__bases__, name
    for name in siblings:
        assert LogstreamError in getattr(logstream, name).__bases__, name
    exported = {
        n for n in logstream.__all__ if isinstance(getattr(logstream, n), type) and n.endswith("Error")
    }
    assert exported == {"LogstreamError", "DecodeError", *leaves, *siblings}


def test_given_the_library_example_then_its_names_and_event_attributes_exist():
    block = readme.code_blocks(readme.section("Library"))[0][1]
    imported = re.search(r"from logstream import (.*)", block)[1].split(", ")
    assert all(name in logstream.__all__ for name in imported)
    doc = t.make_document([(1_714_564_800_123, "hi\n")])
    (stream,) = logstream.iter_log_streams(t.kinesis_event([doc]))
    event = logstream.decode_log_stream(t.lambda_event(doc)).log_events[0]
    assert stream.log_events[0] == event
    # "frozen LogEvent: id, timestamp (ms), message, extracted_fields, datetime (aware UTC)"
    assert (event.timestamp, event.message, event.extracted_fields) == (1_714_564_800_123, "hi\n", None)
    assert event.datetime.isoformat() == "2024-05-01T12:00:00.123000+00:00"
    with pytest.raises(AttributeError):
        event.message = "changed"  # type: ignore[misc]
