"""Hostile input made of false gzip headers: the bytes ``1f 8b 08 00`` again and again (each one
a valid-looking header whose data breaks at once), headers that break at once back to back, and
a damaged member between every two good ones. The decoder stays linear (timings are in the
commit messages and ``make bench``, not here) and reports a bounded number of errors: one for a
run of false headers, at most ``_DAMAGED_RUN`` for members damaged in a row, at most
``MAX_ERRORS`` and one that counts the rest for one input.

Expected documents are built here; expected error texts are written out.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from logstream import DecodeError, iter_log_streams
from logstream.decode import _DAMAGED_RUN, MAX_ERRORS
from logstream.testing import document_json, gzip_member, make_document
from tests.conftest import run_cli
from tests.readers import Pieces

FALSE_HEADERS = b"\x1f\x8b\x08\x00" * (1 << 18)  # 1 MiB
#: a header like CloudWatch's, then a block of the invalid type: a member broken at once
BROKEN_AT_ONCE = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00" + b"\x07"


def _docs(n: int) -> list[dict]:
    return [make_document([f"event {i}\n"], log_stream=f"stream-{i}") for i in range(n)]


def _decode(obj) -> tuple[list[dict], list[DecodeError]]:
    errors: list[DecodeError] = []
    out = [s.to_document() for s in iter_log_streams(obj, on_error=errors.append)]
    return out, errors


@pytest.mark.parametrize("piece", [None, 4096, 7])
def test_given_only_false_headers_then_one_error_for_the_whole_input(piece, codec):
    out, errors = _decode(FALSE_HEADERS if piece is None else Pieces(FALSE_HEADERS, piece))
    assert out == []
    assert [(e.step, e.member) for e in errors] == [("decompress", None)]
    assert str(errors[0]).startswith("decompress: corrupt compressed data in member 1: ")
    assert str(errors[0]).endswith(f"; skipped {len(FALSE_HEADERS)} bytes to the end of the input")


def test_given_false_headers_between_good_members_then_one_error_and_every_document():
    docs = _docs(3)
    a, b, c = (gzip_member(document_json(d)) for d in docs)
    out, errors = _decode(a + FALSE_HEADERS + b + c)
    assert out == docs
    assert [(e.step, e.member) for e in errors] == [("decompress", 1)]
    assert str(errors[0]).startswith("member 2: decompress: corrupt compressed data in member 2: ")
    assert str(errors[0]).endswith(f"; skipped {len(FALSE_HEADERS)} bytes to the next member")


def test_given_members_broken_at_once_back_to_back_then_at_most_a_run_of_them_is_counted():
    docs = _docs(2)
    a, b = (gzip_member(document_json(d)) for d in docs)
    out, errors = _decode(a + BROKEN_AT_ONCE * 5000 + b)
    assert out == docs
    # each of the first _DAMAGED_RUN is a member damaged too (the members after keep their
    # numbers when a few are damaged in a row); the last one's error covers the rest
    assert [e.member for e in errors] == list(range(1, _DAMAGED_RUN + 1))
    assert str(errors[-1]).endswith(
        f"; skipped {len(BROKEN_AT_ONCE) * (5000 - _DAMAGED_RUN + 1)} bytes to the next member"
    )


def test_given_a_damaged_member_between_every_two_good_ones_then_the_errors_are_capped():
    docs = _docs(400)
    damaged = 300
    blob = b"".join(gzip_member(document_json(d)) + BROKEN_AT_ONCE for d in docs[:damaged])
    blob += b"".join(gzip_member(document_json(d)) for d in docs[damaged:])
    out, errors = _decode(blob)
    assert out == docs  # the cap is on what is reported, never on what is decoded
    assert len(errors) == MAX_ERRORS + 1
    assert [e.member for e in errors[:3]] == [1, 3, 5]  # good, damaged, good, damaged, ...
    assert str(errors[-1]) == (
        f"decompress: {damaged - MAX_ERRORS} more errors in this input not reported one by one "
        f"(at most {MAX_ERRORS} are)"
    )


def test_given_false_headers_after_a_damaged_member_then_the_next_damaged_member_still_counts():
    # a header starting inside another header's ten bytes is never taken for a damaged member;
    # one starting after them still is (members 3 and 4 damaged, with false headers and 6 bytes
    # of junk between them; the checksum of member 9 wrong)
    docs = _docs(8)
    members = [gzip_member(document_json(d)) for d in docs]
    for k in (3, 4):
        members[k] = members[k][:10] + b"\x07" + members[k][11:]
    members[3] += b"\x1f\x8b\x08\x00" * 50 + b"JUNKJU"
    last = gzip_member(document_json(docs[0]))
    last = last[:-8] + struct.pack("<I", zlib.crc32(last) ^ 1) + last[-4:]
    out, errors = _decode(b"".join(members) + last)
    assert out == docs[:3] + docs[5:]
    assert [e.member for e in errors] == [3, 4, 8]


def test_given_false_headers_to_the_cli_then_one_error_line_and_exit_1(tmp_path):
    path = tmp_path / "hostile.gz"
    path.write_bytes(FALSE_HEADERS)
    for args, stdin in ((["decode", str(path)], b""), (["decode"], FALSE_HEADERS)):
        done = run_cli(*args, stdin=stdin)
        assert done.returncode == 1
        assert done.stdout == b""
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1, lines[:5]
        assert ": decompress: corrupt compressed data in member 1: " in lines[0]
        assert lines[0].endswith(f"; skipped {len(FALSE_HEADERS)} bytes to the end of the input")
