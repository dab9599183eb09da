"""`s3://` input against moto's server (started by the tests on 127.0.0.1), through
AWS_ENDPOINT_URL as boto3 reads it: objects under a prefix in key order, streamed."""

from __future__ import annotations

import json
import uuid

from logstream import testing as t
from tests.conftest import run_cli


def _bucket(aws) -> tuple[object, str]:
    s3 = aws("s3")
    bucket = f"archive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


def test_given_prefix_then_every_object_under_it_in_key_order(aws):
    s3, bucket = _bucket(aws)
    objects = {
        "firehose/2024/05/01/13/obj-b": t.s3_object([t.make_document(["b1\n", "b2\n"])]),
        "firehose/2024/05/01/12/obj-a": t.s3_object([t.make_document(["a1\n"])], outer_gzip=True),
        "firehose/2024/05/02/00/obj-c": t.s3_object([t.make_document([f"c{i}\n"]) for i in range(3)]),
        "firehose/2024/05/01/": b"",  # a console "folder" placeholder
        "other/obj-z": t.s3_object([t.make_document(["not under the prefix\n"])]),
    }
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    res = run_cli("decode", "--messages", f"s3://{bucket}/firehose/")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"a1\nb1\nb2\nc0\nc1\nc2\n"


def test_given_one_key_then_that_object_and_errors_name_it(aws):
    s3, bucket = _bucket(aws)
    s3.put_object(Bucket=bucket, Key="good.gz", Body=t.s3_object([t.make_document(["good\n"])]))
    s3.put_object(Bucket=bucket, Key="bad.gz", Body=t.gzip_member(b"{not json")[:-4])
    res = run_cli("decode", "-o", "ndjson", f"s3://{bucket}/good.gz", f"s3://{bucket}/bad.gz")
    assert res.returncode == 1
    assert [json.loads(x)["message"] for x in res.stdout.splitlines()] == ["good\n"]
    assert res.stderr.decode().startswith(f"logstream: s3://{bucket}/bad.gz: ")


def test_given_missing_key_or_empty_prefix_then_exit_1_with_the_reason(aws):
    _, bucket = _bucket(aws)
    res = run_cli("decode", f"s3://{bucket}/nope.gz", f"s3://{bucket}/empty/")
    assert res.returncode == 1
    assert res.stderr.decode().splitlines() == [
        f"logstream: s3://{bucket}/nope.gz: NoSuchKey: The specified key does not exist.",
        f"logstream: s3://{bucket}/empty/: no objects under this prefix",
    ]


def test_given_report_summary_over_a_prefix_then_one_table(aws):
    s3, bucket = _bucket(aws)
    for i in range(3):
        msgs = [
            f"REPORT RequestId: {i}-{j}\tDuration: {10 * (j + 1)}.00 ms\tBilled Duration: {10 * (j + 1)} ms\t"
            f"Memory Size: 128 MB\tMax Memory Used: {50 + j} MB\t\n"
            for j in range(4)
        ]
        doc = t.make_document(msgs, log_group="/aws/lambda/checkout")
        s3.put_object(Bucket=bucket, Key=f"logs/{i}.gz", Body=t.s3_object([doc]))
    res = run_cli("report", "--summary", f"s3://{bucket}/logs/")
    assert res.returncode == 0, res.stderr
    row = res.stdout.decode().splitlines()[1].split()
    assert row[:7] == ["checkout", "12", "20.00", "40.00", "40.00", "53", "41"]


def test_given_an_endpoint_url_that_is_not_a_url_then_one_error_line_not_a_traceback():
    """``AWS_ENDPOINT_URL=localhost:4566`` (no scheme): botocore's ValueError was a traceback."""
    env = {"AWS_ENDPOINT_URL": "localhost-4566", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    res = run_cli("decode", "s3://bucket/key", env=env)
    assert (res.returncode, res.stdout) == (1, b"")
    assert res.stderr.decode() == "logstream: s3://bucket/key: Invalid endpoint: localhost-4566\n"
