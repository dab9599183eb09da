"""A wrong configuration variable, as Lambda's Python runtime meets it: the real runtime interface
client (awslambdaric) imports the handler from the built artifact, the import raises a
ConfigError, and the runtime reports an init error naming the variable and its value, then exits,
before it asks for an invocation: the event it was about to get is still there for Lambda to
retry (and, after the retries, for the on-failure destination). Each of the four handlers.

The whole table of variables and wrong values is in tests/functional/test_handler_config_errors.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.packaging.conftest import HOST_PYTHON
from tests.packaging.runtime_api import RuntimeApi

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:logstream-under-test"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/events"


@pytest.mark.parametrize(
    ("handler", "variable", "value", "message"),
    [
        ("forward", "PARSE_MESSAGES", "ture", "PARSE_MESSAGES='ture': expected true or false"),
        (
            "firehose_transform",
            "EXCLUDE_PATTERN",
            "health|",
            "EXCLUDE_PATTERN='health|': matches at the start of any text (it can match nothing there, e.g. an"
            " empty alternative), so it would drop every event",
        ),
        (
            "lambda_metrics",
            "LAMBDA_ARCHITECTURE",
            "arm",
            "LAMBDA_ARCHITECTURE must be one of ['arm64', 'x86_64'], not 'arm'",
        ),
        (
            "fluentd_metrics",
            "SKIP_LOG_GROUPS",
            "/ecs/a;/ecs/b",
            "SKIP_LOG_GROUPS: '/ecs/a;/ecs/b' is not a log group name (1-512 characters of a-z, A-Z, 0-9,"
            " _ - / . #; separate names with commas)",
        ),
    ],
)
def test_given_a_wrong_variable_when_the_runtime_loads_a_handler_then_init_fails_naming_it_keeping_the_event(
    host_artifact, runtime_python, handler, variable, value, message
):
    name = f"handlers.{handler}.handler"
    with RuntimeApi(FUNCTION_ARN) as api:
        api.invoke({"awslogs": {"data": "H4sIAAAAAAAA/6uuBQBDv6ajAgAAAA=="}})
        proc = subprocess.run(
            [str(runtime_python), "-m", "awslambdaric", name],
            cwd=host_artifact,
            env={
                "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "PYTHONPATH": str(host_artifact),
                "LAMBDA_TASK_ROOT": str(host_artifact),
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "_HANDLER": name,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{HOST_PYTHON}",
                "AWS_LAMBDA_FUNCTION_NAME": "logstream-under-test",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/logstream-under-test",
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "DESTINATION_ARN": STREAM,
                variable: value,
            },
            capture_output=True,
            timeout=120,
        )
        outcome = api.outcome(timeout=10)
        assert outcome.kind == "init/error", proc.stderr.decode()
        assert outcome.json()["errorType"] == "ConfigError"
        assert outcome.json()["errorMessage"] == message
        assert proc.returncode == 1
        assert api.pending.qsize() == 1  # the event was never taken: Lambda keeps it
