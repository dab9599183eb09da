"""Shared sink machinery: results, deadline, retry policy, error classes, batching, clients.

Every request a sink makes fits inside a :class:`Deadline`: botocore's own retries are off
(retries are ours, entry by entry), and each request is made with a client whose connect and
read timeouts end before the deadline does. Errors fall in three classes:

===============  ============================================================  ===============
class            examples                                                      what happens
===============  ============================================================  ===============
transient        throttling, 5xx, connection refused or closed, entry-level    retried with
                 ``ProvisionedThroughputExceededException``                    backoff
fatal            AccessDenied, ResourceNotFound, validation errors, KMS key    fails at once
                 errors, any other 4xx                                         (no retry)
unknown outcome  no answer before the read timeout: the request may have       see below
                 been applied
===============  ============================================================  ===============

A request whose outcome is unknown is re-sent by the record sinks (Kinesis, Firehose: at least
once; whoever gets it reported re-sends it anyway, Lambda with the rest of its batch or event)
and never by the metrics sink (PutMetricData twice counts twice): ``retry_unknown``.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Entry error codes a sink reports itself.
DEADLINE_EXCEEDED = "DeadlineExceeded"  # not attempted again: the invocation's time is up
RECORD_TOO_LARGE = "RecordTooLarge"  # can never be sent as it is
OUT_OF_RANGE = "OutOfRange"  # a metric datum the service would refuse

#: Shortest request worth starting (connect + read), in seconds.
MIN_REQUEST_S = 1.0
#: Time a handler keeps for sending when it stops processing (at most half of what is left):
#: one request and one retry.
SEND_RESERVE_S = 2 * MIN_REQUEST_S

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "InternalServiceFault",
        "KMSThrottlingException",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "HTTPClientError",
        "ConnectionError",
    }
)
_FATAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "ResourceNotFoundException",
        "ResourceNotFound",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidArgumentException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameterCombination",
        "MissingParameter",
        "MissingRequiredParameter",
        "ValidationException",
        "ValidationError",
        "SerializationException",
        "InvalidMessageContents",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
        "KMSOptInRequired",
        "InvalidKMSResourceException",
        "ParamValidationError",
        "NoCredentialsError",
        "NoRegionError",
        RECORD_TOO_LARGE,
        OUT_OF_RANGE,
    }
)
_UNKNOWN_OUTCOME_CODES = frozenset({"ReadTimeoutError", "ResponseStreamingError"})

TRANSIENT, FATAL, UNKNOWN_OUTCOME = "transient", "fatal", "unknown outcome"


def error_class(code: str, status: int | None = None) -> str:
    """``transient``, ``fatal`` or ``unknown outcome`` for an error code (and HTTP status).

    Example
    -------
    >>> error_class("AccessDeniedException"), error_class("ThrottlingException", 400)
    ('fatal', 'transient')
    >>> error_class("ReadTimeoutError"), error_class("SomethingNew", 403), error_class("SomethingNew", 500)
    ('unknown outcome', 'fatal', 'transient')
    """
    if code in _UNKNOWN_OUTCOME_CODES:
        return UNKNOWN_OUTCOME
    if code in _FATAL_CODES:
        return FATAL
    if code in _TRANSIENT_CODES:
        return TRANSIENT
    if status is not None and 400 <= status < 500 and status != 429:
        return FATAL
    return TRANSIENT


def describe_error(exc: BaseException) -> tuple[str, str, int | None]:
    """``(code, message, http status)`` of an exception from a boto3 call.

    botocore's connection errors (``ReadTimeoutError``, ``ConnectionClosedError``, ...) carry no
    service response: their class name is the code.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or type(exc).__name__)
        message = str(error.get("Message") or exc)
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return code, message[:300], status if isinstance(status, int) else None
    return type(exc).__name__, str(exc)[:300], None


@dataclasses.dataclass(frozen=True, slots=True)
class FailedEntry:
    """An entry a sink could not deliver, with why (``error_class``: transient, fatal or
    unknown outcome)."""

    entry: Any
    error_code: str
    error_message: str = ""
    error_class: str = TRANSIENT


@dataclasses.dataclass(slots=True)
class DeliveryResult:
    """What a sink did: entries delivered, requests made (``retries`` of them re-sent entries
    that had failed for a transient reason), every entry that failed, data
    dropped before sending (``dropped``: count per reason, e.g. a non-finite metric value) and
    data delivered through a fallback instead (``rerouted``: count per error code of the
    refused request, e.g. PutMetricData refused -> EMF on stdout)."""

    delivered: int = 0
    requests: int = 0
    failed: list[FailedEntry] = dataclasses.field(default_factory=list)
    dropped: Counter[str] = dataclasses.field(default_factory=Counter)
    rerouted: Counter[str] = dataclasses.field(default_factory=Counter)  # by the error that rerouted
    retries: int = 0
    #: Events and data bytes in the delivered entries, for sinks whose entries are records of
    #: several events (Kinesis, Firehose); 0 elsewhere.
    events: int = 0
    bytes: int = 0

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

    def errors(self) -> list[tuple[str, str, int, str]]:
        """One ``(code, error class, entries, first message)`` per distinct error code."""
        counts: Counter[str] = Counter(f.error_code for f in self.failed)
        first = {f.error_code: f for f in reversed(self.failed)}
        return [(code, first[code].error_class, n, first[code].error_message) for code, n in counts.items()]

    def merge(self, other: DeliveryResult) -> DeliveryResult:
        self.delivered += other.delivered
        self.requests += other.requests
        self.retries += other.retries
        self.events += other.events
        self.bytes += other.bytes
        self.failed.extend(other.failed)
        self.dropped.update(other.dropped)
        self.rerouted.update(other.rerouted)
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (on ``clock``) by which a sink must have stopped sending.

    Example
    -------
    >>> class Context:
    ...     def get_remaining_time_in_millis(self): return 60_000
    >>> d = Deadline.from_context(Context())
    >>> 54 < d.remaining() <= 55  # a safety margin (10%, at most 5 s) is kept for the answer
    True
    """

    expires: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf)

    @classmethod
    def from_context(
        cls, context: Any, margin_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """From a Lambda context's ``get_remaining_time_in_millis()``, less a safety margin
        (default: 10% of the remaining time, between 0.5 s and 5 s) for answering Lambda. A
        context without that method (a local call) sets no deadline."""
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if remaining_ms is None:
            return cls.never()
        remaining = remaining_ms() / 1000.0
        if margin_s is None:  # 10%, between 0.5 s and 5 s (once per invocation: no min/max calls)
            margin_s = 5.0 if remaining >= 50.0 else 0.5 if remaining <= 5.0 else remaining * 0.1
        return cls(clock() + remaining - margin_s, clock)

    def remaining(self) -> float:
        return self.expires - self.clock()

    def sooner(self, seconds: float) -> Deadline:
        """The deadline ``seconds`` earlier, on the same clock (time kept for what follows).

        Example
        -------
        >>> Deadline(10.0, clock=lambda: 0.0).sooner(2.0).remaining()
        8.0
        """
        return Deadline(self.expires - seconds, self.clock)


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, for requests and entries that failed for a
    transient reason. Retries also stop when the next attempt would not end before the deadline.
    """

    max_attempts: int = 8
    base_delay: float = 0.1
    max_delay: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * (2**attempt)) * self.rng())


def send_with_retry(
    entries: Sequence[T],
    send: Callable[[Sequence[T], Deadline], list[tuple[int, str, str]]],
    policy: RetryPolicy,
    deadline: Deadline | None = None,
    *,
    retry_unknown: bool = False,
) -> DeliveryResult:
    """Send ``entries`` in one request; re-send only the entries that failed for a transient
    reason, until none is left, the attempts run out or the deadline is near.

    ``send(entries, deadline)`` returns ``(index, error_code, message)`` per failed entry and
    raises for a failed request (then every entry of that request shares its error). Fatal
    errors fail their entries at once. A request whose outcome is unknown (no answer before the
    read timeout) is re-sent once with ``retry_unknown`` when the time left allows a request as
    long (at-least-once delivery: the fewest duplicates, since reporting it would have the
    caller send it again, with more), else never, so nothing is delivered twice by the sink
    itself (metric data).
    """
    deadline = deadline or Deadline.never()
    result = DeliveryResult()
    pending = list(entries)
    reasons: list[tuple[str, str, str]] = [("", "", TRANSIENT)] * len(pending)  # last error per entry
    for attempt in range(policy.max_attempts):
        pause = policy.delay(attempt) if attempt else 0.0
        if deadline.remaining() - pause < MIN_REQUEST_S:
            for entry, (code, _, _) in zip(pending, reasons, strict=True):
                why = f"stopped retrying before the deadline (last error: {code})" if code else ""
                result.failed.append(
                    FailedEntry(entry, DEADLINE_EXCEEDED, why or "no time left before the deadline")
                )
            return result
        if pause:
            policy.sleep(pause)
        result.requests += 1
        result.retries += int(attempt > 0)
        status = None
        started = deadline.clock()
        try:
            failures = send(pending, deadline)
        except Exception as exc:  # noqa: BLE001 - the whole request failed: classify, never crash
            code, message, status = describe_error(exc)
            failures = [(i, code, message) for i in range(len(pending))]
        result.delivered += len(pending) - len(failures)
        # an unknown outcome is sent again once, and only with time left for a request as long
        # as the one that got no answer (a destination slower than that would keep the copies)
        again = retry_unknown and deadline.remaining() >= deadline.clock() - started
        retry: list[T] = []
        reasons = []
        for index, code, message in failures:
            kind = error_class(code, status)
            if kind == TRANSIENT or (again and kind == UNKNOWN_OUTCOME):
                retry.append(pending[index])
                reasons.append((code, message, kind))
                retry_unknown = retry_unknown and kind != UNKNOWN_OUTCOME
            else:
                result.failed.append(FailedEntry(pending[index], code, message, kind))
        pending = retry
        if not pending:
            return result
    for entry, (code, message, kind) in zip(pending, reasons, strict=True):
        result.failed.append(FailedEntry(entry, code, message, kind))
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


#: Read timeouts a sink's clients use (seconds): the longest that ends before the deadline.
READ_TIMEOUTS = (50.0, 40.0, 30.0, 20.0, 14.0, 10.0, 7.0, 5.0, 3.0, 2.0, 1.0, 0.5)
CONNECT_TIMEOUT_S = 2.0


def timeouts_for(budget: float, max_read: float = READ_TIMEOUTS[0]) -> tuple[float, float] | None:
    """``(connect, read)`` timeouts that together fit in ``budget`` seconds, read as long as
    possible (up to ``max_read``); ``None`` when not even the shortest fits.

    Example
    -------
    >>> timeouts_for(55.0), timeouts_for(9.0), timeouts_for(0.4)
    ((2.0, 50.0), (2.0, 7.0), None)
    """
    for read in READ_TIMEOUTS:
        connect = min(CONNECT_TIMEOUT_S, read / 2)
        if read <= max_read and connect + read <= budget:
            return connect, read
    return None


class LazyClient:
    """An injectable boto3 client; without one, clients are built from the environment on first
    use, one per timeout step, so each request ends before the deadline (an injected client is
    used as it is: its timeouts are yours)."""

    service = ""
    _client: Any = None
    region: str | None = None
    max_read_timeout: float = READ_TIMEOUTS[0]

    @property
    def client(self) -> Any:
        """The injected client, else the one with the longest timeouts."""
        if self._client is not None:
            return self._client
        return self.client_for(Deadline.never())

    def client_for(self, deadline: Deadline) -> Any:
        if self._client is not None:
            return self._client
        timeouts = timeouts_for(deadline.remaining(), self.max_read_timeout) or (0.25, 0.5)
        cache = self.__dict__.setdefault("_clients", {})
        if timeouts not in cache:
            cache[timeouts] = make_client(self.service, self.region, *timeouts)
        return cache[timeouts]


def make_client(
    service: str, region: str | None = None, connect_timeout: float = 2.0, read_timeout: float = 50.0
) -> Any:
    """A boto3 client without botocore's own retries (ours run entry by entry, within the
    deadline) and with bounded timeouts. boto3 is imported here, on first use only."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
    )
    return boto3.client(service, region_name=region or None, config=config)
