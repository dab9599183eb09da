"""A hostile second look at the processing pipeline (issue #13): the one-pass selection, the JSON
parse and the batch redaction, attacked with generated JSON texts, runtime prefixes, escapes,
line separators and look-alike platform lines.

What is locked in here: ``lines()`` is ``process()`` written out (key by key, in order, not only
as decoded dicts), every line is one strict JSON document, the one-pass selection is the four
stage functions on every runtime shape, an app line that looks like Lambda's START line is
redacted like any other, and the defects the review found stay fixed."""

import json
import re

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstream.models import LogEvent, LogStream, MessageType
from logstream.process import Pipeline, PipelineConfig, Redactor
from logstream.process import redact as redact_module
from logstream.process.events import from_stream
from logstream.process.select import Selection

from .test_select import _staged  # the reference: the four stage functions, one after the other

RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2024-05-01T12:00:00.123Z"


def _stream(messages, fields=None):
    events = tuple(
        LogEvent(f"{i:056d}", 1714564800000 + i, m, fields[i] if fields else None)
        for i, m in enumerate(messages)
    )
    return LogStream(MessageType.DATA_MESSAGE, "123", "/aws/lambda/f", "s", ("sub",), events)


def _strict_pairs(line: bytes):
    """A line decoded by Python's json with every object as its list of (key, value) pairs, in
    order (duplicate keys kept), and non-finite numbers refused."""

    def finite(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"number out of range: {text}")
        return value

    def no_constant(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(line, object_pairs_hook=list, parse_float=finite, parse_constant=no_constant)


# ------------------------------------------------------------------ generated JSON texts
# Whitespace JSON allows between tokens, except line breaks (an object spanning lines is
# re-encoded, not kept as text: covered by the README and test_lambda_lines).
_WS = st.sampled_from(["", "", " ", "\t", "  "])
_KEYS = st.sampled_from(
    [
        "level",
        "levelname",
        "severity",
        "log.level",
        "Level",
        "LogLevel",
        "requestId",
        "AWSRequestId",
        "function_request_id",
        "aws_request_id",
        "awsRequestId",
        "FunctionRequestId",
        "timestamp",
        "time",
        "@timestamp",
        "ts",
        "Timestamp",
        "type",
        "msg",
        "message",
        "user",
        "log_level",
        "at_timestamp",
        "x",
    ]
)
# string bodies as JSON text: escapes (\\u0040 hides an "@", \\/ a "/"), raw non-ASCII, raw
# U+2028/U+2029/U+0085 (legal inside JSON strings, line breaks to some NDJSON readers), level
# words in every case, a pair of escaped surrogates
_STRING_BODIES = st.sampled_from(
    [
        "",
        "INFO",
        "warn",
        "Warning",
        " error ",
        "fatal",
        "verbose",
        "x",
        "platform.start",
        "platform.report",
        "2024-05-01T12:00:00Z",
        "bob@example.org",
        "bob\\u0040example.org",
        "a\\/b",
        '\\n\\t\\\\\\"',
        "caf\u00e9",
        "\u2028",
        "\u2029",
        "\u0085",
        "\\u2028",
        "\\ud83d\\ude00",
        "\U0001f600",
        "\x7f",
        "10.0.0.1",
    ]
)
_NUMBERS = st.sampled_from(
    ["0", "-0", "30", "40", "50", "1714564800", "1714564800123", "1.5", "-0.0", "1E2", "2.5e-3", "1e-400"]
    + ["123456789012345678901234567890", "1714564800.5", "99999999999999999999.0"]
)
_SCALARS = st.one_of(
    _STRING_BODIES.map(lambda s: f'"{s}"'),
    _NUMBERS,
    st.sampled_from(["true", "false", "null"]),
)


def _key_text(key: str, escaped: bool) -> str:
    if escaped and key:  # the first letter as a \\u escape: the same key once decoded
        return f'"\\u{ord(key[0]):04x}{key[1:]}"'
    return f'"{key}"'


@st.composite
def _object(draw, values, distinct_keys=True):
    keys = draw(st.lists(_KEYS, max_size=6, unique=distinct_keys))
    members = []
    for key in keys:
        ws = draw(st.tuples(_WS, _WS, _WS, _WS))
        members.append(f"{ws[0]}{_key_text(key, draw(st.booleans()))}{ws[1]}:{ws[2]}{draw(values)}{ws[3]}")
    return "{" + ",".join(members) + "}"


def _values(distinct_keys=True):
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
            _object(inner, distinct_keys),
        ),
        max_leaves=12,
    )


def _json_texts(distinct_keys=True):
    values = _values(distinct_keys)
    record = _object(values, distinct_keys).map(lambda o: '"record":' + o)
    plain = _object(values, distinct_keys)
    # a platform.* record now and then (its requestId is read when no other id is)
    with_record = st.tuples(plain, record).map(
        lambda t: t[0][:-1] + ("," if t[0] != "{}" else "") + t[1] + "}"
    )
    return st.one_of(plain, with_record)


# every runtime prefix that can carry a JSON body, and none
_PREFIXES = st.sampled_from(
    [
        "",
        f"[INFO]\t{TS}\t{RID}\t",
        f"[ERROR]\t{TS}\t{RID}\t",
        f"[NOTSET]\t{TS}\t{RID}\t",
        f"{TS}\t{RID}\tWARN\t",
        f"{TS}\t{RID}\t",
        f"{TS}\tundefined\tINFO\t",
        "[DEBUG] ",
        f"2024-05-01 12:00:00 {RID} INFO ",
        "2024/05/01 12:00:00 ",
        f"I, [2024-05-01T12:00:00.123456 #8]  INFO {RID} -- : ",
    ]
)
_ENDS = st.sampled_from(["", "\n", " \n", "\t", "\r\n"])


def _messages(distinct_keys=True):
    return st.tuples(_PREFIXES, _json_texts(distinct_keys), _ENDS).map("".join)


ENVS = st.fixed_dictionaries(
    {"PARSE_MESSAGES": st.just("true")},
    optional={
        "MIN_LEVEL": st.sampled_from(["DEBUG", "WARN"]),
        "SAMPLE_RATE": st.sampled_from(["0.5", "0.01"]),
        "REDACT": st.sampled_from(["all", "email", "ipv4"]),
        "EXCLUDE_PATTERN": st.just("health"),
        "TAGS": st.just("team=a"),
        "ENRICH": st.sampled_from(["true", "false"]),
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_messages(), max_size=12), env=ENVS)
def test_given_generated_json_lines_then_lines_are_process_written_out_key_by_key(messages, env):
    """Stricter than test_select's check (decoded dicts): keys in order, values by Python's json,
    and each line one document for a reader that splits on every Unicode line break."""
    pipeline = Pipeline(PipelineConfig.from_env(env, region="eu-west-1"))
    stream = _stream(messages)
    counts_lines, counts_process = {}, {}
    written = pipeline.lines(stream, counts_lines)
    processed = pipeline.process(stream, counts_process)
    assert counts_lines == counts_process
    lines = written.decode().splitlines()  # str.splitlines: also \x1c-\x1e, \x85, U+2028, U+2029
    assert len(lines) == len(processed)
    assert [_strict_pairs(line) for line in lines] == [
        _strict_pairs(msgspec.json.encode(e)) for e in processed
    ]


# ------------------------------------------------------------------ one pass = the four stages


# platform lines and their look-alikes: an app printing START itself (with a level, a secret,
# JSON after it), ids cut or missing, JSON platform records with and without spaces, the timeout
_PLATFORM_LIKE = st.sampled_from(
    [
        f"START RequestId: {RID} Version: $LATEST\n",
        f"END RequestId: {RID}\n",
        f"REPORT RequestId: {RID}\tDuration: 1.00 ms\n",
        "START RequestId: \n",
        "START RequestId:",
        "START RequestId: [ERROR] app line that starts like a platform line\n",
        'START RequestId: {"level":"DEBUG"}\n',
        "START RequestId: " + "a" * 80 + "\n",
        "END RequestId:\tx\n",
        "REPORT RequestId: bob@example.org\n",
        "start RequestId: x\n",
        " START RequestId: x\n",
        "INIT_START Runtime Version: python:3.13\n",
        '{"time":"2024-05-01T12:00:00.000Z","type":"platform.start","record":{"requestId":"r-3"}}\n',
        '{"time": "2024-05-01T12:00:00.000Z", "type": "platform.start", "record": {"requestId": "r-3"}}\n',
        '{"time":"2024-05-01T12:00:00.000Z","type":"platform.report","level":"DEBUG"}\n',
        f"{TS} {RID} Task timed out after 3.00 seconds\n",
        f"RequestId: {RID} Error: Runtime exited with error: signal: killed\n",
        "E, [2024-05-01T12:00:00.123456 #8] ERROR -- : boom\n",
        "time=2024-05-01T12:00:00Z level=debug msg=x\n",
        "level=warn msg=y\n",
        "plain\n",
        "",
    ]
)
_PATTERNS = st.sampled_from(
    [None, re.compile("RequestId"), re.compile("^START"), re.compile(r"\{"), re.compile("x^")]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(st.one_of(_PLATFORM_LIKE, _messages()), max_size=25),
    include=_PATTERNS,
    exclude=_PATTERNS,
    parse=st.booleans(),
    min_level=st.sampled_from([None, "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
    rate=st.sampled_from([1.0, 0.5, 0.001, 1e-10]),
)
def test_given_platform_look_alikes_and_json_lines_when_selected_in_one_pass_then_as_the_four_stages(
    messages, include, exclude, parse, min_level, rate
):
    stream = _stream(messages)
    expected, expected_counts = _staged(from_stream(stream), include, exclude, parse, min_level, rate)
    counts = {}
    select = Selection(include=include, exclude=exclude, parse=parse, min_level=min_level, sample_rate=rate)
    got = select(from_stream(stream), counts)
    assert counts == expected_counts

    def fields(e):
        return (e.id, e.message, e.level, e.request_id, e.time, e.json)

    assert [fields(e) for e in got] == [fields(e) for e in expected]


def test_given_an_app_line_that_starts_like_lambdas_start_line_then_kept_by_every_filter_as_documented():
    """SAMPLE_RATE never drops START/END/REPORT lines, MIN_LEVEL keeps lines without a level: an
    app's own "START RequestId: ..." is one of them (nothing tells the two apart), in both paths."""
    messages = [
        "START RequestId: spoofed [DEBUG] looks like a platform line\n",
        f"[DEBUG]\t{TS}\t{RID}\tdropped by MIN_LEVEL\n",
    ]
    env = {"PARSE_MESSAGES": "true", "MIN_LEVEL": "INFO", "SAMPLE_RATE": "0.0000000001", "ENRICH": "false"}
    pipeline = Pipeline(PipelineConfig.from_env(env))
    counts = {}
    lines = pipeline.lines(_stream(messages), counts).splitlines()
    assert [msgspec.json.decode(line)["message"] for line in lines] == [messages[0]]
    assert msgspec.json.decode(lines[0])["requestId"] == "spoofed"
    assert counts == {"min_level": 1}


@pytest.mark.parametrize("method", ["lines", "process"])
def test_given_an_app_start_line_carrying_a_secret_then_message_and_request_id_redacted(method):
    message = "START RequestId: bob@example.org and key AKIAIOSFODNN7EXAMPLE\n"
    env = {"PARSE_MESSAGES": "true", "REDACT": "all", "SAMPLE_RATE": "0.0000000001", "ENRICH": "false"}
    pipeline = Pipeline(PipelineConfig.from_env(env))
    out = getattr(pipeline, method)(_stream([message]))
    event = msgspec.json.decode(out.splitlines()[0]) if method == "lines" else msgspec.to_builtins(out[0])
    assert event["message"] == "START RequestId: [REDACTED:email] and key [REDACTED:aws-access-key]\n"
    assert event["requestId"] == "[REDACTED:email]"


# ------------------------------------------------------------------ redaction of parsed JSON
@pytest.mark.parametrize(
    ("message", "expected_json"),
    [
        # a match in the message: the object is decoded and every string inside redacted
        ('{"user":"bob@example.org","n":1E2}\n', {"user": "[REDACTED:email]", "n": 100.0}),
        # an escape hides the "@" from the message's search: the strings are searched anyway
        ('{"user":"bob\\u0040example.org"}\n', {"user": "[REDACTED:email]"}),
        # a JWT whose dots are escapes
        (
            '{"t":"eyJhbGciOiJIUzI1NiJ9\\u002eeyJzdWIiOiIxIn0\\u002esig"}\n',
            {"t": "[REDACTED:jwt]"},
        ),
        # a secret behind a runtime prefix
        (f'[INFO]\t{TS}\t{RID}\t{{"ip":"10.0.0.1"}}\n', {"ip": "[REDACTED:ipv4]"}),
        # an escaped tab between Bearer and its token
        ('{"auth":"Bearer\\tabcdefghijklmnop1"}', {"auth": "Bearer\t[REDACTED:bearer]"}),
    ],
)
def test_given_a_secret_in_a_json_message_then_the_parsed_json_written_by_lines_is_redacted(
    message, expected_json
):
    pipeline = Pipeline(
        PipelineConfig.from_env({"PARSE_MESSAGES": "true", "REDACT": "all", "ENRICH": "false"})
    )
    stream = _stream(["plain", message])
    line = pipeline.lines(stream).splitlines()[1]
    assert msgspec.json.decode(line)["json"] == expected_json
    assert msgspec.to_builtins(pipeline.process(stream)[1])["json"] == expected_json


def test_given_extracted_fields_and_parsed_json_then_both_redacted_in_lines():
    fields = [{"client": "10.0.0.1", "@aws.region": "eu-west-1"}]
    env = {"PARSE_MESSAGES": "true", "REDACT": "ipv4"}
    pipeline = Pipeline(PipelineConfig.from_env(env, region="us-east-1"))
    event = msgspec.json.decode(pipeline.lines(_stream(['{"ip":"10.0.0.1"}'], fields)))
    assert event["extractedFields"] == {"client": "[REDACTED:ipv4]", "@aws.region": "eu-west-1"}
    assert event["json"] == {"ip": "[REDACTED:ipv4]"}
    assert event["region"] == "eu-west-1"


# ------------------------------------------------------------------ the batch search, adversarially
# Pieces of secrets and what surrounds them in JSON logs: escapes, quotes, separators the rules'
# \s does or does not take (\v yes; \x1c, NBSP, U+2028 no), non-ASCII and astral letters next
# to a secret (one "?" each in the batch's ASCII view), names in both cases.
_SECRET_PIECES = [
    "bob",
    "@",
    "example.org",
    "\\u0040",
    "\\/",
    '\\"',
    "\\n",
    '"',
    "'",
    ":",
    "=",
    " ",
    "\t",
    "\x0b",
    "\x1c",
    "\u00a0",
    "\u2028",
    "\u00e9",
    "\U0001f600",
    "Bearer",
    "BEARER",
    "abcdefghijklmnop1",
    "secret_access_key",
    "SECRET_KEY",
    "SecretAccessKey",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9",
    ".",
    "eyJzdWIiOiIxIn0",
    "10.0.0.1",
    "::",
    "fe80",
    "4111111111111111",
    "4111 1111 1111 1111",
    "-",
    "7",
]


@pytest.mark.parametrize("backend", ["re2", "find"])
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.lists(st.sampled_from(_SECRET_PIECES), max_size=10).map("".join), max_size=30))
def test_given_secrets_among_escapes_and_separators_when_redacted_as_a_batch_then_as_text_by_text(
    backend, texts
):
    redactor = Redactor(["all"])
    expected = {}
    for i, text in enumerate(texts):
        redacted, n = redactor.text(text)
        if n:
            expected[i] = redacted
    redact_module.use_re2(backend == "re2")
    try:
        assert redact_module.re2_in_use() == (backend == "re2")
        assert redactor.batch(texts) == expected
    finally:
        redact_module.use_re2(True)


def test_given_lines_counts_then_the_self_metrics_name_each_drop_where_the_readme_says():
    """patterns and min_level are DroppedFiltered, sample is DroppedSampled; events joined into
    another are neither (they are not dropped): they are JoinedEvents."""
    from handlers._selfmetrics import Tally

    messages = [
        "GET /health 200\n",  # patterns
        f"[DEBUG]\t{TS}\t{RID}\tcache miss\n",  # min_level
        f"[INFO]\t{TS}\t{RID}\tsampled out\n",  # sample (crc32 of its id is not < 1 of 2^32)
        "java.lang.IllegalStateException: boom\n",  # sample: no level, not a platform line
        "\tat Handler.handle(Handler.java:12)\n",  # joined into the line before
        f"END RequestId: {RID}\n",  # platform: kept
    ]
    env = {
        "PARSE_MESSAGES": "true",
        "JOIN_MULTILINE": "true",
        "EXCLUDE_PATTERN": "health",
        "MIN_LEVEL": "INFO",
        "SAMPLE_RATE": "0.0000000001",
        "ENRICH": "false",
    }
    tally = Tally()
    written = Pipeline(PipelineConfig.from_env(env)).lines(_stream(messages), tally.stages)
    kept = [msgspec.json.decode(line)["message"] for line in written.splitlines()]
    assert kept == [messages[5]]
    assert tally.stages == {"join": 1, "patterns": 1, "min_level": 1, "sample": 2}
    values = tally.values(now_ms=0)
    assert (values["DroppedFiltered"], values["DroppedSampled"], values["JoinedEvents"]) == (2, 2, 1)


# ------------------------------------------------------------------ defects the review found (fixed)
def _as_written(events):
    return [msgspec.to_builtins(e) for e in events]


# D1 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("number", ["1e400", "-1e309", "1" + "0" * 5000])
@pytest.mark.parametrize("redact", [None, "email"])
def test_given_a_json_number_out_of_range_then_lines_neither_raise_nor_keep_what_process_drops(
    number, redact
):
    env = {"PARSE_MESSAGES": "true", "ENRICH": "false", **({"REDACT": redact} if redact else {})}
    pipeline = Pipeline(PipelineConfig.from_env(env))
    message = f'{{"n":{number},"user":"bob@example.org","trace":"a\\nb"}}\n'
    stream = _stream(["before", message, "after"])
    lines = pipeline.lines(stream).splitlines()
    assert [msgspec.json.decode(line) for line in lines] == _as_written(pipeline.process(stream))


def test_given_one_record_with_a_number_out_of_range_when_transformed_then_the_other_record_is_still_ok():
    from handlers._transform import transform_response
    from logstream.testing import firehose_event, make_document

    pipeline = Pipeline(PipelineConfig.from_env({"PARSE_MESSAGES": "true", "REDACT": "email"}))
    event = firehose_event(
        [make_document(["fine\n"]), make_document(['{"n":1e400,"user":"bob@example.org"}\n'])]
    )
    response, _ = transform_response(event, pipeline=pipeline)
    assert [r["result"] for r in response["records"]] == ["Ok", "Ok"]


# D2 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lines", "process"])
def test_given_json_nested_as_deep_as_msgspec_parses_then_redaction_neither_raises_nor_misses(method):
    import inspect
    import sys

    from logstream.parsers.lambda_lines import parse_fields

    # as deep as msgspec parses from here (its limit is the interpreter's, less the stack in use)
    depth = sys.getrecursionlimit() - len(inspect.stack()) - 50
    message = '{"a":' + "[" * depth + '"bob@example.org"' + "]" * depth + "}\n"
    assert parse_fields(message) is not None  # parsed: an object to redact
    pipeline = Pipeline(
        PipelineConfig.from_env({"PARSE_MESSAGES": "true", "REDACT": "email", "ENRICH": "false"})
    )
    out = getattr(pipeline, method)(_stream([message]))
    written = out if method == "lines" else msgspec.json.encode(out)
    assert b"bob@example.org" not in written


# D3 / D6 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "message", "secret"),
    [
        (
            {"REDACT": "aws-secret-key"},
            '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
            "wJalrXUtnFEMI",
        ),
        (
            {"REDACT": "aws-secret-key"},
            '{"aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
            "wJalrXUtnFEMI",
        ),
        ({"REDACT_PATTERNS": '"password":\\s*"([^"]*)"'}, '{"user":"bob","password":"hunter2"}', "hunter2"),
    ],
)
@pytest.mark.parametrize("method", ["lines", "process"])
def test_given_a_secret_named_by_its_json_key_then_the_parsed_json_does_not_keep_it(
    env, message, secret, method
):
    pipeline = Pipeline(PipelineConfig.from_env({"PARSE_MESSAGES": "true", "ENRICH": "false", **env}))
    out = getattr(pipeline, method)(_stream([message]))
    event = msgspec.json.decode(out) if method == "lines" else _as_written(out)[0]
    assert secret not in event["message"]  # holds today
    assert secret not in msgspec.json.encode(event["json"]).decode()  # fails: json keeps it


# D4 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lines", "process"])
def test_given_a_secret_behind_an_escape_in_a_json_id_or_time_then_requestid_and_time_are_redacted(method):
    message = '{"requestId":"bob\\u0040example.org","timestamp":"from 10.0.0\\u002e1"}\n'
    pipeline = Pipeline(
        PipelineConfig.from_env({"PARSE_MESSAGES": "true", "REDACT": "all", "ENRICH": "false"})
    )
    out = getattr(pipeline, method)(_stream([message]))
    event = msgspec.json.decode(out) if method == "lines" else _as_written(out)[0]
    assert event["json"] == {"requestId": "[REDACTED:email]", "timestamp": "from [REDACTED:ipv4]"}  # holds
    assert event["requestId"] == "[REDACTED:email]"  # fails: "bob@example.org"
    assert event["time"] == "from [REDACTED:ipv4]"  # fails: "from 10.0.0.1"


# D5 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ('{"user":"bob\\u0040example.org"}', "bob\\u0040example.org"),
        ('{"SecretAccessKey":"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY"}', "wJalrXUtnFEMI"),
        ('{"peers":"up:\\n10.0.0.1\\n10.0.0.2"}', "10.0.0.1"),
        ('{"client":"\\t192.168.1.20"}', "192.168.1.20"),
    ],
)
def test_given_a_secret_a_json_escape_hides_from_the_message_text_then_nothing_written_holds_it(
    message, secret, parse
):
    pipeline = Pipeline(
        PipelineConfig.from_env({"PARSE_MESSAGES": parse, "REDACT": "all", "ENRICH": "false"})
    )
    event = msgspec.json.decode(pipeline.lines(_stream([message])))
    decoded_message = msgspec.json.decode(event["message"])  # what any consumer of the JSON message sees
    assert secret.replace("\\u0040", "@") not in msgspec.json.encode(decoded_message).decode()
    assert secret not in event["message"]


# D7 --------------------------------------------------------------------------------------------
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_messages(distinct_keys=False), max_size=12), env=ENVS)
def test_given_json_lines_with_duplicate_keys_then_lines_are_process_written_out_key_by_key(messages, env):
    pipeline = Pipeline(PipelineConfig.from_env(env, region="eu-west-1"))
    stream = _stream(messages)
    lines = pipeline.lines(stream).decode().splitlines()
    expected = [_strict_pairs(msgspec.json.encode(e)) for e in pipeline.process(stream)]
    assert [_strict_pairs(line) for line in lines] == expected


def test_given_pinos_duplicate_keys_then_lines_writes_one_key_as_process_does():
    message = '{"level":30,"time":1714564800123,"a":"property","a":"prop","msg":"howdy"}\n'
    pipeline = Pipeline(PipelineConfig.from_env({"PARSE_MESSAGES": "true", "ENRICH": "false"}))
    line = pipeline.lines(_stream([message]))
    assert _strict_pairs(line)[-1] == (
        "json",
        [("level", 30), ("time", 1714564800123), ("a", "prop"), ("msg", "howdy")],
    )


# D8 --------------------------------------------------------------------------------------------
def test_given_a_start_line_whose_id_runs_past_64_characters_then_no_part_of_an_email_is_left_in_requestid():
    message = "START RequestId: " + "a" * 55 + "bob@example.org\n"
    pipeline = Pipeline(
        PipelineConfig.from_env({"PARSE_MESSAGES": "true", "REDACT": "email", "ENRICH": "false"})
    )
    event = msgspec.json.decode(pipeline.lines(_stream([message])))
    assert event["message"] == "START RequestId: [REDACTED:email]\n"
    assert "bob@" not in event["requestId"]
