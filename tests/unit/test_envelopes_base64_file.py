"""Base64 text of a whole payload (the ``awslogs.data`` string saved to a file, or what the
``base64`` tool writes) is a payload whether it arrives as bytes or as a binary file object.
Before, bytes were decoded but a file object was streamed to the inflater as it came, which
reported ``not gzip or zlib data (no gzip/zlib header)`` and no document."""

from __future__ import annotations

import base64
import gzip
import zlib

import pytest

from logstream import DecodeError, decode_log_stream, iter_log_streams
from logstream import testing as t
from tests.readers import Pieces

DOC = t.make_document(["START RequestId: 1\n", "hello\n"], log_group="/aws/lambda/a")
DOCS = [DOC, t.make_document(["second\n"], log_group="/aws/lambda/b")]
GZIP_TEXT = base64.b64encode(gzip.compress(t.document_json(DOC))).decode()  # "H4sI..."
ZLIB_TEXT = base64.b64encode(zlib.compress(t.document_json(DOC))).decode()  # "eJ..."
# an S3 object of two members, as base64 wrapped at 76 columns (what `base64 object.gz` writes)
MEMBERS = b"".join(t.gzip_member(t.document_json(d)) for d in DOCS)
WRAPPED = b"\n".join(base64.encodebytes(MEMBERS).splitlines()) + b"\n"

SAVED = {  # what a file may hold: the payload string as it was saved
    "gzip": GZIP_TEXT.encode(),
    "gzip, trailing newline": GZIP_TEXT.encode() + b"\n",
    "zlib, trailing CRLF": ZLIB_TEXT.encode() + b"\r\n",
    "gzip, blank lines around": b"\n" + GZIP_TEXT.encode() + b"\n\n",
}


def _documents(obj) -> tuple[list[dict], list[tuple[str, str]]]:
    errors: list[DecodeError] = []
    docs = [s.to_document() for s in iter_log_streams(obj, on_error=errors.append)]
    return docs, [(e.step, str(e)) for e in errors]


@pytest.mark.parametrize("name", SAVED)
def test_given_a_saved_payload_as_bytes_then_its_document(name):
    assert decode_log_stream(SAVED[name]).to_document() == DOC
    assert _documents(SAVED[name]) == ([DOC], [])


@pytest.mark.parametrize("name", SAVED)
def test_given_a_saved_payload_as_a_file_object_then_its_document(name, tmp_path):
    path = tmp_path / "payload.b64"
    path.write_bytes(SAVED[name])
    with path.open("rb") as f:  # a real file, read as iter_log_streams reads one
        assert _documents(f) == ([DOC], [])
    for n in (1, 7, 4096):  # a pipe handing over a few bytes at a time
        assert _documents(Pieces(SAVED[name], n)) == ([DOC], [])


def test_given_base64_of_an_object_wrapped_at_76_columns_then_every_member_from_bytes_and_a_file(tmp_path):
    assert WRAPPED.count(b"\n") > 2  # (wrapped indeed)
    path = tmp_path / "object.gz.b64"
    path.write_bytes(WRAPPED)
    assert _documents(WRAPPED) == (DOCS, [])
    with path.open("rb") as f:
        assert _documents(f) == (DOCS, [])
    assert _documents(Pieces(WRAPPED, 5)) == (DOCS, [])


@pytest.mark.parametrize(
    "text",
    [
        b"Starting\n",  # valid base64, not a payload
        b"aGVsbG8gd29ybGQ=\n",  # base64 of "hello world"
        GZIP_TEXT.encode()[: len(GZIP_TEXT) // 8 * 4] + b"\n",  # a payload cut in half
        b"H4sI not base64 after all\n",
        b"H4sI" + b"A" * 40 + b"!\n",  # a character base64 does not have
    ],
)
def test_given_text_that_is_no_payload_then_a_file_object_fails_as_bytes_do(text):
    from_bytes = _documents(text)
    assert from_bytes[0] == []
    assert from_bytes[1] and {step for step, _ in from_bytes[1]} <= {"decompress", "json"}
    assert _documents(Pieces(text, 3)) == from_bytes


def test_given_base64_text_longer_than_twice_the_cap_from_a_file_object_then_a_size_cap_error_saying_so():
    # a payload whose base64 text is over twice the cap: from a file it is not read whole (the
    # memory bound); it is said to be too big, not that it is no gzip data
    text = base64.b64encode(gzip.compress(t.document_json(DOC), mtime=0)) + b"\n"
    cap = len(text) // 2 - 1
    errors: list[DecodeError] = []
    assert list(iter_log_streams(Pieces(text, 64), max_size=cap, on_error=errors.append)) == []
    assert [(e.step, str(e)) for e in errors] == [
        (
            "size cap",
            f"size cap: base64 text longer than twice the cap of {cap} bytes: not read"
            " (a bigger max_size reads it)",
        )
    ]
    # the same text within the cap: the document
    assert _documents(Pieces(text, 64)) == ([DOC], [])
