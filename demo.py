"""`make demo`: the main job end to end on an embedded local AWS endpoint (moto's server on
127.0.0.1, no credentials, no network).

Generates a realistic batch of Lambda logs and fluentd status lines, invokes the four handlers
with real subscription payloads, and reads back what arrived: metrics, stream records, S3 objects.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import json
import os
import random
import sys
import time

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/logstream-demo",
    }
)


class Context:
    function_name = "logstream-demo"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logstream-demo"
    aws_request_id = "demo"

    def __init__(self) -> None:
        self.started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:  # the template's 60 s timeout
        return int((60 - (time.monotonic() - self.started)) * 1000)


def lambda_logs(now_ms: int) -> list[dict]:
    from logstream.testing import make_document

    rnd = random.Random(42)
    docs = []
    for fn, mem, base in (
        ("checkout", 512, 120),
        ("search", 1024, 40),
        ("thumbnailer", 256, 900),
        ("auth", 128, 15),
    ):
        msgs = []
        for i in range(60):
            rid = f"{fn[:4]}{i:04d}-0000-4000-8000-000000000000"
            ts = now_ms + i * 500
            dur = round(rnd.expovariate(1 / base) + 1, 2)
            used = min(mem, int(mem * rnd.uniform(0.3, 0.8)))
            extra = f"\tInit Duration: {rnd.uniform(150, 400):.2f} ms" if i % 20 == 0 else ""
            status = ""
            if fn == "thumbnailer" and i == 7:
                used, status = mem, "\tStatus: error\tError Type: Runtime.OutOfMemory"
            if fn == "checkout" and i == 30:
                dur = 3000.0
                msgs.append((ts, f"2026-11-23T10:00:00.000Z {rid} Task timed out after 3.00 seconds\n"))
            msgs += [
                (ts, f"START RequestId: {rid} Version: $LATEST\n"),
                (ts, f"END RequestId: {rid}\n"),
                (
                    ts,
                    f"REPORT RequestId: {rid}\tDuration: {dur} ms\tBilled Duration: {int(dur) + 1} ms\t"
                    f"Memory Size: {mem} MB\tMax Memory Used: {used} MB{extra}{status}\t\n",
                ),
            ]
        docs.append(
            make_document(msgs, log_group=f"/aws/lambda/{fn}", log_stream=f"2026/11/23/[$LATEST]{fn}")
        )
    return docs


def fluentd_logs(now_ms: int) -> dict:
    from logstream.testing import make_document

    lines = []
    for i in range(3):
        lines.append((now_ms + i, f"2026-11-23 10:00:0{i} +0000 [info]: #0 flushing buffer\n"))
        lines.append(
            (
                now_ms + i,
                f'2026-11-23 10:00:0{i}.5 +0000 monitor.metrics: {{"plugin_id":"out_s3","plugin_category":'
                f'"output","type":"s3","output_plugin":true,"buffer_queue_length":{i * 2},'
                f'"buffer_total_queued_size":{i * 4096},"retry_count":{i}}}\n',
            )
        )
    return make_document(lines, log_group="/ecs/fluentd", log_stream="fluentd/app/1")


def main() -> int:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server._server.server_port}"
    try:
        return run()
    finally:
        server.stop()


def run() -> int:
    import boto3

    from logstream import iter_log_streams
    from logstream.metrics import Pricing
    from logstream.parsers.lambda_report import iter_reports
    from logstream.summary import summary_table
    from logstream.testing import firehose_event, lambda_event

    print(f"local AWS endpoint: {os.environ['AWS_ENDPOINT_URL']} (moto server, in-process)\n")
    kinesis, s3, firehose, cw = (boto3.client(s) for s in ("kinesis", "s3", "firehose", "cloudwatch"))
    kinesis.create_stream(StreamName="logstream-events", ShardCount=2)
    s3.create_bucket(Bucket="logstream-archive")
    firehose.create_delivery_stream(
        DeliveryStreamName="logstream-archive",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::logstream-archive",
        },
    )

    now = int(time.time() * 1000) - 10 * 60_000
    docs = lambda_logs(now)
    fluentd = fluentd_logs(now)
    ctx = Context()

    def handler(module, **env):
        os.environ.update(env)
        sys.modules.pop(module, None)
        return importlib.import_module(module).handler

    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        metrics = handler(
            "handlers.lambda_metrics", METRICS_OUTPUT="cloudwatch", METRICS_NAMESPACE="Logstream/Lambda"
        )
        m_out = [metrics(lambda_event(d), ctx) for d in docs]
        f_out = handler("handlers.fluentd_metrics", METRICS_OUTPUT="cloudwatch", METRICS_NAMESPACE="fluentd")(
            lambda_event(fluentd), ctx
        )
        fwd = handler(
            "handlers.forward",
            DESTINATION_ARN="arn:aws:kinesis:us-east-1:123456789012:stream/logstream-events",
        )
        k_out = [fwd(lambda_event(d), ctx) for d in docs]
        fh = handler(
            "handlers.forward",
            DESTINATION_ARN="arn:aws:firehose:us-east-1:123456789012:deliverystream/logstream-archive",
        )
        fh_out = fh(lambda_event(fluentd), ctx)
        t_out = handler("handlers.firehose_transform")(firehose_event(docs[:2]), ctx)

    print("invocation reports (computed from the same payloads):")
    reports = list(iter_reports(s for d in docs for s in iter_log_streams(lambda_event(d))))
    print(summary_table(reports, Pricing(architecture="arm64")))

    print("CloudWatch metrics read back with GetMetricStatistics (namespace Logstream/Lambda):")
    print(
        f"  {'function':<12} {'Invocations':>11} {'ColdStart':>9} {'Timeout':>7} "
        f"{'OutOfMemory':>11} {'max Duration ms':>15}"
    )
    for fn in ("auth", "checkout", "search", "thumbnailer"):
        row = []
        for metric, stat in (
            ("Invocations", "Sum"),
            ("ColdStart", "Sum"),
            ("Timeout", "Sum"),
            ("OutOfMemory", "Sum"),
            ("Duration", "Maximum"),
        ):
            pts = cw.get_metric_statistics(
                Namespace="Logstream/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": fn}],
                StartTime=(now - 3_600_000) / 1000,
                EndTime=(now + 3_600_000) / 1000,
                Period=3600 * 2,
                Statistics=[stat],
            )["Datapoints"]
            row.append(sum(p[stat] for p in pts) if stat == "Sum" else max((p[stat] for p in pts), default=0))
        print(f"  {fn:<12} {row[0]:>11.0f} {row[1]:>9.0f} {row[2]:>7.0f} {row[3]:>11.0f} {row[4]:>15.2f}")
    names = sorted({m["MetricName"] for m in cw.list_metrics(Namespace="fluentd")["Metrics"]})
    print(
        f"\nfluentd metrics (namespace fluentd, dimension PluginId): {', '.join(names)} "
        f"from {f_out['statuses']} status lines"
    )

    ids = []
    for shard in kinesis.list_shards(StreamName="logstream-events")["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName="logstream-events", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for rec in kinesis.get_records(ShardIterator=it, Limit=10000)["Records"]:
            ids += [json.loads(line)["id"] for line in rec["Data"].decode().splitlines()]
    sent = sum(len(d["logEvents"]) for d in docs)
    print(
        f"\nKinesis stream logstream-events: {len(ids)} events read back of {sent} forwarded "
        f"({sum(o['requests'] for o in k_out)} PutRecords requests), unique ids: {len(set(ids))}"
    )
    lines = 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="logstream-archive").get("Contents", [])]
    for key in keys:
        lines += len(s3.get_object(Bucket="logstream-archive", Key=key)["Body"].read().splitlines())
    print(
        f"Firehose -> S3 logstream-archive: {len(keys)} object(s), {lines} NDJSON events "
        f"(forwarded {fh_out['delivered']} record(s))"
    )
    results = [r["result"] for r in t_out["records"]]
    first = base64.b64decode(t_out["records"][0]["data"]).decode().splitlines()[0]
    print(f"Firehose transformation: {results}; first line: {first[:100]}...")
    ok = len(set(ids)) == sent and all(o["reports"] == 60 for o in m_out)
    print("\ndemo:", "OK - everything forwarded arrived" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
