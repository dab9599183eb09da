"""Shared fixtures: one loader for the corpus, accelerator switching, a CLI runner."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from logstream import decode

CORPUS = Path(__file__).parent / "data" / "corpus"
ROOT = Path(__file__).resolve().parent.parent


def corpus_path(*parts: str) -> Path:
    return CORPUS.joinpath(*parts)


def load_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in corpus_path(name).read_text().splitlines() if line.strip()]


@pytest.fixture(params=["accelerated", "pure"])
def codec(request):
    """Run a test with the accelerators (pybase64, isal) and again with the stdlib path."""
    decode.use_accelerators(request.param == "accelerated")
    yield request.param
    decode.use_accelerators(True)


def run_cli(*args: str, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m logstream`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "logstream", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def run_cli_trickled(*args: str, stdin: bytes, step: int = 3) -> tuple[int, bytes, str]:
    """Run ``python -m logstream ARGS`` with ``stdin`` written to a real pipe ``step`` bytes per
    write (a slow producer); its exit status, stdout and stderr (the output must fit the pipe
    buffer: it is read once the input is written)."""
    with subprocess.Popen(
        [sys.executable, "-m", "logstream", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        for i in range(0, len(stdin), step):
            proc.stdin.write(stdin[i : i + step])
            proc.stdin.flush()
        proc.stdin.close()
        stdout, stderr = proc.stdout.read(), proc.stderr.read().decode()
    return proc.returncode, stdout, stderr


# ------------------------------------------------------------------ the handler modules
#: The deployment's own log group the handler modules are imported with (skipped by them).
HANDLERS_SELF = "/aws/lambda/logstream-self"
HANDLER_NAMES = ("forward", "lambda_metrics", "fluentd_metrics", "firehose_transform")


@pytest.fixture(scope="module")
def handler_modules(aws_endpoint):
    """The four handler modules as Lambda imports them, by name. Their environment is read once,
    at import, and Python imports a module once per process: every test module takes them from
    here, so they see the same environment whichever test imports them first."""

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DESTINATION_ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/unused")
        mp.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
        mp.setenv("AWS_LAMBDA_LOG_GROUP_NAME", HANDLERS_SELF)
        yield {name: importlib.import_module(f"handlers.{name}") for name in HANDLER_NAMES}


# ------------------------------------------------------------------ local AWS endpoint (moto)
@pytest.fixture(scope="session")
def aws_endpoint():
    """moto's server on 127.0.0.1 with a free port; every boto3 client in the test session
    points at it through AWS_ENDPOINT_URL (boto3 honours it itself). No real AWS, no network."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update({**_AWS_ENV, "AWS_ENDPOINT_URL": url})
    try:
        yield url
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture
def aws(aws_endpoint):
    import boto3

    return lambda service: boto3.client(service, region_name="us-east-1")


class LambdaContext:
    function_name = "logstream-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logstream-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/logstream-test"
    log_stream_name = "2026/11/23/[$LATEST]test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def firehose_to_s3(s3, firehose) -> tuple[str, str]:
    """A new bucket and a delivery stream into it: ``(delivery stream name, bucket)``."""
    bucket, name = f"b-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
        },
    )
    return name, bucket


def s3_ndjson(s3, bucket) -> list[dict]:
    """Every NDJSON line of every object in ``bucket``."""
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out += [json.loads(line) for line in body.splitlines()]
    return out
