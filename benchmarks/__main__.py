"""Run every benchmark and print a Markdown table of ratios against targets.

    make bench                  # or: python -m benchmarks [--quick]

Everything compared is measured side by side in the same run (interleaved, medians), so the
ratios hold on a noisy machine even when the absolute times do not.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import random
import sys
from pathlib import Path

from logstream import decode as decode_module
from logstream.parsers.lambda_report import parse_report

from . import cli, decode, handlers, imports, memory, pipeline, putmetricdata, reports, robustness
from .harness import compare, fmt_time, verdict
from .payloads import lambda_event

ROOT = Path(__file__).resolve().parent.parent
FLOOR, TYPED, PURE, POWERTOOLS = list(decode.CANDIDATES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, noisier)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "results.md")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else 15
    rows: list[tuple[str, str, str, str, str]] = []
    missed = 0

    def row(what: str, measured: str, ratio: float | None, target: str, ok: str = "") -> None:
        nonlocal missed
        missed += ok == "MISSED"
        rows.append((what, measured, "" if ratio is None else f"{ratio:.2f}x", target, ok))
        print(
            f"  {what}: {measured} {'' if ratio is None else f'{ratio:.2f}x'} {target} {ok}", file=sys.stderr
        )

    # Installed packages (boto3, Powertools) come with bytecode; give our sources the same.
    compileall.compile_dir(ROOT / "logstream", quiet=1)
    compileall.compile_dir(ROOT / "handlers", quiet=1)
    decode.check()
    reports.check()
    pipeline.check()
    handlers.check()

    print("decode ...", file=sys.stderr)
    for n in decode.SIZES:
        event = lambda_event(n)
        calls = {name: (lambda fn=fn, event=event: fn(event)) for name, fn in decode.CANDIDATES.items()}
        t = compare(calls, rounds=rounds)
        size = f"{n:,} event{'s' if n > 1 else ''}"
        target = {1: "<= 1.50x", 10_000: "<= 0.60x"}.get(n, "")
        r = t[TYPED] / t[FLOOR]
        row(
            f"typed decode vs stdlib floor, {size}",
            f"{fmt_time(t[TYPED])} vs {fmt_time(t[FLOOR])}",
            r,
            target,
            verdict(r, 1.5 if n == 1 else 0.6) if target else "",
        )
        row(
            f"  stdlib base64/zlib path (no pybase64/isal) vs floor, {size}",
            fmt_time(t[PURE]),
            t[PURE] / t[FLOOR],
            "",
        )
        s = t[POWERTOOLS] / t[TYPED]
        row(
            f"Powertools CloudWatchLogsEvent time / logstream, {size}",
            fmt_time(t[POWERTOOLS]),
            s,
            ">= 4x" if n == 10_000 else "",
            verdict(s, 4, higher_is_better=True) if n == 10_000 else "",
        )

    print("REPORT parsing ...", file=sys.stderr)
    usual = reports.lines()
    rng = random.Random(1)
    shuffled = []
    for line in usual:
        head, *fields = line.rstrip("\t\n").split("\t")
        fields.insert(0, head.removeprefix("REPORT "))
        rng.shuffle(fields)
        shuffled.append("REPORT " + "\t".join(fields) + "\t\n")
    assert [parse_report(x) for x in shuffled] == [parse_report(x) for x in usual]
    t = compare(
        {
            "fixed": lambda: [reports.fixed_order(x) for x in usual],
            "usual": lambda: [parse_report(x) for x in usual],
            "shuffled": lambda: [parse_report(x) for x in shuffled],
        },
        rounds=rounds,
    )
    r = t["fixed"] / t["usual"]
    row(
        "REPORT parsing speed vs fixed-order regex (Lambda's order)",
        f"{fmt_time(t['usual'] / len(usual))}/line",
        r,
        ">= 0.90x",
        verdict(r, 0.9, higher_is_better=True),
    )
    row(
        "  same, fields shuffled (the regex cannot parse these)",
        f"{fmt_time(t['shuffled'] / len(usual))}/line",
        t["fixed"] / t["shuffled"],
        "",
    )

    print("pipeline ...", file=sys.stderr)
    t = pipeline.measure(rounds=rounds)
    base = t["decode+lines"]
    r = t["all"] / base
    row(
        f"decode + every pipeline stage vs decode + NDJSON (`logstream decode`), {pipeline.EVENTS:,} events",
        f"{fmt_time(t['all'])} vs {fmt_time(base)}",
        r,
        "<= 2.50x",
        verdict(r, 2.5),
    )
    row("  same vs decode alone (no output)", fmt_time(t["decode"]), t["all"] / t["decode"], "")
    r = t["off"] / base
    row("pipeline with every stage off vs no pipeline", fmt_time(t["off"]), r, "<= 1.03x", verdict(r, 1.03))
    for name in pipeline.STAGES:
        row(f"  {name} alone vs decode + NDJSON", fmt_time(t[name]), t[name] / base, "")
    e = pipeline.escaped_json(rounds=rounds)
    row(
        "REDACT=all, 10,000 JSON lines with escapes (searched as objects) vs decode + NDJSON",
        fmt_time(e["redact"]),
        e["redact"] / e["decode+lines"],
        "",
    )
    row("  same with PARSE_MESSAGES", fmt_time(e["redact+parse"]), e["redact+parse"] / e["decode+lines"], "")
    worst = max(pipeline.hostile().items(), key=lambda kv: kv[1])
    row(
        f"every stage on one hostile 256 KB event (slowest of {len(pipeline.HOSTILE)}: {worst[0]})",
        fmt_time(worst[1]),
        None,
        "< 250 ms",
        verdict(worst[1], 0.25),
    )

    print("handler overhead ...", file=sys.stderr)
    for n, t in handlers.measure_handler(rounds=rounds).items():
        r = t["handler"] / t["library"]
        row(
            f"metrics handler (logger, self-metrics) vs its library path, {n} event{'s' if n > 1 else ''}",
            f"{fmt_time(t['handler'])} vs {fmt_time(t['library'])}",
            r,
            "<= 1.30x" if n == 1 else "",
            verdict(r, 1.3) if n == 1 else "",
        )
    costs = handlers.format_costs()
    base = costs["ndjson"]["bytes_per_event"]
    for fmt, c in costs.items():
        row(
            f"RECORD_FORMAT={fmt}: bytes/event ({handlers.FORMAT_EVENTS:,} events, {c['records']:.0f} "
            "Kinesis records); USD per million events, Kinesis on-demand / Firehose",
            f"{c['bytes_per_event']:.1f} B; ${c['kinesis_usd_per_million']:.4f}"
            f" / ${c['firehose_usd_per_million']:.4f}",
            c["bytes_per_event"] / base,
            "",
        )

    print("imports ...", file=sys.stderr)
    t = imports.measure(rounds=7 if args.quick else 15)
    dc, boto3 = t["aws_lambda_powertools.utilities.data_classes"], t["boto3"]
    r = t["logstream"] / dc
    row(
        "`import logstream` vs Powertools data_classes",
        f"{fmt_time(t['logstream'])} vs {fmt_time(dc)}",
        r,
        "<= 0.75x",
        verdict(r, 0.75),
    )
    for module in imports.MODULES[1:5]:
        r = t[module] / boto3
        is_target = module == "handlers.lambda_metrics"
        uses_boto3 = imports.boto3_imported_by(module)
        row(
            f"`import {module}` (EMF) vs `import boto3`{' - imports boto3!' if uses_boto3 else ''}",
            f"{fmt_time(t[module])} vs {fmt_time(boto3)}",
            r,
            "<= 0.60x" if is_target else "",
            verdict(r, 0.6) if is_target else ("MISSED" if uses_boto3 else ""),
        )

    print("CLI vs jq ...", file=sys.stderr)
    c = cli.measure(rounds=1 if args.quick else 3)
    what = f"`logstream decode` vs jq pipeline, {c['bytes'] / 1e6:.0f} MB JSON, {c['events']:,} events"
    if c["jq"] is None:
        row(what, f"{fmt_time(c['logstream'])} (jq not installed)", None, ">= 12x")
    else:
        r = c["jq"] / c["logstream"]
        row(
            what,
            f"{fmt_time(c['logstream'])} vs {fmt_time(c['jq'])}",
            r,
            ">= 12x",
            verdict(r, 12, higher_is_better=True),
        )

    print("CLI output kinds, errors ...", file=sys.stderr)
    o = cli.outputs(rounds=1 if args.quick else 3)
    for kind in ("pipe", "socket"):
        r = o[kind] / o["devnull"]
        where = "stream socket" if kind == "socket" else kind
        row(
            f"`logstream decode` to a {where} read to the end vs to /dev/null, same 60 MB",
            f"{fmt_time(o[kind])} vs {fmt_time(o['devnull'])}",
            r,
            "<= 1.25x",
            verdict(r, 1.25),
        )
    e = cli.errors(rounds=1 if args.quick else 3)
    per = e["seconds"] / e["errors"]
    row(
        f"`logstream decode` on {e['errors']:,} broken payloads "
        f"(cut gzip, one error line each, {e['input'] / 1e6:.0f} MB)",
        f"{fmt_time(e['seconds'])} ({per * 1e6:.0f} us per error)",
        None,
        "",
        "",
    )

    print("CLI streaming: peak RSS, first line ...", file=sys.stderr)
    chunk = cli._chunk()
    sizes = [256 << 20] if args.quick else [256 << 20, 1 << 30]
    for cmd in (["decode"], ["report", "--summary"]):
        for total in sizes:
            m = cli.peak_rss(cmd, total, chunk)
            is_target = total == sizes[-1]
            row(
                f"peak RSS of `logstream {' '.join(cmd)}`, {m['input'] / 1e9:.2f} GB on stdin",
                f"{m['rss'] / 1e6:.0f} MB in {fmt_time(m['seconds'])}",
                None,
                "< 150 MB" if is_target else "",
                verdict(m["rss"] / 1e6, 150) if is_target else "",
            )
    for kind in ("base64", "gzip"):
        lat = cli.first_line_latency(kind)
        worst = max(lat)
        row(
            f"time to first line after a document arrives, pausing producer ({kind})",
            f"median {fmt_time(sorted(lat)[len(lat) // 2])}, worst {fmt_time(worst)}",
            None,
            "< 100 ms",
            verdict(worst, 0.1),
        )

    print("memory ...", file=sys.stderr)
    m = memory.measure()
    r = m[TYPED]["peak"] / m[FLOOR]["peak"]
    row(
        "peak memory decoding 10,000 events vs floor (tracemalloc)",
        f"{m[TYPED]['peak'] / 1e6:.1f} MB vs {m[FLOOR]['peak'] / 1e6:.1f} MB",
        r,
        "<= 1.00x",
        verdict(r, 1.0),
    )
    row(
        "  memory still held by the result (incl. the raw document)",
        f"{m[TYPED]['retained'] / 1e6:.1f} MB vs {m[FLOOR]['retained'] / 1e6:.1f} MB",
        m[TYPED]["retained"] / m[FLOOR]["retained"],
        "",
    )
    row(
        "  Powertools CloudWatchLogsEvent peak",
        f"{m[POWERTOOLS]['peak'] / 1e6:.1f} MB",
        m[POWERTOOLS]["peak"] / m[FLOOR]["peak"],
        "",
    )

    p = putmetricdata.measure()
    keys = list(p)
    row(
        f"PutMetricData requests for {p['reports']:,} reports ({p['data points']:,} data points)",
        f"{p[keys[2]]} (vs {p[keys[3]]} unaggregated, {p[keys[4]]:,} one per report)",
        None,
        "",
    )

    print("robustness (many members, 250 MiB message, nested layers) ...", file=sys.stderr)
    mt = robustness.time_members(rounds=3 if args.quick else 5)
    r = mt["many"] / mt["one"]
    row(
        f"Firehose object, {robustness.MEMBERS:,} gzip members vs one member ({mt['size'] / 2**20:.0f} MiB)",
        f"{fmt_time(mt['many'])} vs {fmt_time(mt['one'])}",
        r,
        "<= 1.50x",
        verdict(r, 1.5),
    )
    rss_all = robustness.peak_rss()
    shapes = (("message", "one 250 MiB message, decoded"), ("nested", "four nested ~250 MiB layers"))
    for name, what in shapes:
        rss = rss_all[name]
        bound = 3 * (robustness.MESSAGE_MIB << 20) + 100e6
        refused_fast = rss["outcome"] == "refused" and rss["seconds"] < 2
        ok = rss["peak"] <= bound and (name == "message" or refused_fast)
        row(
            f"peak RSS, {what} ({rss['outcome']} in {rss['seconds']:.2f} s)",
            f"{rss['peak'] / 2**20:.0f} MiB",
            rss["peak"] / (robustness.MESSAGE_MIB << 20),
            "<= 3x + 100 MB" + ("" if name == "message" else ", refused < 2 s"),
            "ok" if ok else "MISSED",
        )

    acc = decode_module.accelerators()
    head = (
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"pybase64 {'on' if acc['pybase64'] else 'off'}, isal {'on' if acc['isal'] else 'off'}; "
        f"{'quick' if args.quick else 'full'} run"
    )
    table = [
        head,
        "",
        "| measurement | logstream (vs baseline) | ratio | target | |",
        "| --- | --- | --- | --- | --- |",
    ]
    table += [f"| {' | '.join(r)} |" for r in rows]
    text = "\n".join(table) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}; {missed} target(s) missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
