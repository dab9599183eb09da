"""Handler configuration from the environment: an explicit argument beats the variable, which
beats the default. Read once per container."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..metrics import Pricing

if TYPE_CHECKING:
    from .cloudwatch import CloudWatchSink
    from .emf import EmfSink


def metrics_sink(
    default_namespace: str, *, output: str | None = None, namespace: str | None = None
) -> EmfSink | CloudWatchSink:
    """``METRICS_OUTPUT`` = ``emf`` (default) | ``cloudwatch``; ``METRICS_NAMESPACE``."""
    from .cloudwatch import CloudWatchSink
    from .emf import EmfSink

    output = (output or os.environ.get("METRICS_OUTPUT") or "emf").lower()
    namespace = namespace or os.environ.get("METRICS_NAMESPACE") or default_namespace
    if output == "emf":
        return EmfSink(namespace)
    if output == "cloudwatch":
        return CloudWatchSink(namespace)
    raise ConfigError(f"METRICS_OUTPUT must be 'emf' or 'cloudwatch', not {output!r}")


def pricing() -> Pricing:
    """``LAMBDA_ARCHITECTURE`` (x86_64|arm64) and ``LAMBDA_PRICE_PER_GB_SECOND`` for EstimatedCost."""
    price = os.environ.get("LAMBDA_PRICE_PER_GB_SECOND")
    return Pricing(
        architecture=os.environ.get("LAMBDA_ARCHITECTURE", "x86_64"),
        price_per_gb_second=float(price) if price else None,
    )


def own_log_group() -> str | None:
    """The handler's own log group: events from it are never processed (log recursion)."""
    return os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
