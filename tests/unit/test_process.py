"""The processing stages and the pipeline, on real-looking lines of every runtime."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream import ConfigError, decode_log_stream
from logstream.models import LogEvent, LogStream, MessageType
from logstream.ndjson import event_lines
from logstream.process import (
    Pipeline,
    PipelineConfig,
    add_tags,
    enrich,
    filter_min_level,
    filter_patterns,
    from_stream,
    join_multiline,
    parse_events,
    sample,
    sample_keeps,
)
from logstream.process.multiline import _join
from logstream.testing import make_document

RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2024-05-01T12:00:00.123Z"


def stream_of(messages, *, group="/aws/lambda/checkout", name="2024/05/01/[$LATEST]0123abcd", fields=None):
    events = tuple(
        LogEvent(f"{i:056d}", 1714564800000 + i, m, fields[i] if fields else None)
        for i, m in enumerate(messages)
    )
    return LogStream(MessageType.DATA_MESSAGE, "123456789012", group, name, ("all",), events)


def events_of(messages, **kw):
    return from_stream(stream_of(messages, **kw))


def eid(i):
    return f"{i:056d}"


# ------------------------------------------------------------------ multi-line joining
def joined(messages, start=None):
    return [(e.id, e.message, e.joined_ids) for e in join_multiline(events_of(messages), start)]


def test_given_java_stack_trace_split_per_line_then_one_event_with_joined_ids():
    lines = [
        "2024-05-01 12:00:00 ERROR OrderService - charge failed",
        "java.lang.IllegalStateException: card declined",
        "\tat com.shop.OrderService.charge(OrderService.java:88)",
        "\tat com.shop.Handler.handleRequest(Handler.java:31)",
        "Caused by: java.net.SocketTimeoutException: Read timed out",
        "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
        "\t... 12 more",
        "2024-05-01 12:00:01 INFO  OrderService - next order",
    ]
    assert joined(lines) == [
        (eid(0), lines[0], None),
        (eid(1), "\n".join(lines[1:7]), [eid(2), eid(3), eid(4), eid(5), eid(6)]),
        (eid(7), lines[7], None),
    ]


def _joined_size(message, ids):
    """What the cap counts, written out: the message and each joined id with its quotes and comma."""
    return len(message.encode()) + sum(len(i) + 3 for i in ids)


def test_given_a_start_pattern_that_never_matches_again_then_joined_events_stay_under_the_cap():
    """A MULTILINE_START that matched once would make one event of the whole batch: joined events
    stop at MAX_JOINED_BYTES (message and ids), the next continuation starting the next one;
    nothing is lost and the order stays."""
    from logstream.process.multiline import MAX_JOINED_BYTES

    lines = ["BEGIN"] + [f"line {i} {'é' * 100}" for i in range(3000)]  # ~600 KB of UTF-8
    out = join_multiline(events_of(lines), re.compile("BEGIN"))
    assert len(out) > 1
    for e, after in zip(out, [*out[1:], None], strict=True):
        assert _joined_size(e.message, e.joined_ids or []) <= MAX_JOINED_BYTES
        if after is not None:  # full: the next line would have taken it over
            first = after.message.split("\n", 1)[0]
            ids = [*(e.joined_ids or []), after.id]
            assert _joined_size(e.message + "\n" + first, ids) > MAX_JOINED_BYTES
    assert [e.id for e in out][0] == eid(0)
    assert "\n".join(e.message for e in out) == "\n".join(lines)
    ids = [i for e in out for i in [e.id, *(e.joined_ids or [])]]
    assert ids == [eid(i) for i in range(len(lines))]


def test_given_a_python_traceback_over_the_cap_then_its_exception_line_still_joins_the_last_part(monkeypatch):
    from logstream.process import multiline

    monkeypatch.setattr(multiline, "MAX_JOINED_BYTES", 200)
    frames = [f'  File "/var/task/app.py", line {i}, in f{i}' for i in range(8)]
    lines = ["Traceback (most recent call last):", *frames, "ValueError: boom", "next"]
    out = join_multiline(events_of(lines))
    assert [e.message for e in out][-1] == "next"
    assert out[-2].message.endswith("\nValueError: boom")  # joined: the traceback is still in progress
    assert all(_joined_size(e.message, e.joined_ids or []) <= 200 for e in out)
    assert "\n".join(e.message for e in out) == "\n".join(lines)
    assert len(out) > 2


def test_given_a_head_over_the_cap_on_its_own_then_the_continuation_is_an_event_of_its_own():
    from logstream.process.multiline import MAX_JOINED_BYTES

    lines = ["x" * MAX_JOINED_BYTES, "\tat Handler.handle(Handler.java:12)"]
    assert joined(lines) == [(eid(0), lines[0], None), (eid(1), lines[1], None)]


def test_given_python_chained_traceback_then_joined_up_to_the_last_exception_line():
    lines = [
        "Traceback (most recent call last):\n",
        '  File "/app/main.py", line 4, in load\n',
        "    return cfg['db']\n",
        "KeyError: 'db'\n",
        "\n",
        "During handling of the above exception, another exception occurred:\n",
        "\n",
        "Traceback (most recent call last):\n",
        '  File "/app/main.py", line 9, in <module>\n',
        "RuntimeError: no database configured\n",
        "INFO:root:shutting down\n",
    ]
    out = joined(lines)
    assert out == [(eid(0), "".join(lines[:10]), [eid(i) for i in range(1, 10)]), (eid(10), lines[10], None)]


def test_given_node_error_stack_then_joined():
    lines = [
        "Error: connect ECONNREFUSED 10.0.0.5:5432",
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:82:21)",
    ]
    assert joined(lines) == [(eid(0), "\n".join(lines), [eid(1), eid(2)])]


def test_given_go_panic_then_goroutine_and_frames_joined():
    lines = [
        "panic: runtime error: index out of range [3] with length 3",
        "",
        "goroutine 1 [running]:",
        "main.handler(...)",
        "\t/build/main.go:14 +0x1d",
        "main.main()",
        "\t/build/main.go:20 +0x25",
        "exit status 2",
    ]
    out = joined(lines)
    assert out == [(eid(0), "\n".join(lines[:7]), [eid(i) for i in range(1, 7)]), (eid(7), lines[7], None)]


def test_given_start_pattern_then_every_non_matching_event_continues_the_previous():
    lines = ["2024-05-01 12:00:00 first", "detail one", "detail two", "2024-05-01 12:00:01 second"]
    out = joined(lines, start=re.compile(r"\d{4}-\d\d-\d\d "))
    assert out == [(eid(0), "\n".join(lines[:3]), [eid(1), eid(2)]), (eid(3), lines[3], None)]


def test_given_platform_lines_then_never_joined_nor_joined_to():
    lines = [
        f"START RequestId: {RID} Version: $LATEST\n",
        "    indented app line\n",
        f"END RequestId: {RID}\n",
    ]
    assert joined(lines) == [(eid(i), m, None) for i, m in enumerate(lines)]


def test_given_lambda_multiline_event_then_left_alone():
    # Lambda's runtimes send a whole traceback as one event: nothing to join
    one = f'[ERROR]\t{TS}\t{RID}\tfailed\nTraceback (most recent call last):\n  File "/var/task/app.py"\n'
    lines = [one, f"[INFO]\t{TS}\t{RID}\tnext\n"]
    assert joined(lines) == [(eid(0), one, None), (eid(1), lines[1], None)]


def test_given_joined_event_then_first_timestamp_and_fields_kept():
    events = events_of(["Exception: x", "\tat a.b(C.java:1)"])
    out = join_multiline(events)
    assert (out[0].timestamp, out[0].id) == (1714564800000, eid(0))


# ------------------------------------------------------------------ filters
def test_given_include_and_exclude_then_both_apply_to_every_line():
    events = events_of(["GET /health 200", "POST /orders 201", "GET /orders 200", f"END RequestId: {RID}"])
    out = filter_patterns(events, include=re.compile("GET|POST"), exclude=re.compile("/health"))
    assert [e.message for e in out] == ["POST /orders 201", "GET /orders 200"]


def test_given_min_level_then_lower_levels_dropped_and_unknown_kept():
    events = parse_events(
        events_of(
            [
                f"{TS}\t{RID}\tDEBUG\tcache hit\n",
                f"[INFO]\t{TS}\t{RID}\tcharged\n",
                f"{TS}\t{RID}\twarn\tslow\n",
                '{"level":"ERROR","msg":"boom"}\n',
                f"REPORT RequestId: {RID}\tDuration: 1.00 ms\t\n",
                "print() output\n",
            ]
        )
    )
    out = filter_min_level(events, "WARN")
    assert [e.id for e in out] == [eid(2), eid(3), eid(4), eid(5)]


def test_given_sampling_then_same_events_kept_on_every_run_and_about_the_rate():
    messages = [f"[INFO]\t{TS}\t{RID}\tline {i}\n" for i in range(2000)]
    first = [e.id for e in sample(parse_events(events_of(messages)), 0.25)]
    second = [e.id for e in sample(parse_events(events_of(messages)), 0.25)]
    assert first == second
    assert 400 <= len(first) <= 600
    assert first == [eid(i) for i in range(2000) if sample_keeps(eid(i), 0.25)]


def test_given_sampling_then_platform_lines_and_warn_and_above_never_dropped():
    messages = []
    for i in range(300):
        messages += [
            f"START RequestId: {RID} Version: $LATEST\n",
            f"[WARNING]\t{TS}\t{RID}\tretry {i}\n",
            f"{TS}\t{RID}\tERROR\tfailed {i}\n",
            f"END RequestId: {RID}\n",
            f"REPORT RequestId: {RID}\tDuration: 1.00 ms\t\n",
            f"{TS} {RID} Task timed out after 3.00 seconds\n",
        ]
    events = parse_events(events_of(messages))
    assert len(sample(events, 0.01)) == len(messages)


def test_given_sampling_without_parse_then_levels_still_protect_warnings():
    from logstream.process import detected_level

    messages = [f"{TS}\t{RID}\tWARN\tw{i}\n" for i in range(200)]
    assert len(sample(events_of(messages), 0.01, level_of=detected_level)) == 200


# ------------------------------------------------------------------ enrichment and tags
def test_given_lambda_group_then_function_name_version_and_region():
    events = enrich(events_of(["hi"], name="2024/05/01/[42]0123abcd"), "us-east-1")
    assert (events[0].function_name, events[0].function_version, events[0].region) == (
        "checkout",
        "42",
        "us-east-1",
    )


def test_given_region_in_extracted_fields_then_it_wins():
    events = enrich(events_of(["hi"], fields=[{"@aws.region": "ap-south-1"}]), "us-east-1")
    assert events[0].region == "ap-south-1"


def test_given_non_lambda_group_then_no_function_fields():
    events = enrich(events_of(["hi"], group="/ecs/web", name="web/web/abc"), None)
    assert (events[0].function_name, events[0].function_version, events[0].region) == (None, None, None)


def test_given_edge_group_then_function_name_without_region_prefix():
    events = enrich(events_of(["hi"], group="/aws/lambda/us-east-1.edge-auth"), None)
    assert events[0].function_name == "edge-auth"


def test_given_tags_then_every_event_carries_them():
    events = add_tags(events_of(["a", "b"]), {"team": "payments"})
    assert [e.tags for e in events] == [{"team": "payments"}, {"team": "payments"}]


# ------------------------------------------------------------------ configuration
def test_given_environment_then_every_option_read():
    cfg = PipelineConfig.from_env(
        {
            "PARSE_MESSAGES": "TRUE",
            "MULTILINE_START": r"^\d{4}-",
            "INCLUDE_PATTERN": "order",
            "EXCLUDE_PATTERN": "health",
            "MIN_LEVEL": "warning",
            "SAMPLE_RATE": "0.1",
            "REDACT": "email, ipv4",
            "REDACT_PATTERNS": "password=(\\S+)\n\nsk_live_\\w+\n",
            "TAGS": "team=payments, env=prod",
            "AWS_REGION": "eu-central-1",
        }
    )
    assert cfg.parse and cfg.join_multiline and cfg.enriches
    assert cfg.multiline_start.pattern == r"^\d{4}-"
    assert (cfg.include.pattern, cfg.exclude.pattern) == ("order", "health")
    assert (cfg.min_level, cfg.sample_rate, cfg.redact) == ("WARN", 0.1, ("email", "ipv4"))
    assert [p.pattern for p in cfg.redact_patterns] == ["password=(\\S+)", "sk_live_\\w+"]
    assert (dict(cfg.tags), cfg.region) == ({"team": "payments", "env": "prod"}, "eu-central-1")


def test_given_empty_environment_then_everything_off():
    cfg = PipelineConfig.from_env({"PARSE_MESSAGES": "", "SAMPLE_RATE": " "})
    assert not cfg.enabled
    assert not Pipeline(cfg).enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARSE_MESSAGES": "maybe"}, "PARSE_MESSAGES='maybe': expected true or false"),
        ({"SAMPLE_RATE": "0"}, "SAMPLE_RATE='0': expected a number with 0 < rate <= 1"),
        ({"SAMPLE_RATE": "1.5"}, "SAMPLE_RATE='1.5': expected a number with 0 < rate <= 1"),
        ({"SAMPLE_RATE": "nan"}, "SAMPLE_RATE='nan': expected a number with 0 < rate <= 1"),
        ({"SAMPLE_RATE": "half"}, "SAMPLE_RATE='half': expected a number with 0 < rate <= 1"),
        ({"MIN_LEVEL": "LOUD"}, "MIN_LEVEL='LOUD': expected one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ({"INCLUDE_PATTERN": "(unclosed"}, "INCLUDE_PATTERN='(unclosed': not a valid regular expression"),
        ({"REDACT_PATTERNS": "ok\n[bad"}, "REDACT_PATTERNS pattern 2='[bad': not a valid regular expression"),
        ({"REDACT": "email,phone"}, "REDACT='email,phone': unknown rule(s) phone"),
        ({"TAGS": "team"}, "TAGS: 'team' is not key=value"),
        ({"TAGS": "=x"}, "TAGS: '=x' is not key=value"),
        (
            {"MULTILINE_START": "^x", "JOIN_MULTILINE": "false"},
            "MULTILINE_START is set but JOIN_MULTILINE is false",
        ),
    ],
)
def test_given_bad_variable_then_config_error_names_it(env, message):
    with pytest.raises(ConfigError) as err:
        PipelineConfig.from_env(env)
    assert str(err.value).startswith(message)


def test_given_flags_then_same_config_and_errors_name_the_flag():
    import argparse

    args = argparse.Namespace(
        parse=True,
        join_multiline=False,
        multiline_start=None,
        include=None,
        exclude="health",
        min_level="error",
        sample="0.5",
        redact=["email", "jwt,bearer"],
        redact_pattern=["token=(\\w+)"],
        enrich=False,
        tag=["team=payments", "env=prod"],
    )
    cfg = PipelineConfig.from_flags(args, region="us-west-2")
    assert (cfg.parse, cfg.enriches, cfg.min_level, cfg.sample_rate) == (True, True, "ERROR", 0.5)
    assert cfg.redact == ("email", "jwt", "bearer")
    assert dict(cfg.tags) == {"team": "payments", "env": "prod"}
    with pytest.raises(ConfigError, match=r"^--sample='2'"):
        PipelineConfig.from_flags(argparse.Namespace(sample="2"))


def test_given_enrich_false_with_parse_then_no_enrichment():
    cfg = PipelineConfig.from_env({"PARSE_MESSAGES": "true", "ENRICH": "false"})
    assert (cfg.parse, cfg.enriches) == (True, False)


# ------------------------------------------------------------------ the pipeline
def _payload_stream():
    return decode_log_stream(
        make_document(
            [
                f"START RequestId: {RID} Version: $LATEST\n",
                f"{TS}\t{RID}\tINFO\tcharged bob@example.org\n",
                f'{{"level":"WARN","requestId":"{RID}","msg":"slow","peer":"10.0.0.9"}}\n',
                "java.lang.IllegalStateException: boom\n",
                "\tat com.shop.Handler.handle(Handler.java:12)\n",
                f"END RequestId: {RID}\n",
            ],
            log_group="/aws/lambda/checkout",
            log_stream="2024/05/01/[$LATEST]0123abcd",
        )
    )


def test_given_nothing_configured_then_lines_are_logstream_decodes_bytes():
    stream = _payload_stream()
    assert Pipeline(PipelineConfig()).lines(stream) == event_lines(stream)


def test_given_stages_off_then_not_in_the_pipeline():
    assert Pipeline(PipelineConfig(parse=True, enrich=False)).stages[0][0] == "select"
    assert len(Pipeline(PipelineConfig(parse=True, enrich=False)).stages) == 1
    names = [n for n, _ in Pipeline(PipelineConfig.from_env({"REDACT": "all", "JOIN_MULTILINE": "1"})).stages]
    assert names == ["join", "redact"]


NEW_KEYS = {
    "level",
    "requestId",
    "time",
    "json",
    "joinedIds",
    "region",
    "functionName",
    "functionVersion",
    "tags",
}


def test_given_everything_on_then_decode_line_plus_new_keys_in_order():
    stream = _payload_stream()
    cfg = PipelineConfig.from_env(
        {
            "PARSE_MESSAGES": "true",
            "JOIN_MULTILINE": "true",
            "REDACT": "all",
            "TAGS": "team=pay",
            "AWS_REGION": "eu-west-1",
        }
    )
    lines = [json.loads(x) for x in Pipeline(cfg).lines(stream).splitlines()]
    plain = [json.loads(x) for x in event_lines(stream).splitlines()]
    assert len(lines) == 5  # the stack trace line joined into the exception
    context = {"owner", "logGroup", "logStream", "subscriptionFilters", "id", "timestamp", "message"}
    for line in lines:
        assert list(line)[:7] == [
            "owner",
            "logGroup",
            "logStream",
            "subscriptionFilters",
            "id",
            "timestamp",
            "message",
        ]
        assert set(line) - context <= NEW_KEYS
        assert (line["region"], line["functionName"], line["functionVersion"], line["tags"]) == (
            "eu-west-1",
            "checkout",
            "$LATEST",
            {"team": "pay"},
        )
    assert lines[1]["message"] == f"{TS}\t{RID}\tINFO\tcharged [REDACTED:email]\n"
    assert (lines[1]["level"], lines[1]["requestId"], lines[1]["time"]) == ("INFO", RID, TS)
    assert lines[2]["json"] == {"level": "WARN", "requestId": RID, "msg": "slow", "peer": "[REDACTED:ipv4]"}
    assert lines[3]["message"] == plain[3]["message"] + plain[4]["message"]
    assert lines[3]["joinedIds"] == [plain[4]["id"]]
    assert [line["id"] for line in lines] == [plain[i]["id"] for i in (0, 1, 2, 3, 5)]


def test_given_parse_only_then_message_unchanged():
    stream = _payload_stream()
    out = Pipeline(PipelineConfig(parse=True)).process(stream)
    assert [e.message for e in out] == [e.message for e in stream.log_events]


def test_given_all_events_filtered_then_no_lines():
    stream = _payload_stream()
    assert Pipeline(PipelineConfig(include="no such text")).lines(stream) == b""


def test_given_line_separator_in_message_then_processed_line_escapes_it_like_decode():
    stream = stream_of(["a\u2028b\n"])
    data = Pipeline(PipelineConfig(parse=True)).lines(stream)
    assert data.count(b"\n") == 1
    assert b"\\u2028" in data
    assert json.loads(data)["message"] == "a\u2028b\n"


# ------------------------------------------------------------------ fast paths = straightforward paths
_JOIN_LINES = [
    "java.lang.IllegalStateException: boom",
    "\tat Handler.handle(Handler.java:12)",
    "Caused by: java.io.IOException: closed",
    "\t... 12 more",
    "Traceback (most recent call last):",
    '  File "/var/task/app.py", line 3, in handler',
    "ValueError: bad",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
    "goroutine 1 [running]:",
    "goroutine x",
    "main.main()",
    "created by main.start",
    "\t/app/main.go:12 +0x1d",
    "",
    "\n",
    "plain line\n",
    "Starting up",
    "START RequestId: 1 Version: $LATEST\n",
    "REPORT RequestId: 1\tDuration: 1.00 ms\n",
    f"{TS}\t{RID}\tERROR\tInvoke Error",
]


@given(st.lists(st.sampled_from(_JOIN_LINES), max_size=40))
def test_given_any_lines_when_joined_then_skipping_quiet_events_changes_nothing(messages):
    def result(events):
        return [(e.id, e.message, e.joined_ids) for e in events]

    assert result(join_multiline(events_of(messages))) == result(_join(events_of(messages), None, None))
