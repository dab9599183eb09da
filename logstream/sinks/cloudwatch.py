"""CloudWatch ``PutMetricData``: aggregated requests, retried whole (no partial success)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import limits
from ..metrics import Datum, put_metric_data_requests
from .base import DeliveryResult, FailedEntry, LazyClient, RetryPolicy, send_with_retry


class CloudWatchSink(LazyClient):
    """Send metric data with PutMetricData, one namespace per sink.

    Data outside CloudWatch's accepted window (2 weeks back, 2 hours ahead) would make the
    whole request fail; such data is reported as failed (``TimestampOutOfRange``) and the rest
    is sent.
    """

    service = "cloudwatch"

    def __init__(
        self,
        namespace: str,
        *,
        client: Any = None,
        region: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if namespace.startswith("AWS/"):
            from ..errors import ConfigError

            raise ConfigError("metric namespaces starting with 'AWS/' are reserved for AWS")
        self.namespace = namespace
        self._client = client
        self.region = region
        self.retry = retry
        self.clock = clock

    def send(self, data: Iterable[Datum]) -> DeliveryResult:
        now_ms = int(self.clock() * 1000)
        oldest = now_ms - limits.PUT_METRIC_DATA_MAX_AGE_S * 1000 + 60_000
        newest = now_ms + limits.PUT_METRIC_DATA_MAX_FUTURE_S * 1000
        result = DeliveryResult()
        fresh = []
        for d in data:
            if oldest <= d.timestamp <= newest:
                fresh.append(d)
            else:
                result.failed.append(FailedEntry(d, "TimestampOutOfRange", "outside PutMetricData's window"))
        for request in put_metric_data_requests(self.namespace, fresh):
            sent = send_with_retry([request], self._put, self.retry)
            result.requests += sent.requests
            if sent.ok:
                result.delivered += len(request["MetricData"])
            result.failed.extend(sent.failed)
        return result

    def _put(self, batch: Sequence[dict[str, Any]]) -> list[tuple[int, str, str]]:
        (request,) = batch  # ISO 8601 timestamps: botocore serializes them for any protocol
        self.client.put_metric_data(**request)
        return []
