"""The one-pass selection stage (patterns, parse, minimum level, sampling) against the four stage
functions applied one after the other: same events kept, same fields, same counts."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from logstream.models import LogEvent, LogStream, MessageType
from logstream.process import Pipeline, PipelineConfig
from logstream.process.events import from_stream
from logstream.process.filters import detected_level, filter_min_level, filter_patterns, parsed_level, sample
from logstream.process.parse import parse_events
from logstream.process.select import Selection

from .test_lambda_lines import CASES

RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2024-05-01T12:00:00.123Z"

# every runtime's shapes (the parser's table), platform lines, levels, plain text and near-misses
LINES = [line for line, _ in CASES.values()] + [
    f"START RequestId: {RID} Version: $LATEST\n",
    f"END RequestId: {RID}\n",
    f"REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\n",
    f"[DEBUG]\t{TS}\t{RID}\tcache miss\n",
    f"[ERROR]\t{TS}\t{RID}\tboom\n",
    f"{TS}\t{RID}\tTRACE\tentering\n",
    '{"level":"debug","msg":"GET /health"}\n',
    '{"severity":"WARNING","msg":"slow"}\n',
    '{"level":30,"time":1714564800123,"msg":"pino"}\n',
    "GET /health 200\n",
    "plain text\n",
    "",
    "{not json\n",
]
PATTERNS = [
    None,
    re.compile("health"),  # plain text: a substring test
    re.compile("RequestId"),
    re.compile(""),
    re.compile("GET /health 200\n"),
    re.compile(r"^\{"),
    re.compile("x^"),
    re.compile("health", re.IGNORECASE),  # a flag: a regex search
]


def _stream(messages):
    events = tuple(LogEvent(f"{i:056d}", 1714564800000 + i, m) for i, m in enumerate(messages))
    return LogStream(MessageType.DATA_MESSAGE, "123", "/aws/lambda/f", "s", ("sub",), events)


def _staged(events, include, exclude, parse, min_level, rate):
    """The reference: the four stage functions in the pipeline's order, counting as it does."""
    counts = {}

    def count(name, before, after):
        if len(after) != len(before):
            counts[name] = counts.get(name, 0) + len(before) - len(after)
        return after

    if include is not None or exclude is not None:
        events = count("patterns", events, filter_patterns(events, include, exclude))
    if parse:
        events = parse_events(events)
    level_of = parsed_level if parse else detected_level
    if min_level is not None:
        events = count("min_level", events, filter_min_level(events, min_level, level_of))
    if rate < 1.0:
        events = count("sample", events, sample(events, rate, level_of))
    return events, counts


def _fields(events):
    return [(e.id, e.message, e.level, e.request_id, e.time, e.json) for e in events]


@settings(max_examples=300)
@given(
    messages=st.lists(st.sampled_from(LINES), max_size=30),
    include=st.sampled_from(PATTERNS),
    exclude=st.sampled_from(PATTERNS),
    parse=st.booleans(),
    min_level=st.sampled_from([None, "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
    rate=st.sampled_from([1.0, 0.9, 0.5, 0.1, 0.001]),
)
def test_given_any_lines_and_options_when_selected_in_one_pass_then_same_as_the_stages(
    messages, include, exclude, parse, min_level, rate
):
    stream = _stream(messages)
    expected, expected_counts = _staged(from_stream(stream), include, exclude, parse, min_level, rate)
    counts = {}
    got = Selection(include=include, exclude=exclude, parse=parse, min_level=min_level, sample_rate=rate)(
        from_stream(stream), counts
    )
    assert _fields(got) == _fields(expected)
    assert counts == expected_counts


def test_given_every_option_then_the_pipeline_counts_each_part_under_its_own_name():
    messages = [
        "GET /health 200\n",  # patterns
        f"[DEBUG]\t{TS}\t{RID}\tcache miss\n",  # min_level
        f"[INFO]\t{TS}\t{RID}\tkept\n",
        f"[ERROR]\t{TS}\t{RID}\tkept: error\n",
        f"END RequestId: {RID}\n",
    ]
    # a rate so low that every INFO line without protection is dropped (crc32 < 1 of 2^32)
    env = {"EXCLUDE_PATTERN": "health", "MIN_LEVEL": "INFO", "SAMPLE_RATE": "0.0000000001", "ENRICH": "false"}
    pipeline = Pipeline(PipelineConfig.from_env({**env, "PARSE_MESSAGES": "true"}))
    counts = {}
    kept = pipeline.process(_stream(messages), counts)
    assert [e.message for e in kept] == [messages[3], messages[4]]
    assert counts == {"patterns": 1, "min_level": 1, "sample": 1}
    assert [name for name, _ in pipeline.stages] == ["select"]


def test_given_no_per_event_option_then_no_selection_stage():
    assert not Selection().enabled
    names = [n for n, _ in Pipeline(PipelineConfig.from_env({"REDACT": "all", "TAGS": "a=b"})).stages]
    assert names == ["redact", "tags"]


# ------------------------------------------------------------------ lines() = process() written out
JSON_LINES = [
    '{"level":"INFO","msg":"a"}\n',
    '{ "level" : "warn" ,\t"requestId": "r-1", "nested": {"k": [1, 2.50, "x"]} }\n',  # spaces kept
    '{"level":"ERROR",\n "msg":"pretty printed"}\n',  # spans lines: written as re-encoded JSON
    '{"msg":"caf\\u00e9 \\u2028 sep","time":1714564800,"user":"bob@example.org"}\n',
    '{"severity":"WARNING","AWSRequestId":"r-2","@timestamp":"2024-05-01T12:00:00Z"}',
    '{"record":"not an object","type":"platform.x","level":"debug"}\n',
    '{"time":"2024-05-01T12:00:00.000Z","type":"platform.start","record":{"requestId":"r-3"}}',
    '{"a":' + "[" * 2000 + "]" * 2000 + "}\n",  # nesting too deep to parse: no json
    "[1,2,3]\n",
    '{"level":"INFO"} trailing\n',
    f'{TS}\t{RID}\tINFO\t{{"nested":{{"deep":true}}, "ip": "10.1.2.3"}}\n',
    f'[INFO]\t{TS}\t{RID}\t{{"msg": "token Bearer abcdefghijklmnop123"}}\n',
    '{"msg":"line\u2028separator and next\u0085line"}\n',  # raw U+2028 / U+0085 inside a string
]


@settings(max_examples=200)
@given(
    messages=st.lists(st.sampled_from(LINES + JSON_LINES), max_size=20),
    env=st.fixed_dictionaries(
        {},
        optional={
            "PARSE_MESSAGES": st.sampled_from(["true", "false"]),
            "MIN_LEVEL": st.sampled_from(["DEBUG", "WARN"]),
            "SAMPLE_RATE": st.sampled_from(["0.5", "1"]),
            "REDACT": st.sampled_from(["all", "email,ipv4"]),
            "JOIN_MULTILINE": st.just("true"),
            "EXCLUDE_PATTERN": st.just("health"),
            "TAGS": st.just("team=a"),
        },
    ),
)
def test_given_any_lines_and_options_then_lines_are_the_processed_events_written_out(messages, env):
    import msgspec

    pipeline = Pipeline(PipelineConfig.from_env(env, region="eu-west-1"))
    stream = _stream(messages)
    counts_lines, counts_process = {}, {}
    written = pipeline.lines(stream, counts_lines)
    processed = pipeline.process(stream, counts_process)
    got = [msgspec.json.decode(line) for line in written.splitlines()]
    expected = [msgspec.json.decode(msgspec.json.encode(e)) for e in processed]
    assert got == expected
    assert counts_lines == counts_process
    for line in written.splitlines():  # one JSON document per line, whatever the JSON held
        assert line.startswith(b"{") and line.endswith(b"}")
    assert b"\xe2\x80\xa8" not in written and b"\xc2\x85" not in written


@given(
    pattern=st.text(alphabet="ab .*+?()[]{}|^$\\\n\té", max_size=6),
    text=st.text(alphabet="ab .*+?()[]{}|^$\\\n\té", max_size=20),
)
def test_given_plain_text_pattern_then_substring_test_agrees_with_the_regex(pattern, text):
    from logstream.process.select import _literal

    try:
        compiled = re.compile(pattern)
    except re.error:
        return
    literal = _literal(compiled)
    if literal is not None:
        assert (literal in text) == (compiled.search(text) is not None)
