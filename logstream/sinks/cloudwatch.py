"""CloudWatch ``PutMetricData``: its wire format, aggregated requests, retries, EMF fallback.

Samples are aggregated per metric, dimensions and minute into ``Values``/``Counts`` (exact
values, so percentiles stay exact). Requests are cut at 1000 datums and at 1 MB as encoded by
the protocol the client speaks (CBOR or JSON today; the verbose query protocol of older botocore
versions is sized as such). PutMetricData has no partial success: a request is retried whole.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from .. import limits
from .base import (
    UNKNOWN_OUTCOME,
    Deadline,
    DeliveryResult,
    LazyClient,
    RetryPolicy,
    send_with_retry,
)
from .metric_data import Sample, groups, valid_data

__all__ = ["CloudWatchSink", "put_metric_data_requests", "request_samples"]

_enc = msgspec.json.Encoder()
_QUERY = ("query", "ec2")


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metric_datums(data: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for (name, dims, unit, minute), values in groups(data).items():
        counted = sorted(Counter(values).items())
        step = limits.PUT_METRIC_DATA_MAX_VALUES
        for i in range(0, len(counted), step):
            chunk = counted[i : i + step]
            yield {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                "Timestamp": _iso(minute),
                "Values": [float(v) for v, _ in chunk],
                "Counts": [float(c) for _, c in chunk],
                "Unit": unit,
            }


def datum_bytes(datum: dict[str, Any], protocol: str = "query") -> int:
    """Upper estimate of a datum's encoded size for a botocore protocol.

    CBOR and JSON: the JSON text plus 9 bytes per number (a CBOR double is 9 bytes, more than a
    short decimal). Query (older botocore): every value repeats its full parameter name
    (``MetricData.member.N.Values.member.M=``).
    """
    numbers = len(datum["Values"]) + len(datum["Counts"])
    if protocol in _QUERY:
        return len(_enc.encode(datum)) + 48 * (6 + 2 * len(datum["Dimensions"]) + numbers)
    return len(_enc.encode(datum)) + 9 * numbers + 16 * (6 + len(datum["Dimensions"]))


def put_metric_data_requests(
    namespace: str, data: Iterable[Any], protocol: str = "query"
) -> list[dict[str, Any]]:
    """PutMetricData parameters (``Namespace``, ``MetricData``), cut at 1000 datums and 1 MB
    encoded for ``protocol`` (botocore's ``client.meta.service_model.protocol``; the default,
    query, is the largest encoding).

    Example
    -------
    >>> from logstream.sinks.metric_data import Sample
    >>> d = [Sample("Duration", v, "Milliseconds", 0, (("FunctionName", "f"),)) for v in (1, 2, 2)]
    >>> req, = put_metric_data_requests("ns", d)
    >>> req["MetricData"][0]["Values"], req["MetricData"][0]["Counts"]
    ([1.0, 2.0], [1.0, 2.0])
    """
    requests: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    budget = limits.PUT_METRIC_DATA_MAX_BYTES - 1_000 - len(namespace)
    for datum in _metric_datums(data):
        n = datum_bytes(datum, protocol)
        if batch and (len(batch) >= limits.PUT_METRIC_DATA_MAX_DATUMS or size + n > budget):
            requests.append({"Namespace": namespace, "MetricData": batch})
            batch, size = [], 0
        batch.append(datum)
        size += n
    if batch:
        requests.append({"Namespace": namespace, "MetricData": batch})
    return requests


def request_samples(request: dict[str, Any]) -> Iterator[Sample]:
    """The samples a PutMetricData request stands for (each value repeated by its count)."""
    for datum in request["MetricData"]:
        ts = int(datetime.strptime(datum["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
        dims = tuple((d["Name"], d["Value"]) for d in datum["Dimensions"])
        for value, count in zip(datum["Values"], datum["Counts"], strict=True):
            for _ in range(int(count)):
                yield Sample(datum["MetricName"], value, datum["Unit"], ts * 1000, dims)


class CloudWatchSink(LazyClient):
    """Send metric data with PutMetricData, one namespace per sink.

    Each datum is checked first (finite, within CloudWatch's range, timestamp within 2 weeks
    back and 2 hours ahead, names and dimensions CloudWatch accepts): a refused one is dropped
    and counted in ``result.dropped``, never failing the request. A request PutMetricData still
    refuses after the retries (or that the deadline leaves no time for) goes to ``fallback``
    when one is given (an :class:`~logstream.sinks.EmfSink`: EMF on stdout cannot fail), so a
    batch of metrics never has to be sent again. A request whose outcome is unknown (no answer
    before the read timeout) is reported failed and not re-sent anywhere: it may have counted.
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
        fallback: Any = None,
    ) -> None:
        if namespace.startswith("AWS/"):
            from ..errors import ConfigError

            raise ConfigError("metric namespaces starting with 'AWS/' are reserved for AWS")
        self.namespace = namespace
        self._client = client
        self.region = region
        self.retry = retry
        self.clock = clock
        self.fallback = fallback

    @property
    def destination(self) -> str:
        return f"CloudWatch namespace {self.namespace}"

    @property
    def protocol(self) -> str:
        """The protocol botocore speaks to CloudWatch (sizes the requests)."""
        model = getattr(getattr(self.client, "meta", None), "service_model", None)
        return str(getattr(model, "protocol", "query"))

    def send(self, data: Iterable[Any], deadline: Deadline | None = None) -> DeliveryResult:
        result = DeliveryResult()
        fresh = list(valid_data(data, int(self.clock() * 1000), result.dropped))
        if not fresh:
            return result
        for request in put_metric_data_requests(self.namespace, fresh, self.protocol):
            sent = send_with_retry([request], lambda batch, dl: self._put(batch, dl), self.retry, deadline)
            result.requests += sent.requests
            count = len(request["MetricData"])
            if sent.ok:
                result.delivered += count
            elif self.fallback is not None and sent.failed[0].error_class != UNKNOWN_OUTCOME:
                rerouted = self.fallback.send(request_samples(request))
                result.delivered += count
                result.rerouted[sent.failed[0].error_code] += count
                result.requests += rerouted.requests
            else:
                result.failed.extend(sent.failed)
        return result

    def _put(self, batch: Sequence[dict[str, Any]], deadline: Deadline) -> list[tuple[int, str, str]]:
        (request,) = batch  # ISO 8601 timestamps: botocore serializes them for any protocol
        self.client_for(deadline).put_metric_data(**request)
        return []
