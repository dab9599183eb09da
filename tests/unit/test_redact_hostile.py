"""A hostile second look at the redaction of JSON messages (``redact_events``, ``_redact_parsed``,
``Redactor.values`` / ``json_objects`` / ``batch``): escapes that hide a secret, secrets named by
a key or held in a key, prefixes and trailing newlines kept around a re-written object, numbers
and duplicate keys in a re-written object, custom patterns that break the compact text, objects
deeper than the interpreter's recursion limit, one batch per step however many events, both
trigger searches, the handlers' use through ``Pipeline.lines``.

What is locked in here is what holds; the defects the review found are in its report."""

import json
import sys

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstream import ConfigError
from logstream.models import LogEvent, LogStream, MessageType
from logstream.process import Pipeline, PipelineConfig, Redactor, parse_events, redact_events
from logstream.process import redact as redact_module
from logstream.process.events import ProcessedEvent, from_stream

RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2024-05-01T12:00:00.123Z"
EMAIL = "bob@example.org"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(params=["re2", "pure"])
def backend(request):
    """The batch with google-re2's trigger search, and again with the ``bytes.find`` fallback."""
    redact_module.use_re2(request.param == "re2")
    assert redact_module.re2_in_use() == (request.param == "re2")  # google-re2 is a dev dependency
    yield request.param
    redact_module.use_re2(True)


def _stream(messages, fields=None):
    events = tuple(
        LogEvent(f"{i:056d}", 1714564800000 + i, m, fields[i] if fields else None)
        for i, m in enumerate(messages)
    )
    return LogStream(MessageType.DATA_MESSAGE, "123456789012", "/aws/lambda/f", "s", ("sub",), events)


def _pipeline(**env):
    return Pipeline(PipelineConfig.from_env({"ENRICH": "false", **env}))


def _written(pipeline, messages, method):
    """The events as written: decoded NDJSON lines, or ``process()`` as builtins."""
    out = getattr(pipeline, method)(_stream(messages))
    if method == "lines":
        return [msgspec.json.decode(line) for line in out.splitlines()]
    return [msgspec.to_builtins(e) for e in out]


def _events(messages, parse):
    events = from_stream(_stream(messages))
    return parse_events(events) if parse else events


def _json_at_brace(message):
    """The JSON object of a message, from its first ``{`` (Python's json, strict about escapes)."""
    return json.loads(message[message.index("{") :])


# ------------------------------------------------------------------ escapes that hide a secret
HIDDEN = [
    # (message, the JSON it must become, compact)
    ('{"to":"bob\\u0040example.org"}', {"to": "[REDACTED:email]"}),
    ('{"to" : "bob\\u0040example.org" , "n" : 1}', {"to": "[REDACTED:email]", "n": 1}),
    ('{"a":[{"b":["x","bob\\u0040example.org"]}]}', {"a": [{"b": ["x", "[REDACTED:email]"]}]}),
    ('{"bob\\u0040example.org":1}', {"[REDACTED:email]": 1}),  # a key, \u-escaped
    ('{"peer":"10.0.0\\u002e1"}', {"peer": "[REDACTED:ipv4]"}),
    (
        '{"SecretAccessKey":"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY"}',
        {"SecretAccessKey": "[REDACTED:aws-secret-key]"},
    ),
    ('{"Secret\\u0041ccessKey":"' + SECRET_KEY + '"}', {"SecretAccessKey": "[REDACTED:aws-secret-key]"}),
    ('{"auth":"Bearer abcdefghij\\u002dklmnop1234"}', {"auth": "Bearer [REDACTED:bearer]"}),
    ('{"k":"\\u0041KIAIOSFODNN7EXAMPLE"}', {"k": "[REDACTED:aws-access-key]"}),
    ('{"t":"x\\neyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}', {"t": "x\n[REDACTED:jwt]"}),
    ('{"ip":"\\n2001:db8::1"}', {"ip": "\n[REDACTED:ipv6]"}),
    ('{"card":"\\n4111 1111 1111 1111"}', {"card": "\n[REDACTED:credit-card]"}),
]


@pytest.mark.parametrize("method", ["lines", "process"])
@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(("message", "expected"), HIDDEN)
def test_given_a_secret_hidden_by_a_json_escape_then_the_message_is_rewritten_without_it(
    message, expected, parse, method
):
    [event] = _written(_pipeline(PARSE_MESSAGES=parse, REDACT="all"), [message + "\n"], method)
    assert json.loads(event["message"]) == expected and event["message"].endswith("}\n")
    if parse == "true":
        assert event["json"] == expected
    else:
        assert "json" not in event


@pytest.mark.parametrize(
    ("prefix", "request_id"),
    [
        (f"[INFO]\t{TS}\t{RID}\t", RID),
        (f"{TS}\t{RID}\tINFO\t", RID),
        (f"{TS}\t{RID}\tERROR\tInvoke Error \t", RID),
        ("2024/05/01 12:00:00 ", None),
    ],
)
def test_given_a_runtime_prefix_then_a_rewritten_object_keeps_the_prefix_and_the_trailing_newline(
    prefix, request_id
):
    message = prefix + '{"user":"bob\\u0040example.org", "trace":"a\\nb"}\r\n'
    [event] = _written(_pipeline(PARSE_MESSAGES="true", REDACT="email"), [message], "lines")
    assert event["message"] == prefix + '{"user":"[REDACTED:email]", "trace":"a\\nb"}\r\n'
    assert event["json"] == {"user": "[REDACTED:email]", "trace": "a\nb"}
    assert event.get("requestId") == request_id


@pytest.mark.parametrize("parse", [True, False])
def test_given_escapes_but_nothing_hidden_then_the_message_is_kept_byte_for_byte(backend, parse):
    message = '{ "trace" : "a\\nb\\u00e9\\/c" ,\t"n": 1.10, "big": 123456789012345678901234567890 }\n'
    [event] = redact_events(_events([message], parse), Redactor(["all"]))
    assert event.message == message
    if parse:
        assert event.json == {"trace": "a\nbé/c", "n": 1.1, "big": 123456789012345678901234567890}


def test_given_a_match_in_the_text_then_only_the_match_changes_and_the_spacing_stays(backend):
    message = '{ "to" : "bob@example.org" ,\t"n": 1.10 }\n'
    [event] = redact_events(_events([message], True), Redactor(["email"]))
    assert event.message == '{ "to" : "[REDACTED:email]" ,\t"n": 1.10 }\n'
    assert event.json == {"to": "[REDACTED:email]", "n": 1.1}


def test_given_a_secret_hidden_by_an_escape_then_only_its_string_is_rewritten(backend):
    """Numbers, spacing and the other strings stay as written; only the string that hid a
    match is written again."""
    message = '{"id":123456789012345678901234567890,"x":1.10,"e":1E2,"z":-0.0,"to":"bob\\u0040example.org"}'
    [event] = redact_events(_events([message], False), Redactor(["email"]))
    assert (
        event.message
        == '{"id":123456789012345678901234567890,"x":1.10,"e":1E2,"z":-0.0,"to":"[REDACTED:email]"}'
    )
    assert json.loads(event.message) == {
        "id": 123456789012345678901234567890,
        "x": 1.1,
        "e": 100.0,
        "z": -0.0,
        "to": "[REDACTED:email]",
    }


def test_given_duplicate_keys_then_every_value_is_searched_and_both_stay(backend):
    """Each string literal is redacted where it stands: a duplicate key's first value, which a
    parser drops, is searched too, and the message keeps both (json, parsed, the last)."""
    message = '{"to":"carol\\u0040example.org","to":"bob\\u0040example.org"}'
    [event] = redact_events(_events([message], True), Redactor(["email"]))
    assert event.message == '{"to":"[REDACTED:email]","to":"[REDACTED:email]"}'
    assert event.json == {"to": "[REDACTED:email]"}


def test_given_non_ascii_and_line_separators_around_a_hidden_secret_then_lines_escape_them_and_read_back(
    backend,
):
    message = '{"m":"中文\u2028 bob\\u0040example.org \u0085😀"}\n'
    pipeline = _pipeline(PARSE_MESSAGES="true", REDACT="email")
    out = pipeline.lines(_stream([message]))
    assert b"\xe2\x80\xa8" not in out and b"\xc2\x85" not in out  # written as \u2028 and \u0085
    [line] = out.splitlines()
    event = json.loads(line)
    assert event["message"] == '{"m":"中文\u2028 [REDACTED:email] \u0085😀"}\n'
    assert event["json"] == {"m": "中文\u2028 [REDACTED:email] \u0085😀"}


def test_given_a_message_that_is_only_a_secret_then_it_becomes_only_the_replacement(backend):
    events = redact_events(
        _events(["bob@example.org", '{"e":"bob\\u0040example.org"}'], True), Redactor(["email"])
    )
    assert [e.message for e in events] == ["[REDACTED:email]", '{"e":"[REDACTED:email]"}']
    assert events[1].json == {"e": "[REDACTED:email]"}


# ------------------------------------------------------------------ requestId, time, extractedFields
@pytest.mark.parametrize("method", ["lines", "process"])
def test_given_a_secret_in_a_prefix_request_id_of_an_escaped_line_then_request_id_is_redacted(method):
    message = f"[INFO]\t{TS}\tbob@example.org\ttrace a\\nb\n"
    [event] = _written(_pipeline(PARSE_MESSAGES="true", REDACT="email"), [message], method)
    assert event["message"] == f"[INFO]\t{TS}\t[REDACTED:email]\ttrace a\\nb\n"
    assert event["requestId"] == "[REDACTED:email]"
    assert event["time"] == TS


def test_given_a_clean_message_but_a_secret_in_an_extracted_field_then_only_the_field_changes(backend):
    fields = [{"user": "bob@example.org", "@aws.account": "bob@example.org"}]
    [event] = redact_events(from_stream(_stream(["GET /health 200"], fields)), Redactor(["email"]))
    assert event.message == "GET /health 200"
    assert event.extracted_fields == {"user": "[REDACTED:email]", "@aws.account": "bob@example.org"}


def test_given_no_match_and_no_backslash_then_the_parsed_object_is_left_as_it_was(backend):
    [event] = _events(['{"level":"INFO","msg":"ok","n":[1,2]}'], True)
    parsed = event.json
    redact_events([event], Redactor(["all"]))
    assert event.json is parsed
    assert event.json == {"level": "INFO", "msg": "ok", "n": [1, 2]}


# ------------------------------------------------------------------ custom patterns
def test_given_a_custom_pattern_that_breaks_the_compact_text_then_the_strings_are_still_redacted(backend):
    redactor = Redactor(["email"], ['"note":"[^"]*",?'])  # a whole pair: the compact text is no JSON after it
    obj = {"note": "x", "to": "bob@example.org", "n": [1, {"cc": "carol@example.org"}]}
    assert redactor.json_object(obj) == {
        "note": "x",
        "to": "[REDACTED:email]",
        "n": [1, {"cc": "[REDACTED:email]"}],
    }
    assert obj == {"note": "x", "to": "bob@example.org", "n": [1, {"cc": "carol@example.org"}]}


def test_given_a_custom_pattern_with_a_group_naming_a_key_then_json_and_an_escaped_message_drop_it(backend):
    redactor = Redactor([], ['"password":"([^"]*)"'])
    message = '{"user": "bob", "password": "hunter2", "trace": "a\\nb"}'
    [event] = redact_events(_events([message], True), redactor)
    assert event.json == {"user": "bob", "password": "[REDACTED:custom]", "trace": "a\nb"}
    assert event.message == '{"user":"bob","password":"[REDACTED:custom]","trace":"a\\nb"}'


def test_given_an_anchored_custom_pattern_then_it_anchors_at_each_text_of_a_batch(backend):
    redactor = Redactor(["email"], ["^secret-(\\w+)"])
    texts = ["secret-abc at start", "no secret-abc here", "mail bob@example.org", "secret-x\nsecret-y"]
    assert redactor.batch(texts) == {
        0: "secret-[REDACTED:custom] at start",
        2: "mail [REDACTED:email]",
        3: "secret-[REDACTED:custom]\nsecret-y",
    }
    # inside an object every string is a text of its own: each string's start is an anchor
    assert redactor.values([{"a": "secret-abc", "b": ["x secret-abc", "secret-z"]}]) == [
        {"a": "secret-[REDACTED:custom]", "b": ["x secret-abc", "secret-[REDACTED:custom]"]}
    ]


# ------------------------------------------------------------------ Redactor.values, json_objects
_PIECES = st.sampled_from(
    [EMAIL, "10.1.2.3", "AKIAIOSFODNN7EXAMPLE", "4111111111111111", "2001:db8::1", "\n", "\t", "é", "x", " ",
     "/", "\\", '"', "\u2028", "@", ".", ":", "{", "}", "[", "]", "secret_key=", SECRET_KEY, "😀"]
)  # fmt: skip
_STRINGS = st.lists(_PIECES, max_size=6).map("".join)
_SCALARS = (
    _STRINGS | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | st.none()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_STRINGS, inner, max_size=4),
    max_leaves=12,
)


def _strings_of(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings_of(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_of(item)


def _text_by_text(redactor, value):
    """:meth:`Redactor.value` computed another way: recursively, :meth:`Redactor.text` per string."""
    if isinstance(value, str):
        return redactor.text(value)[0]
    if isinstance(value, list):
        return [_text_by_text(redactor, item) for item in value]
    if isinstance(value, dict):
        return {key: _text_by_text(redactor, item) for key, item in value.items()}
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUES, max_size=5), st.sampled_from(["re2", "pure"]))
def test_given_any_json_values_then_values_is_text_by_text_on_every_string_and_leaves_the_input(values, name):
    redactor = Redactor(["all"], ["^x(x)"])
    before = msgspec.json.encode(values)
    redact_module.use_re2(name == "re2")
    try:
        assert redactor.values(values) == [_text_by_text(redactor, v) for v in values]
    finally:
        redact_module.use_re2(True)
    assert msgspec.json.encode(values) == before  # the given values are not changed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_STRINGS, _VALUES, max_size=5))
def test_given_any_object_then_json_objects_neither_raises_nor_changes_the_input_nor_keeps_a_secret(
    obj,
):
    redactor = Redactor(["all"])
    before = msgspec.json.encode(obj)
    [out] = redactor.json_objects([obj])
    assert msgspec.json.encode(obj) == before
    assert isinstance(out, dict)
    # every string value went through the rules: redacting it again finds only what the first
    # pass revealed next to a replacement, never a secret of the input left as it was
    inputs = set(_strings_of(obj))
    assert not [s for s in _strings_of(out) if s in inputs and redactor.text(s)[1]]


def test_given_an_object_deeper_than_the_recursion_limit_then_values_copies_and_redacts_it():
    import sys

    depth = sys.getrecursionlimit() * 3
    obj: list = ["bob@example.org"]
    for _ in range(depth):
        obj = [obj]
    [out] = Redactor(["email"]).values([obj])
    node, levels = out, 0
    while len(node) == 1 and isinstance(node[0], list):
        node, levels = node[0], levels + 1
    assert (levels, node) == (depth, ["[REDACTED:email]"])
    node = obj
    while isinstance(node[0], list):
        node = node[0]
    assert node == ["bob@example.org"]  # the input is left as it was


def test_given_many_strings_then_each_redaction_step_is_one_batch(monkeypatch):
    """Events with escapes: one batch of messages, one of their requestId/time, one of their string
    literals that hold an escape, one of the texts as their strings read, one of their objects'
    compact texts; however many events and strings."""
    calls = []
    batch = Redactor.batch

    def counting(self, texts):
        calls.append(len(texts))
        return batch(self, texts)

    monkeypatch.setattr(Redactor, "batch", counting)
    messages = [
        f'[INFO]\t{TS}\t{RID}\t{{"i":{i},"to":"bob{i}\\u0040example.org","tags":["a\\nb","c","d"]}}\n'
        for i in range(500)
    ]
    events = redact_events(_events(messages, True), Redactor(["email"]))
    # messages, requestId + time, the 2 string literals of each that hold an escape, texts,
    # compact texts
    assert calls == [500, 1000, 500 * 2, 500, 500]
    assert events[7].json == {"i": 7, "to": "[REDACTED:email]", "tags": ["a\nb", "c", "d"]}
    assert events[7].message.endswith('\t{"i":7,"to":"[REDACTED:email]","tags":["a\\nb","c","d"]}\n')


# ------------------------------------------------------------------ lines() = process(), backends
_ESCAPED = st.sampled_from(["\\u0040", "\\n", "\\t", "\\/", "\\\\", '\\"', "\\u00e9", "\\u2028"])
_FRAGMENTS = st.lists(
    st.sampled_from(["bob", "example.org", "@", "10.0.0", ".1", " ", "x", "AKIAIOSFODNN7EXAMPLE", "é"])
    | _ESCAPED,
    max_size=8,
).map("".join)
_JSON_MESSAGES = st.builds(
    lambda prefix, pairs, tail: (
        prefix + "{" + ",".join(f'"k{i}":"{v}"' for i, v in enumerate(pairs)) + "}" + tail
    ),
    st.sampled_from(["", f"[INFO]\t{TS}\t{RID}\t", f"{TS}\t{RID}\tERROR\t"]),
    st.lists(_FRAGMENTS, min_size=1, max_size=4),
    st.sampled_from(["", "\n", " \r\n"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON_MESSAGES | _FRAGMENTS, min_size=1, max_size=6), st.sampled_from(["true", "false"]))
def test_given_escaped_json_messages_then_lines_is_process_written_out_and_every_line_is_json(
    messages, parse
):
    pipeline = _pipeline(PARSE_MESSAGES=parse, REDACT="all")
    stream = _stream(messages)
    lines = pipeline.lines(stream).splitlines()
    assert [json.loads(line) for line in lines] == [msgspec.to_builtins(e) for e in pipeline.process(stream)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON_MESSAGES | _FRAGMENTS, min_size=1, max_size=6), st.booleans())
def test_given_escaped_json_messages_then_both_trigger_searches_redact_alike(messages, parse):
    results = []
    for name in ("re2", "pure"):
        redact_module.use_re2(name == "re2")
        try:
            events = redact_events(_events(messages, parse), Redactor(["all"], ['k1(?=":)']))
        finally:
            redact_module.use_re2(True)
        results.append([msgspec.to_builtins(e) for e in events])
    assert results[0] == results[1]


# ------------------------------------------------------------------ the handlers
def test_given_a_hidden_secret_when_transformed_by_the_firehose_handler_then_no_record_holds_it():
    import base64

    from handlers._transform import transform_response
    from logstream.testing import firehose_event, make_document

    pipeline = _pipeline(PARSE_MESSAGES="true", REDACT="all")
    event = firehose_event(
        [
            make_document(["fine\n"]),
            make_document(
                [
                    f'[ERROR]\t{TS}\t{RID}\t{{"to":"bob\\u0040example.org","key":"\\u0041KIAIOSFODNN7EXAMPLE"}}\n'
                ]
            ),
        ]
    )
    response, _ = transform_response(event, pipeline=pipeline)
    assert [r["result"] for r in response["records"]] == ["Ok", "Ok"]
    [line] = base64.b64decode(response["records"][1]["data"]).splitlines()
    written = json.loads(line)
    assert written["json"] == {"to": "[REDACTED:email]", "key": "[REDACTED:aws-access-key]"}
    assert written["message"] == (
        f'[ERROR]\t{TS}\t{RID}\t{{"to":"[REDACTED:email]","key":"[REDACTED:aws-access-key]"}}\n'
    )


def test_given_a_hidden_secret_when_kept_as_a_cloudwatch_document_then_its_message_is_rewritten():
    from handlers._sources import kept_document

    pipeline = _pipeline(REDACT="email")
    stream = _stream(['{"to":"bob\\u0040example.org"}\n', "plain\n"], [{"u": "bob@example.org"}, None])
    counts: dict = {}
    doc = json.loads(kept_document(pipeline, stream, counts).raw)
    assert [e["message"] for e in doc["logEvents"]] == ['{"to":"[REDACTED:email]"}\n', "plain\n"]
    assert doc["logEvents"][0]["extractedFields"] == {"u": "[REDACTED:email]"}
    assert counts == {}


def test_given_processed_events_then_they_are_the_pipelines_working_copies_not_the_decoded_events():
    stream = _stream(['{"to":"bob\\u0040example.org"}'])
    events = _pipeline(REDACT="email").process(stream)
    assert isinstance(events[0], ProcessedEvent)
    assert events[0].message == '{"to":"[REDACTED:email]"}'
    assert stream.log_events[0].message == '{"to":"bob\\u0040example.org"}'  # the decoded event stays


# ------------------------------------------------------------------ defects the second review found (fixed)
@pytest.mark.parametrize("parse", ["true", "false"])
def test_given_json_nested_near_the_decoders_limit_then_redaction_never_raises(parse):
    limit = sys.getrecursionlimit()
    messages = [
        '{"a":' + "[" * d + '"bob@example.org"' + "]" * d + "}\n" for d in range(limit - 150, limit + 10)
    ]
    lines = _pipeline(PARSE_MESSAGES=parse, REDACT="all").lines(_stream(messages)).splitlines()
    assert len(lines) == len(messages)
    assert not any(b"bob@example.org" in line for line in lines)


@pytest.mark.parametrize("method", ["lines", "process"])
@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('{"to":"a\\nbob@example.org"}', {"to": "a\n[REDACTED:email]"}),
        ('{"to":"\\tbob@example.org"}', {"to": "\t[REDACTED:email]"}),
        ('{"to":"first\\u002elast@example.org"}', {"to": "[REDACTED:email]"}),
        ('{"user":"Zo\\u00eb.smith@example.com"}', {"user": "Zoë[REDACTED:email]"}),
        ('{"user":"Jos\\u00e9@example.com"}', {"user": "José@example.com"}),  # no address by the rules
        ('{"ip":"\\b::1"}', {"ip": "\b[REDACTED:ipv6]"}),
    ],
)
def test_given_a_text_match_that_starts_inside_a_json_escape_then_the_message_stays_its_redacted_json(
    message, expected, parse, method
):
    [event] = _written(_pipeline(PARSE_MESSAGES=parse, REDACT="all"), [message], method)
    assert json.loads(event["message"]) == expected
    if parse == "true":
        assert event["json"] == expected


@pytest.mark.parametrize("parse", ["true", "false"])
def test_given_a_custom_pattern_running_past_a_closing_quote_then_the_json_message_stays_json(parse):
    pipeline = _pipeline(PARSE_MESSAGES=parse, REDACT_PATTERNS="password=(\\S+)")  # the docstring's example
    [event] = _written(pipeline, ['{"msg":"login password=hunter2"}'], "lines")
    assert json.loads(event["message"]) == {"msg": "login password=[REDACTED:custom]"}


@pytest.mark.parametrize("method", ["lines", "process"])
@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, '{"m":"x\\n@example.org","SecretAccessKey":"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY"}'),
        (
            {"REDACT_PATTERNS": '"note":"[^"]*",?'},
            '{"note":"x","SecretAccessKey":"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY"}',
        ),
    ],
)
def test_given_a_match_that_breaks_the_compact_text_then_a_key_named_secret_is_still_redacted(
    env, message, parse, method
):
    [event] = _written(_pipeline(PARSE_MESSAGES=parse, REDACT="all", **env), [message], method)
    assert "wJalrXUtnFEMI" not in event["message"]
    assert "wJalrXUtnFEMI" not in json.dumps(event.get("json"))


def test_given_an_object_whose_compact_text_a_rule_breaks_then_json_object_still_finds_key_named_secrets():
    obj = {"m": "x\n@example.org", "SecretAccessKey": SECRET_KEY}
    assert Redactor(["all"]).json_object(obj)["SecretAccessKey"] == "[REDACTED:aws-secret-key]"


@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(
    "message",
    [
        'payload {"to":"bob\\u0040example.org"} sent in 3 ms',
        'user {42}: {"to":"bob\\u0040example.org"}',
        '{"a":1} {"to":"bob\\u0040example.org"}',
        '{"to":"bob\\u0040example.org"}\n    at Handler.handle(Handler.java:12)\n',
        '{"to":"bob\\u0040example.org","to":"x"}',
        '[{"to":"bob\\u0040example.org"}]',
        '{"n":1e400,"to":"bob\\u0040example.org"}',
        '{"s":"\\ud800","to":"bob\\u0040example.org"}',
        '{"to":"bob\\u0040example.org","d":' + "[" * 3000 + "]" * 3000 + "}",
    ],
)
def test_given_an_address_hidden_by_an_escape_in_json_the_decoder_does_not_take_whole_then_it_still_leaves(
    message, parse
):
    [event] = _written(_pipeline(PARSE_MESSAGES=parse, REDACT="email"), [message], "lines")
    assert "bob\\u0040example.org" not in event["message"]


@pytest.mark.parametrize(
    ("env", "message", "secret"),
    [
        (
            {"REDACT": "email", "REDACT_PATTERNS": '"password":"([^"]*)"'},
            '{"password": "hunter2", "to": "bob@example.org"}',
            "hunter2",
        ),
        ({"REDACT": "all"}, '{"m":"bob@example.org4111111111111111"}', "bob@example.org"),
    ],
)
def test_given_the_object_redaction_drops_more_than_the_text_then_the_message_drops_it_too(
    env, message, secret
):
    [event] = _written(_pipeline(PARSE_MESSAGES="true", **env), [message], "lines")
    assert secret not in json.dumps(event["json"])
    assert secret not in event["message"]
    assert json.loads(event["message"]) == event["json"]


@pytest.mark.parametrize("parse", ["true", "false"])
@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ('{"peers":{"\\t10.0.0.1":"up"}}', "10.0.0.1"),
        ('{"\\nAKIAIOSFODNN7EXAMPLE":1}', "AKIAIOSFODNN7EXAMPLE"),
    ],
)
def test_given_a_secret_in_a_key_after_a_control_character_escape_then_it_is_redacted(message, secret, parse):
    [event] = _written(_pipeline(PARSE_MESSAGES=parse, REDACT="all"), [message], "lines")
    assert secret not in event["message"]
    assert secret not in json.dumps(event.get("json"))


def test_given_a_custom_pattern_that_matches_the_empty_string_then_config_error():
    with pytest.raises(ConfigError, match="matches the empty string"):
        PipelineConfig.from_env({"REDACT_PATTERNS": "x*"})


# ------------------------------------------------------------------ keys redacted to one text
@pytest.mark.parametrize(
    "message",
    [
        '{"hosts":{"10.0.0.1":"ok","10.0.0.2":"fail","10.0.0.3":"ok"}}\n',
        '{"hosts":{"10.0.0.1" : "ok", "10.0.0.2" : "fail", "10.0.0.3" : "ok"}}\n',  # spaced
        '{"hosts":{"10.0.0.1":"ok","10\\u002e0.0.2":"fail","10.0.0.3":"ok"}}\n',  # escaped
    ],
)
def test_given_keys_redacted_to_the_same_text_then_json_keeps_every_value_numbered(backend, message):
    """``{"10.0.0.1": ..., "10.0.0.2": ...}`` with ``ipv4``: both keys become the same text.
    A dict would keep one value; ``json`` keeps all, the repeated key numbered from its second
    occurrence. The message keeps every key as it stands (redacted)."""
    [event] = redact_events(_events([message], True), Redactor(["ipv4"]))
    assert event.json == {
        "hosts": {"[REDACTED:ipv4]": "ok", "[REDACTED:ipv4]#2": "fail", "[REDACTED:ipv4]#3": "ok"}
    }
    assert event.message.count("[REDACTED:ipv4]") == 3
    assert "10.0.0" not in event.message and "10\\u002e" not in event.message


def test_given_keys_redacted_to_the_same_text_then_ndjson_lines_keep_every_value(backend):
    pipeline = _pipeline(PARSE_MESSAGES="true", REDACT="email")
    message = '{"bob@example.org":1,"carol@example.org":2}'
    [line] = _written(pipeline, [message], "lines")
    assert line["json"] == {"[REDACTED:email]": 1, "[REDACTED:email]#2": 2}
    assert line["message"] == '{"[REDACTED:email]":1,"[REDACTED:email]":2}'


def test_given_a_numbered_key_already_present_then_no_value_is_lost():
    obj = {"bob@example.org": 1, "carol@example.org": 2, "[REDACTED:email]#2": 3}
    out = Redactor(["email"]).json_object(obj)
    assert sorted(out.values()) == [1, 2, 3]
    assert list(out) == ["[REDACTED:email]", "[REDACTED:email]#2", "[REDACTED:email]#2#2"]
    assert obj == {"bob@example.org": 1, "carol@example.org": 2, "[REDACTED:email]#2": 3}  # input kept


def test_given_keys_the_message_repeats_itself_then_the_last_still_wins_beside_numbered_redactions():
    message = '{"a":1,"a":2,"bob@example.org":3,"carol@example.org":4}'
    [event] = redact_events(_events([message], True), Redactor(["email"]))
    assert event.json == {"a": 2, "[REDACTED:email]": 3, "[REDACTED:email]#2": 4}
