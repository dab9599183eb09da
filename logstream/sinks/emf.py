"""Embedded Metric Format on stdout: CloudWatch turns the handler's own log lines into metrics
(no API calls, no throttling). This module owns the EMF wire format."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

import msgspec

from .. import limits
from .base import Deadline, DeliveryResult
from .metric_data import groups, valid_data

__all__ = ["EmfSink", "emf_documents"]

_enc = msgspec.json.Encoder()

#: Dropped-datum reason for a metric whose name is a key the document needs for itself.
RESERVED_NAME = "metric name clashes with _aws or a dimension"


def emf_documents(
    namespace: str, data: Iterable[Any], dropped: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Embedded Metric Format documents keeping every sample: one timestamp per document,
    at most 100 metrics per document and 100 values per metric array.

    A metric never overwrites the document's own keys: one named ``_aws`` or like one of its
    dimensions is left out (counted in ``dropped``), and two metrics of the same name with
    different units go to different documents.

    Example
    -------
    >>> from logstream.sinks.metric_data import Sample
    >>> dims = (("PluginId", "out_s3"),)
    >>> docs = emf_documents("fluentd", [Sample("retry_count", 2, "Count", 60_000, dims),
    ...                                  Sample("_aws", 7, "Count", 60_000, dims)])
    >>> [(d["PluginId"], d["retry_count"], d["_aws"]["Timestamp"]) for d in docs]
    [('out_s3', 2.0, 60000)]
    """
    # (dims, minute) -> layers of {name: (unit, values)}; a name twice (other unit) -> next layer
    by_dims: dict[tuple[Any, ...], list[dict[str, tuple[str, list[float]]]]] = {}
    for (name, dims, unit, minute), values in groups(data).items():
        if name == "_aws" or any(name == k for k, _ in dims):
            if dropped is not None:
                dropped[RESERVED_NAME] = dropped.get(RESERVED_NAME, 0) + len(values)
            continue
        layers = by_dims.setdefault((dims, minute), [])
        for layer in layers:
            if name not in layer:
                layer[name] = (unit, values)
                break
        else:
            layers.append({name: (unit, values)})
    docs: list[dict[str, Any]] = []
    for (dims, minute), layers in by_dims.items():
        for metrics in layers:
            names = list(metrics)
            for m0 in range(0, len(names), limits.EMF_MAX_METRICS):
                chunk = names[m0 : m0 + limits.EMF_MAX_METRICS]
                longest = max(len(metrics[k][1]) for k in chunk)
                for v0 in range(0, longest, limits.EMF_MAX_VALUES):
                    present = [k for k in chunk if len(metrics[k][1]) > v0]
                    doc: dict[str, Any] = {
                        "_aws": {
                            "Timestamp": minute,
                            "CloudWatchMetrics": [
                                {
                                    "Namespace": namespace,
                                    "Dimensions": [[k for k, _ in dims]],
                                    "Metrics": [{"Name": n, "Unit": metrics[n][0]} for n in present],
                                }
                            ],
                        }
                    }
                    for k, v in dims:
                        doc[k] = v
                    for name in present:
                        vals = metrics[name][1][v0 : v0 + limits.EMF_MAX_VALUES]
                        doc[name] = vals if len(vals) > 1 else vals[0]
                    docs.append(doc)
    return docs


class EmfSink:
    """Print EMF documents, one per line, to ``stream`` (stdout by default). Each datum is
    checked first, as for PutMetricData: a refused one is dropped and counted."""

    def __init__(
        self, namespace: str, stream: IO[str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.namespace = namespace
        self.stream = stream
        self.clock = clock

    @property
    def destination(self) -> str:
        return f"EMF on stdout, namespace {self.namespace}"

    def send(self, data: Iterable[Any], deadline: Deadline | None = None) -> DeliveryResult:
        result = DeliveryResult()
        good = list(valid_data(data, int(self.clock() * 1000), result.dropped))
        docs = emf_documents(self.namespace, good, result.dropped)
        out = self.stream or sys.stdout
        out.write(_enc.encode_lines(docs).decode())  # one line per document
        out.flush()
        result.delivered = len(good) - sum(n for k, n in result.dropped.items() if k == RESERVED_NAME)
        result.requests = len(docs)
        return result
