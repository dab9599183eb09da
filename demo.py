"""`make demo`: decode the bundled sample payloads of every transport and print NDJSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EVENTS = Path(__file__).parent / "tests" / "data" / "corpus" / "events"


def main() -> int:
    files = sorted(str(p) for p in EVENTS.glob("*.json"))
    print(f"# logstream decode on {len(files)} sample events (Lambda, Kinesis, Firehose, HTTP, wrapper)", flush=True)
    proc = subprocess.run([sys.executable, "-m", "logstream", "decode", *files])
    print("# (the two 'not gzip or zlib' lines above are sample records that are not CloudWatch Logs data)")
    return 0 if proc.returncode in (0, 1) else proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
