"""Every variable a handler reads, with a wrong value, as Lambda loads the handler: importing the
module raises a ConfigError naming the variable and the value (Lambda reports an init error, every
invocation fails the same way, the event stays with Lambda's retries and on-failure destination).
Never accepted and ignored, never a failure left for the first event to find.

The artifact as Lambda's runtime loads it is checked in tests/packaging/test_runtime_init_errors.py.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from logstream import ConfigError
from tests.conftest import HANDLERS_SELF

FORWARD, TRANSFORM = "handlers.forward", "handlers.firehose_transform"
LAMBDA_METRICS, FLUENTD_METRICS = "handlers.lambda_metrics", "handlers.fluentd_metrics"
ALL = (FORWARD, TRANSFORM, LAMBDA_METRICS, FLUENTD_METRICS)
PIPELINE = (FORWARD, TRANSFORM)
METRICS = (LAMBDA_METRICS, FLUENTD_METRICS)
DEAD_LETTERS = (FORWARD, LAMBDA_METRICS, FLUENTD_METRICS)
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/events"
LEVELS = "expected one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
RULES = "expected all or any of email, ipv4, ipv6, aws-access-key, aws-secret-key, bearer, jwt, credit-card"
RATE = "expected a number with 0 < rate <= 1"
ARN_SHAPES = (
    "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME or arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)"
)


def load_handler(monkeypatch, module: str, **env: str):
    """Import ``module`` afresh with ``env`` (a handler reads its environment once, at import), as
    the other handler tests import it (their log level: Powertools configures its logger once)."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", HANDLERS_SELF)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop(module, None)
    return importlib.import_module(module)


@pytest.fixture(autouse=True)
def _handler_modules_left_as_they_were():
    """The handler modules other tests imported stay the ones they see (each reads its
    environment once, at import; these tests import them again with another)."""
    import handlers

    saved = {name: sys.modules.get(name) for name in ALL}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
            if hasattr(handlers, name.split(".")[1]):
                delattr(handlers, name.split(".")[1])
        else:
            sys.modules[name] = module
            setattr(handlers, name.split(".")[1], module)


# (variable, wrong value, the handlers that read it, the error, written out)
WRONG = [
    ("PARSE_MESSAGES", "ture", PIPELINE, "PARSE_MESSAGES='ture': expected true or false"),
    ("PARSE_MESSAGES", "1.0", PIPELINE, "PARSE_MESSAGES='1.0': expected true or false"),
    ("JOIN_MULTILINE", "yes please", PIPELINE, "JOIN_MULTILINE='yes please': expected true or false"),
    ("ENRICH", "2", PIPELINE, "ENRICH='2': expected true or false"),
    ("SELF_METRICS", "flase", ALL, "SELF_METRICS must be true or false, not 'flase'"),
    (
        "MULTILINE_START",
        "(\\d{4}",
        PIPELINE,
        "MULTILINE_START='(\\\\d{4}': not a valid regular expression (missing ), unterminated subpattern"
        " at position 0)",
    ),
    (
        "MULTILINE_START",
        "^",
        PIPELINE,
        "MULTILINE_START='^': matches at the start of any text (it can match nothing there, e.g. an empty"
        " alternative), so every line would start an event and none would be joined",
    ),
    (
        "INCLUDE_PATTERN",
        "[",
        PIPELINE,
        "INCLUDE_PATTERN='[': not a valid regular expression (unterminated character set at position 0)",
    ),
    (
        "INCLUDE_PATTERN",
        "()",
        PIPELINE,
        "INCLUDE_PATTERN='()': matches at the start of any text (it can match nothing there, e.g. an empty"
        " alternative), so it would keep every event",
    ),
    (
        "EXCLUDE_PATTERN",
        "health|",
        PIPELINE,
        "EXCLUDE_PATTERN='health|': matches at the start of any text (it can match nothing there, e.g. an"
        " empty alternative), so it would drop every event",
    ),
    (
        "EXCLUDE_PATTERN",
        ".*",
        PIPELINE,
        "EXCLUDE_PATTERN='.*': matches at the start of any text (it can match nothing there, e.g. an empty"
        " alternative), so it would drop every event",
    ),
    ("MIN_LEVEL", "LOUD", PIPELINE, f"MIN_LEVEL='LOUD': {LEVELS}"),
    ("MIN_LEVEL", "3", PIPELINE, f"MIN_LEVEL='3': {LEVELS}"),
    ("SAMPLE_RATE", "0", PIPELINE, f"SAMPLE_RATE='0': {RATE}"),
    ("SAMPLE_RATE", "1.5", PIPELINE, f"SAMPLE_RATE='1.5': {RATE}"),
    ("SAMPLE_RATE", "half", PIPELINE, f"SAMPLE_RATE='half': {RATE}"),
    ("SAMPLE_RATE", "50%", PIPELINE, f"SAMPLE_RATE='50%': {RATE}"),
    ("SAMPLE_RATE", "nan", PIPELINE, f"SAMPLE_RATE='nan': {RATE}"),
    ("REDACT", "emial", PIPELINE, f"REDACT='emial': unknown rule(s) emial; {RULES}"),
    ("REDACT", "email;ipv4", PIPELINE, f"REDACT='email;ipv4': unknown rule(s) email;ipv4; {RULES}"),
    (
        "REDACT_PATTERNS",
        "token=\\w+\n(secret",
        PIPELINE,
        "REDACT_PATTERNS pattern 2='(secret': not a valid regular expression (missing ), unterminated"
        " subpattern at position 0)",
    ),
    (
        "REDACT_PATTERNS",
        "x*",
        PIPELINE,
        "REDACT_PATTERNS pattern 1='x*': matches the empty string, so it would redact nothing",
    ),
    ("TAGS", "team", PIPELINE, "TAGS: 'team' is not key=value"),
    ("TAGS", "team=a,=b", PIPELINE, "TAGS: '=b' is not key=value"),
    ("TAGS", "team=a,team=b", PIPELINE, "TAGS: key 'team' given twice ('a' and 'b')"),
    (
        "RECORD_FORMAT",
        "json",
        (FORWARD,),
        "RECORD_FORMAT must be one of ndjson, ndjson-gzip, cloudwatch, not 'json'",
    ),
    (
        "RECORD_FORMAT",
        "ndjson_gzip",
        (FORWARD,),
        "RECORD_FORMAT must be one of ndjson, ndjson-gzip, cloudwatch, not 'ndjson_gzip'",
    ),
    (
        "DESTINATION_ARN",
        "events",
        (FORWARD,),
        f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN {ARN_SHAPES}: 'events'",
    ),
    (
        "DESTINATION_ARN",
        "arn:aws:firehose:us-east-1:123456789012:stream/events",
        (FORWARD,),
        f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN {ARN_SHAPES}:"
        " 'arn:aws:firehose:us-east-1:123456789012:stream/events'",
    ),
    (
        "DESTINATION_ARN",
        "arn:aws:kinesis:us-east1:123456789012:stream/events",
        (FORWARD,),
        f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN {ARN_SHAPES}:"
        " 'arn:aws:kinesis:us-east1:123456789012:stream/events'",
    ),
    (
        "DESTINATION_ARN",
        "arn:aws:kinesis:us-east-1:123456789012:stream/team/events",
        (FORWARD,),
        f"DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN {ARN_SHAPES}:"
        " 'arn:aws:kinesis:us-east-1:123456789012:stream/team/events'",
    ),
    (
        "DEAD_LETTER_QUEUE_URL",
        "arn:aws:sqs:us-east-1:123456789012:failures",
        DEAD_LETTERS,
        "DEAD_LETTER_QUEUE_URL is not an SQS queue URL: 'arn:aws:sqs:us-east-1:123456789012:failures'",
    ),
    (
        "DEAD_LETTER_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/failures.fifo",
        DEAD_LETTERS,
        "DEAD_LETTER_QUEUE_URL must be a standard queue: dead letters are sent without the message group id"
        " a FIFO queue requires: 'https://sqs.us-east-1.amazonaws.com/123456789012/failures.fifo'",
    ),
    (
        "SKIP_LOG_GROUPS",
        "/aws/lambda/a;/aws/lambda/b",
        ALL,
        "SKIP_LOG_GROUPS: '/aws/lambda/a;/aws/lambda/b' is not a log group name (1-512 characters of a-z,"
        " A-Z, 0-9, _ - / . #; separate names with commas)",
    ),
    ("METRICS_OUTPUT", "statsd", METRICS, "METRICS_OUTPUT must be 'emf' or 'cloudwatch', not 'statsd'"),
    (
        "METRICS_NAMESPACE",
        "AWS/Lambda",
        METRICS,
        "METRICS_NAMESPACE must be 1-255 ASCII characters (no control characters), not starting 'AWS/':"
        " 'AWS/Lambda'",
    ),
    (
        "METRICS_NAMESPACE",
        "Équipe/Lambda",
        METRICS,
        "METRICS_NAMESPACE must be 1-255 ASCII characters (no control characters), not starting 'AWS/':"
        " 'Équipe/Lambda'",
    ),
    (
        "METRICS_DIMENSION",
        ":plugin",
        (FLUENTD_METRICS,),
        "METRICS_DIMENSION must be 1-255 ASCII characters (no control characters), not starting ':' and not"
        " '_aws': ':plugin'",
    ),
    (
        "LAMBDA_ARCHITECTURE",
        "arm",
        (LAMBDA_METRICS,),
        "LAMBDA_ARCHITECTURE must be one of ['arm64', 'x86_64'], not 'arm'",
    ),
    (
        "LAMBDA_PRICE_PER_GB_SECOND",
        "cheap",
        (LAMBDA_METRICS,),
        "LAMBDA_PRICE_PER_GB_SECOND must be a positive number, not 'cheap'",
    ),
    (
        "LAMBDA_PRICE_PER_GB_SECOND",
        "0",
        (LAMBDA_METRICS,),
        "LAMBDA_PRICE_PER_GB_SECOND must be a positive number, not '0'",
    ),
]


@pytest.mark.parametrize(
    ("module", "variable", "value", "error"),
    [
        pytest.param(module, variable, value, error, id=f"{module.split('.')[1]}-{variable}={value!r}")
        for variable, value, modules, error in WRONG
        for module in modules
    ],
)
def test_given_a_wrong_value_when_lambda_loads_the_handler_then_init_fails_naming_the_variable_and_value(
    monkeypatch, module, variable, value, error
):
    with pytest.raises(ConfigError) as raised:
        load_handler(monkeypatch, module, **{"DESTINATION_ARN": STREAM, variable: value})
    assert str(raised.value) == error


# (variable, value, handler, what the handler's configuration holds then): values close to the
# wrong ones above that are right, so the checks refuse no more than they should
RIGHT = [
    ("MULTILINE_START", r"^(?!\s)", FORWARD, ("pipeline", "multiline_start", "pattern"), r"^(?!\s)"),
    ("INCLUDE_PATTERN", "ERROR|WARN", FORWARD, ("pipeline", "include", "pattern"), "ERROR|WARN"),
    ("EXCLUDE_PATTERN", "^$", TRANSFORM, ("pipeline", "exclude", "pattern"), "^$"),  # empty lines
    ("EXCLUDE_PATTERN", " health", FORWARD, ("pipeline", "exclude", "pattern"), " health"),  # spaces kept
    ("TAGS", "team=a,note=", FORWARD, ("pipeline", "tags"), {"team": "a", "note": ""}),
    ("SAMPLE_RATE", " 0.25 ", TRANSFORM, ("pipeline", "sample_rate"), 0.25),
    ("METRICS_NAMESPACE", "My App/Prod #1", LAMBDA_METRICS, ("metrics_namespace",), "My App/Prod #1"),
    ("METRICS_NAMESPACE", "  ", LAMBDA_METRICS, ("metrics_namespace",), None),  # blank: the default
    ("METRICS_OUTPUT", " CloudWatch\n", FLUENTD_METRICS, ("metrics_output",), "cloudwatch"),
    (
        "DESTINATION_ARN",
        "arn:aws:firehose:eu-central-2:123456789012:deliverystream/archive.v2\n",
        FORWARD,
        ("destination_arn",),
        "arn:aws:firehose:eu-central-2:123456789012:deliverystream/archive.v2",
    ),
    *[  # every partition's regions: GovCloud, China, the European Sovereign Cloud
        ("DESTINATION_ARN", arn, FORWARD, ("destination_arn",), arn)
        for arn in (
            "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/events",
            "arn:aws-cn:firehose:cn-northwest-1:123456789012:deliverystream/archive",
            "arn:aws-eusc:kinesis:eusc-de-east-1:123456789012:stream/events",
        )
    ],
    ("SELF_METRICS", " ", TRANSFORM, ("self_metrics",), True),  # blank: the default
    (
        "SKIP_LOG_GROUPS",
        "/aws/lambda/a, /ecs/b#1 ,",
        LAMBDA_METRICS,
        ("skip_log_groups",),
        frozenset({"/aws/lambda/a", "/ecs/b#1", HANDLERS_SELF}),
    ),
]


@pytest.mark.parametrize(("variable", "value", "module", "path", "expected"), RIGHT)
def test_given_a_right_value_close_to_a_wrong_one_then_the_handler_loads_with_it(
    monkeypatch, variable, value, module, path, expected
):
    loaded = load_handler(monkeypatch, module, **{"DESTINATION_ARN": STREAM, variable: value})
    got = loaded.CONFIG
    for attribute in path:
        got = getattr(got, attribute)
    assert got == expected


# What Lambda's python3.13 runtime and a typical deployment set besides logstream's variables:
# none of it may be taken for a misspelt variable of ours.
LAMBDA_ENVIRONMENT = {
    "_HANDLER": "handlers.forward.handler",
    "_X_AMZN_TRACE_ID": "Root=1-5e1b4151-5ac6c58f2b2f5e0b3c8b8f0d",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_NAME": "logstream-forward",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": HANDLERS_SELF,
    "AWS_LAMBDA_LOG_STREAM_NAME": "2024/05/01/[$LATEST]0123",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "LANG": "en_US.UTF-8",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin",
    "PYTHONPATH": "/var/runtime",
    "TZ": ":UTC",
    "POWERTOOLS_SERVICE_NAME": "logstream",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "LOG_LEVEL": "INFO",
    "REGION": "eu-west-1",
    "STAGE": "prod",
    "DESTINATION_ARN": STREAM,
    "TAGS": "team=payments",
    "REDACT": "all",
}


def test_given_lambdas_own_environment_and_right_variables_then_nothing_looks_misspelt():
    from handlers._config import misspelt

    assert misspelt(LAMBDA_ENVIRONMENT) == []


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("PARSE_MESAGES", "PARSE_MESSAGES"),
        ("parse_messages", "PARSE_MESSAGES"),
        ("REDACT_PATTERN", "REDACT_PATTERNS"),
        ("TAG", "TAGS"),
        ("JOIN_MULTILINES", "JOIN_MULTILINE"),
        ("DESTINATION_ARM", "DESTINATION_ARN"),
        ("DEAD_LETTER_QUEUE", "DEAD_LETTER_QUEUE_URL"),
        ("SAMPLERATE", "SAMPLE_RATE"),
        ("OARSE_MESSAGES", "PARSE_MESSAGES"),  # the first letter wrong
        ("xREDACT_PATTERNS", "REDACT_PATTERNS"),
    ],
)
def test_given_a_misspelt_variable_when_the_handler_starts_then_a_warning_names_it_and_what_it_looks_like(
    monkeypatch, name, meant
):
    from tests.lambda_sim import captured_log

    module = load_handler(monkeypatch, FORWARD, DESTINATION_ARN=STREAM)
    monkeypatch.setenv(name, "true")
    with captured_log(module.logger) as log:
        module.build(module.CONFIG, sink=object(), dead_letters=None)
    assert [line.split(" {")[0] for line in log] == [
        f"WARNING environment variable {name} is not one logstream reads (did you mean {meant}?): ignored"
    ]
