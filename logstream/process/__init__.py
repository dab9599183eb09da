"""Processing between decode and the sinks: plain functions over one stream's events.

Each stage is off unless configured and costs nothing when off. :class:`PipelineConfig` holds
the configuration (from arguments, :meth:`PipelineConfig.from_env` or
:meth:`PipelineConfig.from_flags`), :class:`Pipeline` runs the stages that are on.

Example
-------
>>> from logstream import decode_log_stream
>>> from logstream.testing import make_document
>>> from logstream.process import Pipeline, PipelineConfig
>>> stream = decode_log_stream(make_document(["login from 10.1.2.3\\n"], log_group="/aws/lambda/api"))
>>> pipeline = Pipeline(PipelineConfig.from_env({"REDACT": "ipv4", "ENRICH": "true"}))
>>> [(e.message, e.function_name) for e in pipeline.process(stream)]
[('login from [REDACTED:ipv4]\\n', 'api')]
"""

from .config import ENV_NAMES, FLAG_NAMES, PipelineConfig
from .enrichment import add_tags, enrich
from .events import ProcessedEvent, encode_lines, from_stream
from .filters import detected_level, filter_min_level, filter_patterns, parsed_level, sample, sample_keeps
from .multiline import is_platform_line, join_multiline
from .parse import parse_events
from .pipeline import Pipeline, Stage
from .redact import RULE_NAMES, RULES, Redactor, Rule, luhn_ok, redact_events

__all__ = [
    "Pipeline",
    "PipelineConfig",
    "ProcessedEvent",
    "Stage",
    "ENV_NAMES",
    "FLAG_NAMES",
    "from_stream",
    "encode_lines",
    "join_multiline",
    "is_platform_line",
    "filter_patterns",
    "filter_min_level",
    "sample",
    "sample_keeps",
    "parsed_level",
    "detected_level",
    "parse_events",
    "Redactor",
    "Rule",
    "RULES",
    "RULE_NAMES",
    "luhn_ok",
    "redact_events",
    "enrich",
    "add_tags",
]
