"""The one exception tree of logstream.

::

    LogstreamError                 root: catch this to catch everything logstream raises
    ├── DecodeError                input could not be turned into a LogStream (has .step, .where)
    │   ├── EnvelopeError          step "envelope": not a shape logstream knows (not CloudWatch Logs data)
    │   ├── Base64Error            step "base64": not valid base64
    │   ├── DecompressError        step "decompress": not gzip/zlib, truncated or corrupt stream
    │   ├── SizeLimitError         step "size cap": decompressed size over the cap (decompression bomb)
    │   ├── JSONError              step "json": not valid JSON
    │   └── SchemaError            step "schema": valid JSON, wrong shape (missing key, wrong type)
    ├── ParseError                 a line that is a report/status line but cannot be read
    ├── ConfigError                bad configuration (environment variables, arguments)
    └── DeliveryError              a sink could not deliver every entry after its retries (.failed)

Messages name the step and the place (file, line, record, gzip member, document), never the
payload; every position in a message counts from 1 (``record 1`` is the first record). The
attributes are 0-based indexes, as in Python, except ``line``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
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
]


class LogstreamError(Exception):
    """Root of every exception logstream raises on purpose."""


class DecodeError(LogstreamError, ValueError):
    """Input could not be decoded.

    Attributes
    ----------
    step : str
        The decoding step that failed: ``envelope``, ``base64``, ``decompress``, ``size cap``,
        ``json`` or ``schema``.
    detail : str
        What went wrong, without any of the payload.
    source : str | None
        File name (or ``<stdin>``) when known.
    record : int | None
        0-based index of the record inside its envelope (Kinesis ``Records[i]``, Firehose
        ``records[i]``, SQS ``Messages[i]``).
    line : int | None
        1-based line number in the source, when known.
    member : int | None
        0-based index of the gzip member in a multi-member stream (a Firehose S3 object).
    document : int | None
        0-based index of the document in a stream of glued/concatenated documents.

    Example
    -------
    >>> from logstream import decode_log_stream, DecodeError
    >>> try:
    ...     decode_log_stream("not base64!")
    ... except DecodeError as err:
    ...     err.step
    'base64'
    """

    step = "decode"

    def __init__(self, detail: str, **where: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.source: str | None = None
        self.record: int | None = None
        self.line: int | None = None
        self.member: int | None = None
        self.document: int | None = None
        self.locate(**where)

    def locate(
        self,
        *,
        source: str | None = None,
        record: int | None = None,
        line: int | None = None,
        member: int | None = None,
        document: int | None = None,
    ) -> DecodeError:
        """Fill in where the error happened; places already known are kept (innermost wins)."""
        if self.source is None and source is not None:
            self.source = source
        if self.record is None and record is not None:
            self.record = record
        if self.line is None and line is not None:
            self.line = line
        if self.member is None and member is not None:
            self.member = member
        if self.document is None and document is not None:
            self.document = document
        return self

    @property
    def where(self) -> str:
        """The place as text, 1-based, e.g. ``events.json: record 2``; empty when unknown."""
        parts = []
        if self.source is not None:
            parts.append(self.source)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"record {self.record + 1}")
        if self.member is not None:
            parts.append(f"member {self.member + 1}")
        if self.document is not None:
            parts.append(f"document {self.document + 1}")
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.where
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.step}: {self.detail}"

    def __reduce__(self) -> tuple[Any, ...]:  # keep pickling (multiprocessing) working
        where = {k: getattr(self, k) for k in ("source", "record", "line", "member", "document")}
        return (_rebuild, (type(self), self.detail, where))


def _rebuild(cls: type[DecodeError], detail: str, where: dict[str, Any]) -> DecodeError:
    return cls(detail, **where)


class EnvelopeError(DecodeError):
    """The input is not a transport or document logstream recognises."""

    step = "envelope"


class Base64Error(DecodeError):
    """The payload is not valid base64."""

    step = "base64"


class DecompressError(DecodeError):
    """The payload is not gzip/zlib data, or the stream is truncated or corrupt."""

    step = "decompress"


class SizeLimitError(DecodeError):
    """Decompressing would exceed the size cap (a decompression bomb, or a cap set too low)."""

    step = "size cap"


class JSONError(DecodeError):
    """The decompressed payload is not valid JSON."""

    step = "json"


class SchemaError(DecodeError):
    """Valid JSON that is not a CloudWatch Logs subscription document."""

    step = "schema"


class ParseError(LogstreamError, ValueError):
    """A line that belongs to a parser (e.g. a REPORT line) but cannot be read."""


class ConfigError(LogstreamError, ValueError):
    """Invalid configuration: an environment variable or argument with a bad value."""


class DeliveryError(LogstreamError):
    """A sink gave up on some entries after its retries.

    Attributes
    ----------
    failed : list
        The entries that were not delivered, each with its error code and message.
    """

    def __init__(self, message: str, failed: list[Any] | None = None) -> None:
        super().__init__(message)
        self.failed = list(failed or [])
