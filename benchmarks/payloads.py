"""Realistic CloudWatch Logs subscription payloads from a Lambda function (text and JSON log
formats, START/END/REPORT, application lines), ~230 bytes per event like the issue's figure."""

from __future__ import annotations

import random

from logstream import testing as t

_APP = [
    '{{"level":"INFO","message":"order accepted","order_id":"{rid}","items":{n},"latency_ms":{ms}}}',
    "[INFO]\t{ts}\t{rid}\tFetched {n} rows from orders-table in {ms} ms (consistent read)",
    "[WARNING]\t{ts}\t{rid}\tRetrying PutItem after ProvisionedThroughputExceededException, attempt {n}",
    '{{"time":"{ts}","type":"platform.report","record":{{"requestId":"{rid}","metrics":{{"durationMs":{ms}.5,'
    '"billedDurationMs":{ms},"memorySizeMB":512,"maxMemoryUsedMB":{n}}},"status":"success"}}}}',
]


def messages(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        rid = f"{rng.getrandbits(128):032x}"
        rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}"
        ms, n = rng.randint(1, 900), rng.randint(1, 200)
        ts = f"2026-11-23T10:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
        out.append(f"START RequestId: {rid} Version: $LATEST\n")
        out += [_APP[rng.randrange(len(_APP))].format(rid=rid, n=n, ms=ms, ts=ts) + "\n" for _ in range(2)]
        out.append(f"END RequestId: {rid}\n")
        out.append(
            f"REPORT RequestId: {rid}\tDuration: {ms}.{n:02d} ms\tBilled Duration: {ms + 1} ms\t"
            f"Memory Size: 512 MB\tMax Memory Used: {n + 60} MB\t\n"
        )
    return out[:count]


def document(count: int, *, seed: int = 7, stream: int = 0) -> dict:
    return t.make_document(
        messages(count, seed),
        log_group="/aws/lambda/checkout-api",
        log_stream=f"2026/11/23/[$LATEST]{stream:032x}",
        step_ms=3,
    )


def lambda_event(count: int, **kw) -> dict:
    return t.lambda_event(document(count, **kw))
