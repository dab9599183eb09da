"""logstream: decode CloudWatch Logs subscription data from every transport, parse Lambda
invocation reports and fluentd status, and deliver them as metrics or records.

Example
-------
>>> import logstream
>>> from logstream.testing import lambda_event, make_document
>>> stream = logstream.decode_log_stream(lambda_event(make_document(["hi\\n"])))
>>> stream.log_events[0].message
'hi\\n'
"""

from .decode import DEFAULT_MAX_SIZE
from .envelopes import decode_log_stream, iter_log_streams
from .errors import (
    Base64Error,
    ConfigError,
    DecodeError,
    DecompressError,
    DeliveryError,
    EnvelopeError,
    JSONError,
    LogstreamError,
    ParseError,
    SchemaError,
    SizeLimitError,
)
from .models import LogEvent, LogStream, MessageType

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_SIZE",
    "decode_log_stream",
    "iter_log_streams",
    "LogEvent",
    "LogStream",
    "MessageType",
    "LogstreamError",
    "DecodeError",
    "EnvelopeError",
    "Base64Error",
    "DecompressError",
    "SizeLimitError",
    "JSONError",
    "SchemaError",
    "ParseError",
    "ConfigError",
    "DeliveryError",
    "__version__",
]
