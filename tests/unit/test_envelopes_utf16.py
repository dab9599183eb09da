"""The library reads UTF-16 text (bytes or a binary file object) as the same text: with a byte
order mark, or without one when it is mostly ASCII. Before, every case here was one
'not gzip or zlib data' or 'invalid JSON' error."""

from __future__ import annotations

import base64
import io
import json
import struct

import pytest

from logstream import DecodeError, iter_log_streams
from logstream import testing as t
from logstream.envelopes import utf16_codec, utf16_to_utf8

DOC = t.make_document(["caf\u00e9 \u2603 one\n", "two \U0001f600\n"], log_group="/aws/lambda/f")
MESSAGES = ["caf\u00e9 \u2603 one\n", "two \U0001f600\n"]
EVENT = json.dumps(t.lambda_event(DOC))
PRETTY_DOCS = json.dumps(DOC, indent=2, ensure_ascii=False) + "\n" + json.dumps(DOC, ensure_ascii=False)
PAYLOAD = t.encode_payload(DOC) + "\r\n"

ENCODINGS = [
    pytest.param(lambda s: "\ufeff".encode("utf-16-le") + s.encode("utf-16-le"), id="le-bom"),
    pytest.param(lambda s: "\ufeff".encode("utf-16-be") + s.encode("utf-16-be"), id="be-bom"),
    pytest.param(lambda s: s.encode("utf-16-le"), id="le"),
    pytest.param(lambda s: s.encode("utf-16-be"), id="be"),
]


def _messages(obj) -> list[list[str]]:
    return [[e.message for e in s.log_events] for s in iter_log_streams(obj)]


@pytest.mark.parametrize("encode", ENCODINGS)
def test_given_utf16_bytes_of_an_event_documents_or_a_payload_then_the_same_streams_as_utf8(encode):
    assert _messages(encode(EVENT)) == [MESSAGES]
    assert _messages(encode(PRETTY_DOCS)) == [MESSAGES, MESSAGES]
    assert _messages(encode(PAYLOAD)) == [MESSAGES]


@pytest.mark.parametrize("encode", ENCODINGS)
def test_given_a_binary_file_object_of_utf16_text_then_streamed_the_same(encode):
    data = encode(PRETTY_DOCS)

    class Pipe(io.RawIOBase):  # hands out 7 bytes at a time: code units split between reads
        def __init__(self) -> None:
            self.rest = data

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            chunk, self.rest = self.rest[:7], self.rest[7:]
            return chunk

    assert _messages(Pipe()) == [MESSAGES, MESSAGES]
    assert _messages(io.BytesIO(data)) == [MESSAGES, MESSAGES]


def test_given_utf16_cut_at_an_odd_byte_then_a_decode_error_not_a_unicode_error():
    data = json.dumps(DOC).encode("utf-16-le") + b"x"
    errors: list[DecodeError] = []
    streams = list(iter_log_streams(data, on_error=errors.append))
    assert [[e.message for e in s.log_events] for s in streams] == [MESSAGES]
    assert [e.step for e in errors] == ["json"]
    with pytest.raises(DecodeError):
        list(iter_log_streams(data))


def test_given_a_lone_surrogate_in_utf16_json_then_a_json_error():
    text = json.dumps(DOC)
    at = text.index("two")
    data = text[:at].encode("utf-16-le") + b"\x00\xd8" + text[at:].encode("utf-16-le")
    with pytest.raises(DecodeError) as err:
        list(iter_log_streams(data))
    assert err.value.step == "json"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xfe{\x00", ("utf-16-le", 2)),
        (b"\xfe\xff\x00{", ("utf-16-be", 2)),
        ('{"a": 1}\n'.encode("utf-16-le"), ("utf-16-le", 0)),
        ('{"a": 1}\n'.encode("utf-16-be"), ("utf-16-be", 0)),
        ("H4sIAAAAAAAA".encode("utf-16-le"), ("utf-16-le", 0)),
        ("\u4e00 error: connection refused\n".encode("utf-16-le"), ("utf-16-le", 0)),  # a low byte 00
    ],
)
def test_given_utf16_text_then_its_codec(head, expected):
    assert utf16_codec(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"a": 1}\n', id="utf8"),
        pytest.param(t.gzip_member(b'{"a": 1}'), id="gzip"),
        pytest.param(b"\x00" * 600 + b"[INFO] restarted\n", id="nul-padding-then-text"),
        pytest.param(b"\x00" * 5 + b"abc\n", id="odd-nul-padding"),
        pytest.param(struct.pack("<64H", *range(64)), id="16-bit-numbers"),
        pytest.param(b"record\x1eseparated\x00inside\n", id="one-nul-in-utf8"),
        pytest.param("\u043f\u0440\u0438\u0432\u0435\u0442".encode("utf-16-le"), id="cyrillic-no-bom"),
        pytest.param(base64.b64encode(b"\x00" * 30), id="base64-of-nuls"),
    ],
)
def test_given_input_that_is_not_utf16_text_then_none(head):
    assert utf16_codec(head) is None


def test_given_chunks_of_utf16_then_utf8_as_they_come_without_empty_chunks():
    text = "a\u00e9\U0001f600\n"
    data = text.encode("utf-16-be")
    out = list(utf16_to_utf8((data[i : i + 1] for i in range(len(data))), "utf-16-be"))
    assert b"" not in out
    assert b"".join(out) == text.encode("utf-8")
    assert list(utf16_to_utf8([data + b"x"], "utf-16-be")) == [text.encode("utf-8"), "\ufffd".encode()]
