"""PutMetricData requests needed for 10,000 invocation reports (20 functions, 10 minutes)."""

from __future__ import annotations

import math
import random

from logstream import limits
from logstream.metrics import report_data
from logstream.parsers.lambda_report import InvocationReport
from logstream.sinks.cloudwatch import put_metric_data_requests

START = 1_763_892_000_000  # a minute boundary


def reports(count: int = 10_000, seed: int = 5) -> list[InvocationReport]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        duration = round(rng.lognormvariate(4, 1), 2)
        out.append(
            InvocationReport(
                f"r{i}",
                duration,
                float(math.ceil(duration)),
                512,
                rng.randint(60, 200),
                round(rng.uniform(100, 800), 2) if rng.random() < 0.05 else None,
                timestamp=START + rng.randrange(600_000),
                function_name=f"fn{i % 20}",
                log_group=f"/aws/lambda/fn{i % 20}",
            )
        )
    return out


def measure() -> dict[str, int]:
    data = [d for r in reports() for d in report_data(r)]
    # sized for the protocol boto3's CloudWatch client speaks today (CBOR); old botocore: query
    requests = put_metric_data_requests("Logstream/Lambda", data, protocol="smithy-rpc-v2-cbor")
    return {
        "reports": 10_000,
        "data points": len(data),
        "logstream (Values/Counts per minute, 1,000 datums/1 MB per request)": len(requests),
        "one datum per data point, 1,000 per request": math.ceil(
            len(data) / limits.PUT_METRIC_DATA_MAX_DATUMS
        ),
        "one request per report": 10_000,
    }
