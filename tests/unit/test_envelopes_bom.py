"""The library reads documents glued together with a UTF-8 byte order mark at the start of a
later one (``cat a.json b.json`` of files saved by Windows tools), as the CLI does line by line.
Before: 'invalid JSON: invalid character' at the BOM, and every document after it lost."""

from __future__ import annotations

import gzip
import io
import json
import zlib

import pytest

from logstream import DecodeError, JSONError, iter_log_streams
from logstream import testing as t

BOM = b"\xef\xbb\xbf"
EVENT = t.lambda_event(t.make_document(["one\n"], log_group="/aws/lambda/a"))
DOC = t.make_document(["two\n", "three\n"], log_group="/aws/lambda/b")
# what `cat` makes of three files saved with a BOM: the second has no final line break, so the
# third one's BOM is glued to its closing brace; the third is pretty-printed
FILES = [
    BOM + json.dumps(EVENT).encode() + b"\n",
    BOM + json.dumps(DOC).encode(),
    BOM + json.dumps(EVENT, indent=2).encode() + b"\n",
]
CONCATENATED = b"".join(FILES)
EXPECTED = [["one\n"], ["two\n", "three\n"], ["one\n"]]


class Trickle(io.RawIOBase):
    """A pipe handing over ``size`` bytes per read: a BOM arrives split across reads."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        out, self.data = self.data[: self.size], self.data[self.size :]
        return out

    read = read1


def _messages(obj, errors: list[DecodeError] | None = None) -> list[list[str]]:
    on_error = None if errors is None else errors.append
    return [[e.message for e in s.log_events] for s in iter_log_streams(obj, on_error=on_error)]


def test_given_concatenated_files_each_with_a_bom_when_bytes_then_every_document():
    assert _messages(CONCATENATED) == EXPECTED


def test_given_concatenated_files_each_with_a_bom_when_text_then_every_document():
    assert _messages(CONCATENATED.decode("utf-8")) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_given_concatenated_files_when_read_in_small_pieces_then_a_split_bom_is_still_skipped(size):
    assert _messages(Trickle(CONCATENATED, size)) == EXPECTED


def test_given_a_bom_inside_a_message_then_it_stays_in_the_message():
    doc = t.make_document(["\ufeffstarts with a BOM\n", "}\ufeff{\n"])
    glued = json.dumps(doc, ensure_ascii=False).encode() + BOM + json.dumps(doc, ensure_ascii=False).encode()
    assert _messages(glued) == [["\ufeffstarts with a BOM\n", "}\ufeff{\n"]] * 2


def test_given_a_broken_document_then_the_next_one_starting_a_line_with_a_bom_is_still_found():
    broken = b'{"messageType": "DATA_MESSAGE", "owner": oops\n'
    errors: list[DecodeError] = []
    assert _messages(broken + FILES[0] + FILES[1], errors) == EXPECTED[:2]
    assert [type(e) for e in errors] == [JSONError]


def test_given_a_bom_between_tokens_inside_a_document_then_it_is_still_a_json_error():
    inside = json.dumps(DOC).encode().replace(b'"owner"', BOM + b'"owner"', 1)
    errors: list[DecodeError] = []
    assert _messages(FILES[0] + inside, errors) == EXPECTED[:1]
    assert [type(e) for e in errors] == [JSONError]


# `gzip -c a.json`, `cat *.json | gzip` and `for f in *.json; do gzip -c $f; done` of files saved
# with a BOM: the BOM is the first thing in a gzip member's text. Before: 'not gzip or zlib data,
# nor a JSON document' for that member, and nothing of it.
@pytest.mark.parametrize(
    "compressed",
    [
        pytest.param(gzip.compress(CONCATENATED, mtime=0), id="one member"),
        pytest.param(b"".join(gzip.compress(f, mtime=0) for f in FILES), id="a member per file"),
        pytest.param(zlib.compress(CONCATENATED), id="zlib"),
        pytest.param(
            gzip.compress(b"".join(gzip.compress(f, mtime=0) for f in FILES), mtime=0), id="gzip again on top"
        ),
    ],
)
@pytest.mark.parametrize("size", [None, 1, 5, 4096])
def test_given_files_with_a_bom_compressed_then_every_document(compressed, size):
    errors: list[DecodeError] = []
    source = compressed if size is None else Trickle(compressed, size)
    assert _messages(source, errors) == EXPECTED
    assert errors == []


def test_given_a_member_holding_a_bom_and_no_json_then_it_is_still_an_error():
    errors: list[DecodeError] = []
    data = gzip.compress(FILES[0], mtime=0) + gzip.compress(BOM + b"plain text\n", mtime=0)
    assert _messages(data, errors) == EXPECTED[:1]
    assert [str(e) for e in errors] == [
        "member 2: decompress: not gzip or zlib data, nor a JSON document",
    ]
