"""The handlers' configuration: one frozen object, read and validated once at cold start.

An explicit argument beats the environment variable, which beats the default. A bad value is a
:class:`~logstream.ConfigError` when the module is imported (Lambda reports an init error
naming the variable), never a failure of every invocation.

=============================  ======================================================  ==========
variable                       meaning                                                 default
=============================  ======================================================  ==========
``METRICS_OUTPUT``             ``emf`` (stdout) or ``cloudwatch`` (PutMetricData,      ``emf``
                               falling back to EMF when refused)
``METRICS_NAMESPACE``          metric namespace (not ``AWS/...``)                      per handler
``METRICS_DIMENSION``          fluentd: the dimension holding ``plugin_id``            ``PluginId``
``LAMBDA_ARCHITECTURE``        ``x86_64`` or ``arm64`` (EstimatedCost)                 ``x86_64``
``LAMBDA_PRICE_PER_GB_SECOND`` overrides the price table (EstimatedCost)               none
``DESTINATION_ARN``            forwarder: Kinesis stream or Firehose delivery stream   required
``DEAD_LETTER_QUEUE_URL``      SQS queue for what can never be processed (with its     none: log
                               data); unset: logged with its data                      it
``SKIP_LOG_GROUPS``            comma-separated log groups never processed (all the     none
                               deployment's handlers); the own group always is
``AWS_LAMBDA_LOG_GROUP_NAME``  set by Lambda: the handler's own log group              (Lambda)
=============================  ======================================================  ==========
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from logstream import ConfigError
from logstream.metrics import PRICE_PER_GB_SECOND, Pricing

_NOT_GIVEN: Any = object()
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:(kinesis|firehose):[a-z0-9-]+:\d{12}:(stream|deliverystream)/\S+$")


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """Everything a handler reads from its environment, validated."""

    metrics_output: str = "emf"
    metrics_namespace: str | None = None
    metrics_dimension: str = "PluginId"
    architecture: str = "x86_64"
    price_per_gb_second: float | None = None
    destination_arn: str | None = None
    dead_letter_queue_url: str | None = None
    skip_log_groups: frozenset[str] = frozenset()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **explicit: Any) -> Config:
        """Read the environment (``os.environ`` by default); keyword arguments beat it.

        Example
        -------
        >>> Config.load({"METRICS_OUTPUT": "cloudwatch"}, metrics_output="emf").metrics_output
        'emf'
        >>> Config.load({"SKIP_LOG_GROUPS": "/aws/lambda/a, /aws/lambda/b",
        ...              "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/self"}).skip_log_groups == {
        ...     "/aws/lambda/a", "/aws/lambda/b", "/aws/lambda/self"}
        True
        """
        env = os.environ if environ is None else environ

        def pick(field: str, variable: str) -> Any:
            if explicit.get(field, _NOT_GIVEN) is not _NOT_GIVEN:
                return explicit.pop(field)
            return env.get(variable) or None

        output = (pick("metrics_output", "METRICS_OUTPUT") or "emf").strip().lower()
        price = pick("price_per_gb_second", "LAMBDA_PRICE_PER_GB_SECOND")
        skip = pick("skip_log_groups", "SKIP_LOG_GROUPS")
        groups = {g.strip() for g in (skip.split(",") if isinstance(skip, str) else skip or ()) if g.strip()}
        if own := env.get("AWS_LAMBDA_LOG_GROUP_NAME"):
            groups.add(own)
        config = cls(
            metrics_output=output,
            metrics_namespace=pick("metrics_namespace", "METRICS_NAMESPACE"),
            metrics_dimension=pick("metrics_dimension", "METRICS_DIMENSION") or "PluginId",
            architecture=pick("architecture", "LAMBDA_ARCHITECTURE") or "x86_64",
            price_per_gb_second=_price(price),
            destination_arn=pick("destination_arn", "DESTINATION_ARN"),
            dead_letter_queue_url=pick("dead_letter_queue_url", "DEAD_LETTER_QUEUE_URL"),
            skip_log_groups=frozenset(groups),
        )
        if explicit:
            raise TypeError(f"unknown configuration fields: {sorted(explicit)}")
        config.validate()
        return config

    def validate(self) -> None:
        if self.metrics_output not in ("emf", "cloudwatch"):
            raise ConfigError(f"METRICS_OUTPUT must be 'emf' or 'cloudwatch', not {self.metrics_output!r}")
        ns = self.metrics_namespace
        if ns is not None and (ns.startswith("AWS/") or not 0 < len(ns) <= 255):
            raise ConfigError(f"METRICS_NAMESPACE must be 1-255 characters, not starting 'AWS/': {ns!r}")
        dim = self.metrics_dimension
        if not 0 < len(dim) <= 255 or dim == "_aws":
            raise ConfigError(f"METRICS_DIMENSION must be 1-255 characters and not '_aws': {dim!r}")
        if self.architecture not in PRICE_PER_GB_SECOND:
            raise ConfigError(
                f"LAMBDA_ARCHITECTURE must be one of {sorted(PRICE_PER_GB_SECOND)}, not {self.architecture!r}"
            )
        if self.destination_arn is not None and not _STREAM_ARN.match(self.destination_arn):
            raise ConfigError(
                "DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN: "
                f"{self.destination_arn!r}"
            )
        if self.dead_letter_queue_url is not None and not _QUEUE_URL.match(self.dead_letter_queue_url):
            raise ConfigError(
                f"DEAD_LETTER_QUEUE_URL is not an SQS queue URL: {self.dead_letter_queue_url!r}"
            )

    # ------------------------------------------------------------------ what the handlers build
    def pricing(self) -> Pricing:
        return Pricing(architecture=self.architecture, price_per_gb_second=self.price_per_gb_second)

    def metrics_sink(self, default_namespace: str) -> Any:
        """EMF on stdout, or PutMetricData with EMF as the fallback for what it refuses."""
        from logstream.sinks import CloudWatchSink, EmfSink

        namespace = self.metrics_namespace or default_namespace
        if self.metrics_output == "emf":
            return EmfSink(namespace)
        return CloudWatchSink(namespace, fallback=EmfSink(namespace))

    def destination_sink(self) -> Any:
        from logstream.sinks import sink_for_destination

        if not self.destination_arn:
            raise ConfigError(
                "DESTINATION_ARN is required: the Kinesis stream or Firehose delivery stream ARN"
            )
        return sink_for_destination(self.destination_arn)

    def dead_letter_sink(self) -> Any:
        from logstream.sinks import DeadLetterSink

        return DeadLetterSink(self.dead_letter_queue_url) if self.dead_letter_queue_url else None


def _price(value: Any) -> float | None:
    if value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        price = math.nan
    if not math.isfinite(price) or price <= 0:
        raise ConfigError(f"LAMBDA_PRICE_PER_GB_SECOND must be a positive number, not {value!r}")
    return price
