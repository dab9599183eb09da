"""Embedded Metric Format on stdout: CloudWatch turns the handler's own log lines into metrics
(no API calls, no throttling)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO

import msgspec

from ..metrics import Datum, emf_documents
from .base import DeliveryResult


class EmfSink:
    """Print EMF documents, one per line, to ``stream`` (stdout by default)."""

    def __init__(self, namespace: str, stream: IO[str] | None = None) -> None:
        self.namespace = namespace
        self.stream = stream

    def send(self, data: Iterable[Datum]) -> DeliveryResult:
        data = list(data)
        docs = emf_documents(self.namespace, data)
        out = self.stream or sys.stdout
        enc = msgspec.json.Encoder()
        for doc in docs:
            out.write(enc.encode(doc).decode() + "\n")
        out.flush()
        return DeliveryResult(delivered=len(data), requests=len(docs))
