"""A fault-injecting HTTP proxy between boto3 and the local AWS endpoint (for the tests).

It does to requests what the real services do under load:

* fails a share of whole requests before they reach the endpoint: half as HTTP 503, half as a
  throttling error in the request's own protocol (JSON for Kinesis/Firehose, CBOR for
  CloudWatch), so botocore's retry logic is exercised for real;
* marks a share of the entries of each ``PutRecords`` / ``PutRecordBatch`` failed, dropping
  them before they reach the endpoint and merging the endpoint's answer for the rest into one
  response with ``FailedRecordCount`` / ``FailedPutCount``, as the services report partial
  failures.

The failures production has on top of that, each a share of requests (``0.0`` to ``1.0``):

* ``throttle``: a throttling error only (100% throttling: ``throttle=1.0``);
* ``deny``: ``AccessDeniedException`` (HTTP 400), a fatal error;
* ``close``: the connection is closed without an answer (botocore: ``ConnectionClosedError``);
* ``delay``: seconds to wait before answering a request that *was* forwarded (a slow
  destination: the data is in, the answer is late);
* ``fail_entry``: a test of an entry's data (bytes): the ``PutRecords`` / ``PutRecordBatch``
  entries it holds true for fail every time (a hot shard that never cools down), so which
  entries fail is known in advance;
* ``delay_first``: like ``delay``, for the first this many requests only (then answers on time).

``only`` limits every fault to the named operations (e.g. ``{"PutRecords"}``), so reads and
the dead-letter queue stay healthy. Apart from ``delay``, nothing it fails ever reaches the
endpoint, so whatever arrives there arrived exactly once unless the client sent it twice.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_PARTIAL = {  # operation -> (entries key, response list key, failed count key, entry error code)
    "PutRecords": ("Records", "Records", "FailedRecordCount", "ProvisionedThroughputExceededException"),
    "PutRecordBatch": ("Records", "RequestResponses", "FailedPutCount", "ServiceUnavailableException"),
}
_THROTTLE = {
    "kinesis": "ProvisionedThroughputExceededException",
    "firehose": "ThrottlingException",
    "sqs": "RequestThrottled",
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    """``with FaultProxy(upstream, request_failure=0.25, entry_failure=0.2) as proxy:``
    point clients at ``proxy.url``; ``proxy.stats`` counts what was done."""

    def __init__(
        self,
        upstream: str,
        *,
        request_failure: float = 0.25,
        entry_failure: float = 0.2,
        throttle: float = 0.0,
        deny: float = 0.0,
        close: float = 0.0,
        delay: float = 0.0,
        fail_entry: Callable[[bytes], bool] | None = None,
        delay_first: int | None = None,
        only: set[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.request_failure = request_failure
        self.entry_failure = entry_failure
        self.throttle = throttle
        self.deny = deny
        self.close = close
        self.delay = delay
        self.fail_entry = fail_entry
        self.delay_first = delay_first
        self.only = only
        self._stop = threading.Event()
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def roll(self, p: float) -> bool:
        with self._lock:
            return self._rng.random() < p

    def take_delay(self) -> bool:
        """Whether this request is one of the first ``delay_first`` (counted down)."""
        with self._lock:
            if self.delay_first:
                self.delay_first -= 1
                return True
            return False

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={**headers, "Content-Length": str(len(body))})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}, data
        finally:
            conn.close()


_SERVICES = {
    "Kinesis": "kinesis",
    "Firehose": "firehose",
    "GraniteServiceVersion": "cloudwatch",
    "AmazonSQS": "sqs",
}


def _operation(headers: dict[str, str], path: str) -> tuple[str, str]:
    """(service, operation): X-Amz-Target names both, else the rpc-v2-cbor path does."""
    target = headers.get("x-amz-target", "")
    if not target and "/service/" in path:
        target = ".".join(path.split("/")[-3::2])  # /service/<Service>/operation/<Op>
    service = next((name for prefix, name in _SERVICES.items() if target.startswith(prefix)), "?")
    return service, target.rsplit(".", 1)[-1]


def _cbor_text(s: str) -> bytes:
    raw = s.encode()
    return (bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])) + raw


def _error(cbor: bool, status: int, code: str) -> tuple[int, dict, bytes]:
    message = "injected by the test proxy"
    if cbor:  # smithy-rpc-v2-cbor: a map {"__type": code, "message": ...}
        body = b"\xa2" + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
        return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, body
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            lower = {k.lower(): v for k, v in headers.items()}
            service, op = _operation(lower, self.path)
            cbor = lower.get("smithy-protocol") == "rpc-v2-cbor"
            proxy.count(f"requests:{op}")
            faulty = proxy.only is None or op in proxy.only
            if faulty and proxy.close and proxy.roll(proxy.close):
                proxy.count(f"closed:{op}")
                self.close_connection = True  # no answer at all: the client sees the connection drop
                return
            if faulty and proxy.deny and proxy.roll(proxy.deny):
                proxy.count(f"denied:{op}")
                self.reply(*_error(cbor, 400, "AccessDeniedException"))
                return
            if faulty and proxy.throttle and proxy.roll(proxy.throttle):
                proxy.count(f"throttled:{op}")
                self.reply(*_error(cbor, 400, _THROTTLE.get(service, "Throttling")))
                return
            if faulty and proxy.roll(proxy.request_failure):
                if proxy.roll(0.5):
                    proxy.count(f"503:{op}")
                    self.reply(*_error(cbor, 503, "ServiceUnavailable"))
                else:
                    proxy.count(f"throttled:{op}")
                    self.reply(*_error(cbor, 400, _THROTTLE.get(service, "Throttling")))
                return
            if faulty and op in _PARTIAL:
                answer = self.partial(op, headers, body)
            else:
                answer = proxy.forward("POST", self.path, headers, body)
            if faulty and proxy.delay and (proxy.delay_first is None or proxy.take_delay()):
                proxy.count(f"delayed:{op}")
                if proxy._stop.wait(proxy.delay):
                    return
            try:
                self.reply(*answer)
            except OSError:  # the client gave up waiting
                proxy.count(f"unanswered:{op}")

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        def partial(self, op: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
            entries_key, results_key, count_key, code = _PARTIAL[op]
            request = json.loads(body)
            entries = request[entries_key]
            dropped = [
                (proxy.fail_entry is not None and proxy.fail_entry(base64.b64decode(e["Data"])))
                or proxy.roll(proxy.entry_failure)
                for e in entries
            ]
            proxy.count(f"entries:{op}", len(entries))
            proxy.count(f"dropped:{op}", sum(dropped))
            kept = [e for e, d in zip(entries, dropped, strict=True) if not d]
            upstream: list[dict] = []
            failed = sum(dropped)
            if kept:
                status, out_headers, out = proxy.forward(
                    "POST", self.path, headers, json.dumps({**request, entries_key: kept}).encode()
                )
                if status != 200:
                    return status, out_headers, out
                answer = json.loads(out)
                upstream = answer[results_key]
                failed += answer.get(count_key, 0)
            else:
                answer, out_headers = {}, {"Content-Type": "application/x-amz-json-1.1"}
            results = iter(upstream)
            merged = [
                {"ErrorCode": code, "ErrorMessage": "dropped by the test proxy"} if d else next(results)
                for d in dropped
            ]
            return 200, out_headers, json.dumps({**answer, count_key: failed, results_key: merged}).encode()

        def reply(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler
