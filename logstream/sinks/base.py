"""Shared sink machinery: results, retry policy, batching, lazy boto3 clients."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class FailedEntry:
    """An entry a sink could not deliver after its retries."""

    entry: Any
    error_code: str
    error_message: str = ""


@dataclasses.dataclass(slots=True)
class DeliveryResult:
    """What a sink sent: entries delivered, requests made, and every entry that failed."""

    delivered: int = 0
    requests: int = 0
    failed: list[FailedEntry] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def raise_if_failed(self, what: str = "entries") -> DeliveryResult:
        """Raise :class:`~logstream.DeliveryError` (listing each failed entry) if any failed."""
        if self.failed:
            from ..errors import DeliveryError

            codes = sorted({f.error_code for f in self.failed})
            raise DeliveryError(f"{len(self.failed)} {what} not delivered: {codes}", self.failed)
        return self

    def merge(self, other: DeliveryResult) -> DeliveryResult:
        self.delivered += other.delivered
        self.requests += other.requests
        self.failed.extend(other.failed)
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, for entries the service reported failed.

    botocore's own retries (throttling, 5xx, connection errors) run inside each request as well.
    """

    max_attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0**attempt) * self.rng()


def send_with_retry(
    entries: Sequence[T],
    send: Callable[[Sequence[T]], list[tuple[int, str, str]]],
    policy: RetryPolicy,
) -> DeliveryResult:
    """Send ``entries`` in one request; re-send only the failed ones until none fail or the
    attempts run out. ``send`` returns ``(index, error_code, message)`` per failed entry and
    raises for a failed request (then all entries of that request count as failed)."""
    result = DeliveryResult()
    pending = list(entries)
    last: list[tuple[int, str, str]] = []
    for attempt in range(policy.max_attempts):
        if attempt:
            policy.sleep(policy.delay(attempt))
        result.requests += 1
        try:
            last = send(pending)
        except Exception as exc:  # noqa: BLE001 - botocore gave up: the whole request failed
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            last = [(i, code, str(exc)[:200]) for i in range(len(pending))]
        result.delivered += len(pending) - len(last)
        if not last:
            return result
        pending = [pending[i] for i, _, _ in last]
    for entry, (_, code, msg) in zip(pending, last, strict=True):
        result.failed.append(FailedEntry(entry, code, msg))
    return result


def entry_failures(results: Sequence[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """``(index, error_code, message)`` for each failed entry of a PutRecords / PutRecordBatch
    answer (``Records`` / ``RequestResponses``), in the shape ``send_with_retry`` expects."""
    return [
        (i, e["ErrorCode"], e.get("ErrorMessage", "")) for i, e in enumerate(results) if e.get("ErrorCode")
    ]


def batches(
    items: Iterable[T], size_of: Callable[[T], int], max_count: int, max_bytes: int
) -> Iterator[list[T]]:
    """Cut ``items`` into lists of at most ``max_count`` items and ``max_bytes`` bytes."""
    batch: list[T] = []
    total = 0
    for item in items:
        n = size_of(item)
        if batch and (len(batch) >= max_count or total + n > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += n
    if batch:
        yield batch


class LazyClient:
    """An injectable boto3 client, built from the environment on first use when none is given."""

    service = ""
    _client: Any = None
    region: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.service, self.region)
        return self._client


def make_client(service: str, region: str | None = None) -> Any:
    """A boto3 client with standard-mode retries (imported here, on first use only)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, region_name=region or None, config=config)
