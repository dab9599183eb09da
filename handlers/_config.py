"""The handlers' configuration: one frozen object, read and validated once at cold start.

An explicit argument beats the environment variable, which beats the default. A value is read
without the whitespace around it, and an empty one is unset (the template passes "" for what is
not set; regular expressions keep their spaces). A bad value is a
:class:`~logstream.ConfigError` naming the variable and the value when the module is imported
(Lambda reports an init error, every invocation fails the same way and the event stays with
Lambda's retries), never a failure deep in processing, never ignored.

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
``RECORD_FORMAT``              forwarder: ``ndjson``, ``ndjson-gzip`` or ``cloudwatch``  ``ndjson``
``SELF_METRICS``               ``false``: no per-invocation EMF document on stdout      ``true``
                               (namespace ``Logstream/Pipeline``)
``PARSE_MESSAGES`` ...         forwarder and Firehose transform: the processing        off
``TAGS``                       pipeline (:mod:`logstream.process.config` lists them)
``AWS_LAMBDA_LOG_GROUP_NAME``  set by Lambda: the handler's own log group              (Lambda)
``AWS_LAMBDA_FUNCTION_NAME``   set by Lambda: the self-metrics' FunctionName when the  (Lambda)
                               context has none
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
from logstream.process import PipelineConfig
from logstream.process.config import ENV_NAMES
from logstream.sinks.records import CLOUDWATCH, RECORD_FORMATS

_NOT_GIVEN: Any = object()
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_REGION = r"[a-z]{2,}(?:-[a-z]+)+-\d{1,2}"
# Stream names: Kinesis CreateStream (1-128) and Firehose CreateDeliveryStream (1-64), [a-zA-Z0-9_.-]
_STREAM_ARN = re.compile(
    rf"^arn:aws[a-z-]*:(?:kinesis:{_REGION}:\d{{12}}:stream/[A-Za-z0-9_.-]{{1,128}}"
    rf"|firehose:{_REGION}:\d{{12}}:deliverystream/[A-Za-z0-9_.-]{{1,64}})$"
)
# CloudWatch Logs CreateLogGroup: 1-512 characters of a-z, A-Z, 0-9, '_', '-', '/', '.', '#'
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_\-/.#]{1,512}$")
# CloudWatch PutMetricData: a namespace and a dimension name are ASCII without control characters
_METRIC_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")


#: Every variable a handler reads that a deployment sets (besides Lambda's own).
VARIABLES = frozenset(
    {
        "METRICS_OUTPUT",
        "LAMBDA_PRICE_PER_GB_SECOND",
        "SKIP_LOG_GROUPS",
        "METRICS_NAMESPACE",
        "METRICS_DIMENSION",
        "LAMBDA_ARCHITECTURE",
        "DESTINATION_ARN",
        "DEAD_LETTER_QUEUE_URL",
        "RECORD_FORMAT",
        "SELF_METRICS",
        *ENV_NAMES.values(),
    }
)
# set by Lambda, Powertools or the runtime, never one of ours misspelt
_NOT_OURS = ("AWS_", "POWERTOOLS_", "_", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR")
# (first or last letter, length) of our names: a typo keeps one end (see misspelt)
_LENGTHS: dict[str, set[int]] = {}
_LAST_LENGTHS: dict[str, set[int]] = {}
for _name in VARIABLES:
    _LENGTHS.setdefault(_name[0], set()).add(len(_name))
    _LAST_LENGTHS.setdefault(_name[-1], set()).add(len(_name))


def misspelt(env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Variables in ``env`` (``os.environ`` by default) that no handler reads but that look like
    one it does, a typo or the wrong case (``PARSE_MESAGES``, ``tags``): ``(name, the variable
    it looks like)``, sorted. The handlers log a warning for each at cold start: such a variable
    changes nothing, and an error would refuse other software's variables that happen to look
    like ours.

    Example
    -------
    >>> misspelt({"PARSE_MESAGES": "true", "redact": "all", "PATH": "/bin", "TAGS": "a=b"})
    [('PARSE_MESAGES', 'PARSE_MESSAGES'), ('redact', 'REDACT')]
    """
    env = os.environ if env is None else env
    # a cheap first look (this runs at every cold start): a look-alike starts or ends with the
    # same letter as one of ours (a typo in the first letter keeps the last) and is within 3
    # characters of its length (a ratio of 0.85 allows no more)
    suspects = [
        name
        for name in env
        if name not in VARIABLES
        and not name.startswith(_NOT_OURS)
        and (
            any(abs(len(name) - n) <= 3 for n in _LENGTHS.get(name[:1].upper(), ()))
            or any(abs(len(name) - n) <= 3 for n in _LAST_LENGTHS.get(name[-1:].upper(), ()))
        )
    ]
    if not suspects:
        return []
    import difflib

    found = []
    for name in suspects:
        close = difflib.get_close_matches(name.upper(), VARIABLES, n=1, cutoff=0.85)
        if close:
            found.append((name, close[0]))
    return sorted(found)


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
    pipeline: PipelineConfig = PipelineConfig()
    record_format: str = "ndjson"
    self_metrics: bool = True
    function_name: str | None = None

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
            return (env.get(variable) or "").strip() or None

        output = (pick("metrics_output", "METRICS_OUTPUT") or "emf").strip().lower()
        price = pick("price_per_gb_second", "LAMBDA_PRICE_PER_GB_SECOND")
        skip = pick("skip_log_groups", "SKIP_LOG_GROUPS")
        groups = {g.strip() for g in (skip.split(",") if isinstance(skip, str) else skip or ()) if g.strip()}
        for group in sorted(groups):
            if not _LOG_GROUP.match(group):
                raise ConfigError(
                    f"SKIP_LOG_GROUPS: {group!r} is not a log group name (1-512 characters of a-z, A-Z,"
                    " 0-9, _ - / . #; separate names with commas)"
                )
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
            pipeline=pick("pipeline", "") or PipelineConfig.from_env(env),
            record_format=(pick("record_format", "RECORD_FORMAT") or "ndjson").strip().lower(),
            self_metrics=_flag(pick("self_metrics", "SELF_METRICS"), "SELF_METRICS", True),
            function_name=pick("function_name", "AWS_LAMBDA_FUNCTION_NAME"),
        )
        if explicit:
            raise TypeError(f"unknown configuration fields: {sorted(explicit)}")
        config.validate()
        return config

    def validate(self) -> None:
        if self.metrics_output not in ("emf", "cloudwatch"):
            raise ConfigError(f"METRICS_OUTPUT must be 'emf' or 'cloudwatch', not {self.metrics_output!r}")
        ns = self.metrics_namespace
        if ns is not None and (ns.startswith("AWS/") or not _METRIC_NAME.match(ns)):
            raise ConfigError(
                f"METRICS_NAMESPACE must be 1-255 ASCII characters (no control characters), not starting"
                f" 'AWS/': {ns!r}"
            )
        dim = self.metrics_dimension
        if not _METRIC_NAME.match(dim) or dim.startswith(":") or dim == "_aws":
            raise ConfigError(
                "METRICS_DIMENSION must be 1-255 ASCII characters (no control characters), not starting"
                f" ':' and not '_aws': {dim!r}"
            )
        if self.architecture not in PRICE_PER_GB_SECOND:
            raise ConfigError(
                f"LAMBDA_ARCHITECTURE must be one of {sorted(PRICE_PER_GB_SECOND)}, not {self.architecture!r}"
            )
        if self.destination_arn is not None and not _STREAM_ARN.match(self.destination_arn):
            raise ConfigError(
                "DESTINATION_ARN is not a Kinesis stream or Firehose delivery stream ARN "
                "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME or "
                f"arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME): {self.destination_arn!r}"
            )
        if self.record_format not in RECORD_FORMATS:
            raise ConfigError(
                f"RECORD_FORMAT must be one of {', '.join(RECORD_FORMATS)}, not {self.record_format!r}"
            )
        pipe = self.pipeline
        adds = pipe.parse or pipe.join_multiline or pipe.enriches or pipe.tags
        if self.record_format == CLOUDWATCH and adds:
            raise ConfigError(
                "RECORD_FORMAT=cloudwatch sends CloudWatch's own documents, which have no place for "
                "PARSE_MESSAGES, JOIN_MULTILINE, ENRICH or TAGS (filters, sampling and redaction apply)"
            )
        dlq = self.dead_letter_queue_url
        if dlq is not None and not _QUEUE_URL.match(dlq):
            raise ConfigError(f"DEAD_LETTER_QUEUE_URL is not an SQS queue URL: {dlq!r}")
        if dlq is not None and dlq.endswith(".fifo"):
            raise ConfigError(
                "DEAD_LETTER_QUEUE_URL must be a standard queue: dead letters are sent without the"
                f" message group id a FIFO queue requires: {dlq!r}"
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
        return sink_for_destination(self.destination_arn, record_format=self.record_format)

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


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _flag(value: Any, name: str, default: bool) -> bool:
    if value is None or isinstance(value, bool):
        return default if value is None else value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, not {value!r}")
