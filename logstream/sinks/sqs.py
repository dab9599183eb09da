"""The dead-letter queue: SQS ``SendMessageBatch`` of what can never be processed, with its data.

Each dead letter becomes one message, a JSON object::

    {"reason": "record 1: decompress: ...", "source": {"eventSourceARN": ..., "sequenceNumber": ...},
     "part": 1, "parts": 1, "data": "H4sIAAAA..."}

``data`` is the input as received, base64 text (a Kinesis record's data, ``awslogs.data``, or a
document cut down to what failed, gzip like them: the README's "Dead letters"). Data too large
for one message (256 KiB) is split over several messages with the same ``reason`` and
``source`` and ``part``/``parts``; concatenating their ``data`` in part order gives it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from .. import limits
from .base import Deadline, DeliveryResult, LazyClient, RetryPolicy, batches, send_with_retry
from .records import split_escaped

__all__ = ["DeadLetter", "DeadLetterSink", "dead_letter_messages"]

_enc = msgspec.json.Encoder()
_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")
_MAX_BODY = limits.SQS_MAX_MESSAGE_BYTES - 1024  # room for the batch entry around the body


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    """Something that can never be processed: its data as received, why, and where it came from."""

    data: str
    reason: str
    source: dict[str, Any] = dataclasses.field(default_factory=dict)
    tag: Hashable = None


def dead_letter_messages(letter: DeadLetter, max_bytes: int = _MAX_BODY) -> list[str]:
    """The message bodies of one dead letter (one, or several parts when the data is large).

    Example
    -------
    >>> import json
    >>> bodies = dead_letter_messages(DeadLetter("x" * 500, "json: bad"), max_bytes=300)
    >>> [(json.loads(b)["part"], json.loads(b)["parts"]) for b in bodies]
    [(1, 3), (2, 3), (3, 3)]
    >>> "".join(json.loads(b)["data"] for b in bodies) == "x" * 500
    True
    """
    overhead = len(_body(letter, "", 99_999, 99_999, "0" * 16).encode())  # SQS counts UTF-8 bytes
    chunks = split_escaped(_enc.encode(letter.data)[1:-1], max(64, max_bytes - overhead)) or [""]
    # the parts of one letter say which letter they belong to: two letters with the same reason
    # and source, split alike, are told apart by it
    key = (
        hashlib.sha256(letter.data.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        if len(chunks) > 1
        else None
    )
    return [_body(letter, chunk, i, len(chunks), key) for i, chunk in enumerate(chunks, 1)]


def _body(letter: DeadLetter, data: str, part: int, parts: int, key: str | None = None) -> str:
    body: dict[str, Any] = {"reason": letter.reason, "source": letter.source, "part": part, "parts": parts}
    if key is not None:
        body["letter"] = key
    body["data"] = data
    # SQS refuses U+FFFE and U+FFFF even inside JSON strings: send their escapes
    return _enc.encode(body).decode().replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


@dataclasses.dataclass(frozen=True, slots=True)
class _Message:
    body: str
    letter: DeadLetter


class DeadLetterSink(LazyClient):
    """Send dead letters to an SQS queue (``DEAD_LETTER_QUEUE_URL``), retried entry by entry.

    Example
    -------
    >>> DeadLetterSink("https://sqs.eu-west-1.amazonaws.com/123456789012/failures", client=object()).region
    'eu-west-1'
    """

    service = "sqs"

    def __init__(self, queue_url: str, *, client: Any = None, retry: RetryPolicy = RetryPolicy()) -> None:
        self.queue_url = queue_url
        self._client = client
        m = _REGION.match(queue_url)
        self.region = m.group(1) if m else None
        self.retry = retry

    @property
    def destination(self) -> str:
        return f"dead-letter queue {self.queue_url}"

    def send(self, letters: Iterable[DeadLetter], deadline: Deadline | None = None) -> DeliveryResult:
        """Send every letter; each failed entry of the result is a message (``.letter``)."""
        result = DeliveryResult()
        messages = list(self._messages(letters))
        for batch in batches(
            messages,
            lambda m: len(m.body.encode()),
            limits.SQS_MAX_BATCH_ENTRIES,
            limits.SQS_MAX_MESSAGE_BYTES,
        ):
            result.merge(send_with_retry(batch, self._put, self.retry, deadline))
        return result

    @staticmethod
    def _messages(letters: Iterable[DeadLetter]) -> Iterator[_Message]:
        for letter in letters:
            for body in dead_letter_messages(letter):
                yield _Message(body, letter)

    def _put(self, batch: Sequence[_Message], deadline: Deadline) -> list[tuple[int, str, str]]:
        response = self.client_for(deadline).send_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(i), "MessageBody": m.body} for i, m in enumerate(batch)],
        )
        return [
            (int(f["Id"]), f.get("Code", "Failed"), f.get("Message", "")) for f in response.get("Failed", [])
        ]
