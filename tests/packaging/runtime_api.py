"""A stand-in for the Lambda Runtime API on 127.0.0.1 (free port), enough for the real runtime
interface client (``awslambdaric``) to run one invocation the way Lambda drives it.

``GET /2018-06-01/runtime/invocation/next`` hands out the queued events with Lambda's headers
(request id, deadline, function ARN, trace id); once they are used up it holds the request until
the stand-in stops, as Lambda does while the function is idle. ``POST .../{id}/response`` and
``POST .../{id}/error`` and ``POST /2018-06-01/runtime/init/error`` are recorded.
Reference: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


@dataclass
class Outcome:
    kind: str  # "response", "error" or "init/error"
    request_id: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    at_ms: int = 0  # when it was posted (epoch milliseconds, as the deadline)
    deadline_ms: int = 0  # the deadline handed out with its invocation (``RuntimeApi.deadlines``)

    def json(self) -> Any:
        return json.loads(self.body)


class RuntimeApi:
    def __init__(self, function_arn: str, timeout_ms: int = 60_000) -> None:
        self.function_arn = function_arn
        self.timeout_ms = timeout_ms
        self.pending: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.deadlines: dict[str, int] = {}  # request id -> the deadline handed out (epoch ms)
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, event: Any) -> str:
        """Queue one invocation; returns its request id."""
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, json.dumps(event).encode()))
        return request_id

    def outcome(self, timeout: float = 120) -> Outcome:
        return self.outcomes.get(timeout=timeout)

    def __enter__(self) -> RuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self._send(404)
                while not api.stopping.is_set():
                    try:
                        request_id, body = api.pending.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    deadline = int(time.time() * 1000) + api.timeout_ms
                    api.deadlines[request_id] = deadline
                    return self._send(
                        200,
                        body,
                        {
                            "Content-Type": "application/json",
                            "Lambda-Runtime-Aws-Request-Id": request_id,
                            "Lambda-Runtime-Deadline-Ms": str(deadline),
                            "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
                        },
                    )
                self._send(503)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at_ms = int(time.time() * 1000)
                headers = {k: v for k, v in self.headers.items()}
                if self.path == f"{PREFIX}/init/error":
                    api.outcomes.put(Outcome("init/error", None, body, headers))
                    return self._send(202, b'{"status":"OK"}')
                parts = self.path.removeprefix(f"{PREFIX}/invocation/").split("/")
                if self.path.startswith(f"{PREFIX}/invocation/") and len(parts) == 2:
                    if parts[1] in ("response", "error"):
                        api.outcomes.put(Outcome(parts[1], parts[0], body, headers, at_ms))
                        return self._send(202, b'{"status":"OK"}')
                self._send(404)

        return Handler
