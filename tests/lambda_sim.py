"""What Lambda does around a handler, for the tests: the context's deadline, the retries of a
Kinesis event source mapping and of an asynchronous invocation, and a clock whose sleeps pass
instantly (backoff under 100% throttling without waiting for it)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any


class FakeClock:
    """Real monotonic time plus every ``sleep`` taken (which returns at once)."""

    def __init__(self) -> None:
        self.slept = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


class Context:
    """A Lambda context whose remaining time runs down on ``clock`` from ``timeout_s``."""

    function_name = "logstream-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logstream-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/logstream-test"
    log_stream_name = "2026/11/23/[$LATEST]test"

    def __init__(self, timeout_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.timeout_s = timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - self.elapsed()) * 1000))

    def elapsed(self) -> float:
        return self.clock() - self.started


def run_like_event_source_mapping(
    handler: Callable[[dict, Any], Any],
    records: list[dict],
    *,
    context: Callable[[], Any] = Context,
    max_retries: int = 5,
    bisect: bool = True,
) -> tuple[int, list[dict]]:
    """Invoke ``handler`` the way a Kinesis event source mapping with ReportBatchItemFailures,
    BisectBatchOnFunctionError and MaximumRetryAttempts does: a partial batch response makes
    Lambda retry from the lowest failed record *with every record after it*; a function error
    bisects the batch. Returns ``(invocations, records sent to the on-failure destination)``."""
    invocations = 0
    discarded: list[dict] = []
    queue: list[tuple[list[dict], int]] = [(records, 0)]
    while queue:
        batch, retries = queue.pop(0)
        invocations += 1
        try:
            out = handler({"Records": batch}, context())
        except Exception:  # noqa: BLE001 - a function error, as Lambda sees it
            if retries >= max_retries:
                discarded += batch
            elif bisect and len(batch) > 1:
                half = len(batch) // 2
                queue[:0] = [(batch[:half], retries + 1), (batch[half:], retries + 1)]
            else:
                queue.insert(0, (batch, retries + 1))
            continue
        failed = {f["itemIdentifier"] for f in out.get("batchItemFailures", [])}
        if not failed:
            continue
        first = min(i for i, r in enumerate(batch) if r["kinesis"]["sequenceNumber"] in failed)
        if retries >= max_retries:
            discarded += batch[first:]
        else:
            queue.insert(0, (batch[first:], retries + 1))
    return invocations, discarded


def run_like_async_invoke(
    handler: Callable[[dict, Any], Any],
    event: dict,
    *,
    context: Callable[[], Any] = Context,
    retries: int = 2,
) -> tuple[int, BaseException | None]:
    """Lambda's asynchronous invocation: on a function error, up to ``retries`` more attempts.
    Returns ``(invocations, the last error or None)``."""
    error: BaseException | None = None
    for attempt in range(retries + 1):
        try:
            handler(event, context())
            return attempt + 1, None
        except Exception as exc:  # noqa: BLE001 - a function error, as Lambda sees it
            error = exc
    return retries + 1, error


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_log(logger: Any) -> Iterator[list[str]]:
    """The messages (and extra keys, as JSON) a handler's Powertools logger writes, as a list
    filled when the block ends."""
    handler = _Records()
    logger.addHandler(handler)
    lines: list[str] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        lines.extend(f"{r.levelname} {r.getMessage()} {_extra(r)}".rstrip() for r in handler.records)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _extra(record: logging.LogRecord) -> str:
    extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
    return json.dumps(extra, default=str) if extra else ""
