"""Lambda runtime line prefixes and JSON app logs: one real-looking line per runtime and format,
each with the fields written out by hand."""

import msgspec
import pytest

from logstream.parsers.lambda_lines import LambdaLine, normalize_level, parse_fields, parse_line

RID = "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
TS = "2024-05-01T12:00:00.123Z"

CASES = {
    # Node.js text format: console.log/warn/error, the runtime's error lines, old runtimes without level
    "node info": (f"{TS}\t{RID}\tINFO\tOrder accepted\n", LambdaLine("INFO", RID, TS)),
    "node warn": (f"{TS}\t{RID}\tWARN\tslow downstream\n", LambdaLine("WARN", RID, TS)),
    "node json body": (
        f'{TS}\t{RID}\tINFO\t{{"orderId":"o-1","items":3}}\n',
        LambdaLine("INFO", RID, TS, {"orderId": "o-1", "items": 3}),
    ),
    "node invoke error": (
        f'{TS}\t{RID}\tERROR\tInvoke Error \t{{"errorType":"TypeError","errorMessage":"x is undefined",'
        '"stack":["TypeError: x is undefined","    at Runtime.handler (/var/task/index.js:3:9)"]}\n',
        LambdaLine(
            "ERROR",
            RID,
            TS,
            {
                "errorType": "TypeError",
                "errorMessage": "x is undefined",
                "stack": ["TypeError: x is undefined", "    at Runtime.handler (/var/task/index.js:3:9)"],
            },
        ),
    ),
    "node uncaught outside an invocation": (
        f'{TS}\tundefined\tERROR\tUncaught Exception \t{{"errorType":"Runtime.ImportModuleError",'
        '"errorMessage":"Cannot find module \'app\'"}\n',
        LambdaLine(
            "ERROR",
            None,
            TS,
            {"errorType": "Runtime.ImportModuleError", "errorMessage": "Cannot find module 'app'"},
        ),
    ),
    "node old runtime without level": (f"{TS}\t{RID}\thello\n", LambdaLine(None, RID, TS)),
    "node json format": (
        f'{{"timestamp":"{TS}","level":"DEBUG","requestId":"{RID}","message":"cache miss"}}\n',
        LambdaLine(
            "DEBUG", RID, TS, {"timestamp": TS, "level": "DEBUG", "requestId": RID, "message": "cache miss"}
        ),
    ),
    # .NET: Microsoft.Extensions.Logging labels
    "dotnet info": (f"{TS}\t{RID}\tinfo\tProcessing order 42\n", LambdaLine("INFO", RID, TS)),
    "dotnet fail": (f"{TS}\t{RID}\tfail\tPayment declined\n", LambdaLine("ERROR", RID, TS)),
    "dotnet crit": (f"{TS}\t{RID}\tcrit\tOut of disk\n", LambdaLine("FATAL", RID, TS)),
    "dotnet trce": (f"{TS}\t{RID}\ttrce\tenter\n", LambdaLine("TRACE", RID, TS)),
    "dotnet json format": (
        f'{{"timestamp":"{TS}","level":"Warning","requestId":"{RID}","traceId":"Root=1-6632",'
        '"message":"retrying"}\n',
        LambdaLine(
            "WARN",
            RID,
            TS,
            {
                "timestamp": TS,
                "level": "Warning",
                "requestId": RID,
                "traceId": "Root=1-6632",
                "message": "retrying",
            },
        ),
    ),
    "powertools dotnet": (
        '{"cold_start":true,"function_request_id":"' + RID + '","timestamp":"2024-05-01T12:00:00.1234567Z",'
        '"level":"Information","service":"payments","message":"Collecting payment"}',
        LambdaLine(
            "INFO",
            RID,
            "2024-05-01T12:00:00.1234567Z",
            {
                "cold_start": True,
                "function_request_id": RID,
                "timestamp": "2024-05-01T12:00:00.1234567Z",
                "level": "Information",
                "service": "payments",
                "message": "Collecting payment",
            },
        ),
    ),
    # Python: the runtime's LambdaLoggerHandler, uncaught errors, JSON format, Powertools
    "python warning": (f"[WARNING]\t{TS}\t{RID}\tRetrying PutItem\n", LambdaLine("WARN", RID, TS)),
    "python critical": (f"[CRITICAL]\t{TS}\t{RID}\tgiving up\n", LambdaLine("FATAL", RID, TS)),
    "python json body": (
        f'[INFO]\t{TS}\t{RID}\t{{"event": "charge", "amount": 12.5}}\n',
        LambdaLine("INFO", RID, TS, {"event": "charge", "amount": 12.5}),
    ),
    "python uncaught": (
        "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n"
        '  File "/var/task/app.py", line 9, in handler\n    return event["order_id"]\n',
        LambdaLine("ERROR"),
    ),
    "python json format": (
        f'{{"timestamp": "{TS}", "level": "ERROR", "message": "boom", "logger": "root", '
        f'"requestId": "{RID}"}}\n',
        LambdaLine(
            "ERROR",
            RID,
            TS,
            {"timestamp": TS, "level": "ERROR", "message": "boom", "logger": "root", "requestId": RID},
        ),
    ),
    "powertools python": (
        '{"level":"INFO","location":"handler:12","message":"Collecting payment",'
        '"timestamp":"2024-05-01 12:00:00,123+0000","service":"payment","cold_start":true,'
        '"function_name":"pay","function_request_id":"' + RID + '"}\n',
        LambdaLine(
            "INFO",
            RID,
            "2024-05-01 12:00:00,123+0000",
            {
                "level": "INFO",
                "location": "handler:12",
                "message": "Collecting payment",
                "timestamp": "2024-05-01 12:00:00,123+0000",
                "service": "payment",
                "cold_start": True,
                "function_name": "pay",
                "function_request_id": RID,
            },
        ),
    ),
    # Java: LambdaLogger with a level, log4j2 with the Lambda appender, JSON format
    "java lambdalogger": ("[WARN] Low remaining time\n", LambdaLine("WARN")),
    "java log4j2": (
        f"2024-05-01 12:00:00 {RID} INFO  Handler - Processing order 42\n",
        LambdaLine("INFO", RID, "2024-05-01 12:00:00"),
    ),
    "java log4j2 outside an invocation": (
        "2024-05-01 12:00:00.123  ERROR Handler - init failed\n",
        LambdaLine("ERROR", None, "2024-05-01 12:00:00.123"),
    ),
    "java json format": (
        f'{{"timestamp":"{TS}","message":"order saved","level":"INFO","AWSRequestId":"{RID}"}}\n',
        LambdaLine(
            "INFO", RID, TS, {"timestamp": TS, "message": "order saved", "level": "INFO", "AWSRequestId": RID}
        ),
    ),
    # Ruby: the runtime's Logger formatter (request id), plain Logger, JSON format
    "ruby runtime logger": (
        f"I, [2024-05-01T12:00:00.123456 #8]  INFO {RID} -- : ## EVENT\n",
        LambdaLine("INFO", RID, "2024-05-01T12:00:00.123456"),
    ),
    "ruby plain logger": (
        "W, [2024-05-01T12:00:00.123456 #8]  WARN -- : disk almost full\n",
        LambdaLine("WARN", None, "2024-05-01T12:00:00.123456"),
    ),
    "ruby runtime logger error (E, like END)": (
        f"E, [2024-05-01T12:00:00.123456 #8] ERROR {RID} -- : boom\n",
        LambdaLine("ERROR", RID, "2024-05-01T12:00:00.123456"),
    ),
    "ruby json format": (
        f'{{"timestamp":"2024-05-01T12:00:00.123456Z","level":"FATAL","message":"bye","requestId":"{RID}"}}\n',
        LambdaLine(
            "FATAL",
            RID,
            "2024-05-01T12:00:00.123456Z",
            {
                "timestamp": "2024-05-01T12:00:00.123456Z",
                "level": "FATAL",
                "message": "bye",
                "requestId": RID,
            },
        ),
    ),
    # Go: package log, log/slog text and JSON, zap
    "go log": ("2024/05/01 12:00:00 listening on :8080\n", LambdaLine(None, None, "2024/05/01 12:00:00")),
    "go slog text": (
        f'time={TS} level=WARN msg="slow query" requestId={RID} ms=812\n',
        LambdaLine("WARN", RID, TS),
    ),
    "go slog json": (
        f'{{"time":"{TS}","level":"ERROR","msg":"write failed","err":"EOF"}}\n',
        LambdaLine("ERROR", None, TS, {"time": TS, "level": "ERROR", "msg": "write failed", "err": "EOF"}),
    ),
    "go zap epoch seconds": (
        '{"level":"info","ts":1714564800.123,"caller":"main.go:20","msg":"started"}\n',
        LambdaLine(
            "INFO",
            None,
            "2024-05-01T12:00:00.123Z",
            {"level": "info", "ts": 1714564800.123, "caller": "main.go:20", "msg": "started"},
        ),
    ),
    "pino numeric level, epoch ms": (
        '{"level":50,"time":1714564800123,"msg":"failed"}',
        LambdaLine(
            "ERROR", None, "2024-05-01T12:00:00.123Z", {"level": 50, "time": 1714564800123, "msg": "failed"}
        ),
    ),
    # Lambda's platform lines
    "start": (f"START RequestId: {RID} Version: $LATEST\n", LambdaLine(request_id=RID)),
    "end": (f"END RequestId: {RID}\n", LambdaLine(request_id=RID)),
    "report": (
        f"REPORT RequestId: {RID}\tDuration: 46.84 ms\tBilled Duration: 47 ms\tMemory Size: 192 MB\t"
        "Max Memory Used: 72 MB\t\n",
        LambdaLine(request_id=RID),
    ),
    "timeout": (f"{TS} {RID} Task timed out after 3.00 seconds\n\n", LambdaLine(request_id=RID, time=TS)),
    "platform.start json": (
        f'{{"time":"{TS}","type":"platform.start","record":{{"requestId":"{RID}","version":"$LATEST"}}}}',
        LambdaLine(
            None,
            RID,
            TS,
            {"time": TS, "type": "platform.start", "record": {"requestId": RID, "version": "$LATEST"}},
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_given_runtime_line_when_parsed_then_expected_fields(name):
    line, expected = CASES[name]
    assert parse_line(line) == expected
    # the pipeline's tuple form says the same
    assert parse_fields(line) == (expected.level, expected.request_id, expected.time, expected.json)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "plain text from print()\n",
        "## ENVIRONMENT VARIABLES\n",
        "[1, 2, 3]\n",  # JSON, but not an object
        "{not json at all\n",
        "2024-05-01T12:00:00.123Z started\n",  # a timestamp, but no Lambda prefix
        "[NOTALEVEL] hello\n",
        "STARTED the job\n",
        'Exception in thread "main" java.lang.IllegalStateException: boom\n',
    ],
)
def test_given_line_without_prefix_or_json_then_none(line):
    assert parse_line(line) is None
    assert parse_fields(line) is None


def test_given_prefix_and_json_with_other_level_then_prefix_wins():
    line = f'{TS}\t{RID}\tERROR\t{{"level":"debug","requestId":"other"}}\n'
    parsed = parse_line(line)
    assert (parsed.level, parsed.request_id) == ("ERROR", RID)
    assert parsed.json == {"level": "debug", "requestId": "other"}


def test_given_unknown_level_word_in_json_then_no_level_but_json_kept():
    parsed = parse_line('{"level":"verbose-ish","msg":"x"}')
    assert parsed.level is None
    assert parsed.json == {"level": "verbose-ish", "msg": "x"}


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("trace", "TRACE"),
        ("dbug", "DEBUG"),
        ("Information", "INFO"),
        ("WARNING", "WARN"),
        ("fail", "ERROR"),
        ("CRITICAL", "FATAL"),
        (40, "WARN"),
        (True, None),
        ("loud", None),
    ],
)
def test_given_level_alias_then_lambda_level_name(word, level):
    assert normalize_level(word) == level


def test_given_line_record_then_json_names_are_lambdas():
    import msgspec

    encoded = msgspec.json.decode(msgspec.json.encode(parse_line(f"[INFO]\t{TS}\t{RID}\thi\n")))
    assert encoded == {"level": "INFO", "requestId": RID, "time": TS}


# ------------------------------------------------------------------ JSON keys, hostile JSON
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # the first key (in the documented order) whose value is usable wins
        ('{"level":"loud","severity":"ERROR"}', ("ERROR", None, None)),
        ('{"severity":"ERROR","level":"warn"}', ("WARN", None, None)),
        ('{"level":null,"levelname":"DEBUG"}', ("DEBUG", None, None)),
        ('{"requestId":"","AWSRequestId":"r-2"}', (None, "r-2", None)),
        ('{"requestId":7,"aws_request_id":"r-3"}', (None, "r-3", None)),
        ('{"ts":1714564800,"timestamp":"2024-05-01T12:00:00Z"}', (None, None, "2024-05-01T12:00:00Z")),
        ('{"timestamp":null,"@timestamp":"2024-05-01T12:00:01Z"}', (None, None, "2024-05-01T12:00:01Z")),
        ('{"time":1714564800123}', (None, None, "2024-05-01T12:00:00.123Z")),
        ('{"type":"platform.start","record":{"requestId":""}}', (None, None, None)),
        ('{"type":"function","record":{"requestId":"r-4"}}', (None, None, None)),
    ],
)
def test_given_json_keys_then_first_usable_value_wins(line, expected):
    level, request_id, time, obj = parse_fields(line)
    assert (level, request_id, time) == expected
    assert obj == msgspec.json.decode(line)


def test_given_json_nested_too_deep_then_no_object_and_no_exception():
    deep = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
    assert parse_fields(deep + "\n") is None
    assert parse_fields(f"[ERROR]\t{TS}\t{RID}\t{deep}\n") == ("ERROR", RID, TS, None)
