"""`import logstream` stays light: no boto3, botocore or Powertools (cold start, CLI start-up)."""

import subprocess
import sys


def test_import_logstream_does_not_import_boto3_or_powertools():
    code = (
        "import sys, logstream, logstream.cli, logstream.testing\n"
        "bad = [m for m in ('boto3', 'botocore', 'aws_lambda_powertools') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_importable_from_root():
    import logstream

    for name in logstream.__all__:
        assert hasattr(logstream, name), name
    assert issubclass(logstream.SizeLimitError, logstream.DecodeError)
    assert issubclass(logstream.DecodeError, logstream.LogstreamError)
