"""Import cost (a Lambda cold start pays it): each module imported in a fresh interpreter, the
import itself timed inside it, modules interleaved, medians over rounds."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIMER = "import sys, time; t = time.perf_counter(); __import__(sys.argv[1]); print(time.perf_counter() - t)"
# What the handlers read at import: EMF output (no boto3), a destination for the forwarder.
ENV = {
    "METRICS_OUTPUT": "emf",
    "DESTINATION_ARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
}

MODULES = [
    "logstream",
    "handlers.lambda_metrics",
    "handlers.fluentd_metrics",
    "handlers.forward",
    "handlers.firehose_transform",
    "aws_lambda_powertools.utilities.data_classes",
    "boto3",
]


def import_seconds(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMER, module],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **ENV},
    )
    return float(out.stdout)


def measure(rounds: int = 15) -> dict[str, float]:
    samples: dict[str, list[float]] = {m: [] for m in MODULES}
    for r in range(rounds):
        order = MODULES[r % len(MODULES) :] + MODULES[: r % len(MODULES)]
        for module in order:
            samples[module].append(import_seconds(module))
    return {m: statistics.median(s) for m, s in samples.items()}


def boto3_imported_by(module: str) -> bool:
    code = f"import sys; __import__({module!r}); print('boto3' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **ENV},
    )
    return out.stdout.strip() == "True"
