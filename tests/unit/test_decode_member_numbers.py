"""Member numbers never drift: after false gzip headers (the bytes ``1f 8b 08`` followed by
data that inflates for a while, inside a broken member or inside junk), after damage anywhere
in a member, and after a member held whole inside a broken one, every error names the member it
costs, one error per bad stretch, and every good member comes out. Inputs are built here with
zlib and by hand (stored deflate blocks are copied verbatim, which lets a test place any bytes
inside compressed data); expected values are the documents put in."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from logstream import DecodeError, iter_log_streams
from logstream.testing import document_json, gzip_member, make_document

#: The header logstream.testing (and CloudWatch) writes; a false header copying it is the worst case.
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00"
#: A header another writer would write (Unix, best compression): a false header unlike the stream's own.
OTHER_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"


def _docs(n: int) -> list[dict]:
    return [make_document([f"event {i}\n"], log_stream=f"stream-{i}") for i in range(n)]


def _decode(obj, **kw) -> tuple[list[dict], list[DecodeError]]:
    errors: list[DecodeError] = []
    out = [s.to_document() for s in iter_log_streams(obj, on_error=errors.append, **kw)]
    return out, errors


def _stored(data: bytes, final: bool = False) -> bytes:
    """A stored deflate block: ``data`` verbatim."""
    return bytes([final]) + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


def _false_header(header: bytes = HEADER) -> bytes:
    """A gzip header and 100 bytes of valid deflate data (enough for any plausibility probe),
    then an invalid block: it looks like a member and breaks when inflated."""
    return header + _stored(b"x" * 100) + b"\x07"


def _bad_crc(member: bytes) -> bytes:
    return member[:-8] + struct.pack("<I", zlib.crc32(member) ^ 1) + member[-4:]


def _members(docs: list[dict]) -> list[bytes]:
    return [gzip_member(document_json(d)) for d in docs]


# -------------------------------------------------------------------- the adversarial inputs
def test_given_junk_holding_a_false_header_then_one_error_and_later_members_keep_their_numbers(codec):
    docs = _docs(10)
    members = _members(docs)
    members[7] = _bad_crc(members[7])
    junk = b"JUNK" + _false_header() + b"JUNK"
    out, errors = _decode(b"".join(members[:5]) + junk + b"".join(members[5:]))
    assert out == docs[:7] + docs[8:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 5), ("decompress", 7)]
    assert str(errors[0]) == f"member 6: decompress: {len(junk)} bytes that are not gzip data after member 5"
    assert str(errors[1]).startswith("member 8: decompress: corrupt compressed data in member 8")


def test_given_2000_false_headers_chained_in_junk_then_one_error_for_the_stretch():
    def chain(n: int) -> bytes:  # each false header's stored block covers the next ones
        data = b"\x07"
        for _ in range(n):
            data = HEADER + _stored(data[:65535]) + data[65535:]
        return data

    docs = _docs(3)
    members = _members(docs)
    out, errors = _decode(members[0] + b"JUNK" + chain(2000) + members[1] + members[2])
    assert out == docs
    assert [(e.step, e.member) for e in errors] == [("decompress", 1)]


def test_given_a_checksum_failure_in_a_member_holding_a_whole_member_then_the_intact_inner_one_is_kept(codec):
    # gz(gz(doc)): the inner member sits verbatim in the outer's stored block. Only the outer's
    # checksum is wrong: the inner member passes its own check, so its document is kept; the
    # outer one is reported, and skipped to its known end (nothing inside is taken for a member
    # after it)
    docs = _docs(10)
    members = _members(docs)
    inner = members[3]
    outer = HEADER + _stored(inner, final=True) + struct.pack("<II", zlib.crc32(inner), len(inner))
    members[3] = _bad_crc(outer)
    members[7] = _bad_crc(members[7])
    out, errors = _decode(b"".join(members))
    assert out == docs[:7] + docs[8:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 3), ("decompress", 7)]
    assert str(errors[0]).endswith(
        f"incorrect data check of the compressed layer on top ({len(outer)} bytes); the members "
        "inside it are checked on their own and kept when intact"
    )


def test_given_a_broken_member_holding_a_false_header_then_one_error_and_later_numbers_right(codec):
    docs = _docs(10)
    members = _members(docs)
    broken = HEADER + _stored(_false_header(OTHER_HEADER)) + b"\x07" + b"\0" * 20
    members[3] = broken
    members[7] = _bad_crc(members[7])
    out, errors = _decode(b"".join(members))
    assert out == docs[:3] + docs[4:7] + docs[8:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 3), ("decompress", 7)]
    assert f"skipped {len(broken)} bytes to the next member" in str(errors[0])


def test_given_a_broken_member_holding_a_whole_member_then_its_documents_come_out_without_a_number():
    # the outer's stored block header is damaged: scanning finds the inner member, which is good
    docs = _docs(10)
    members = _members(docs)
    inner = members[3]
    outer = bytearray(HEADER + _stored(inner, final=True) + struct.pack("<II", zlib.crc32(inner), len(inner)))
    outer[12] ^= 0x40  # LEN no longer matches NLEN
    members[3] = bytes(outer)
    members[7] = _bad_crc(members[7])
    out, errors = _decode(b"".join(members))
    assert out == docs[:7] + docs[8:]  # the inner member's document is recovered
    assert [(e.step, e.member) for e in errors] == [("decompress", 3), ("decompress", 7)]
    assert f"skipped {len(outer)} bytes to the next member" in str(errors[0])


def test_given_an_object_cut_off_inside_a_member_holding_a_false_header_then_its_complete_documents_kept():
    docs = _docs(5)
    members = _members(docs[:3])
    last = (
        HEADER + _stored(document_json(docs[3]) + b"\n" + document_json(docs[4])) + _stored(_false_header())
    )
    cut = last[: len(last) - 40]  # the input ends inside the stored false header
    out, errors = _decode(b"".join(members) + cut)
    assert out == docs  # the two complete documents of the cut member count
    assert [(e.step, e.member) for e in errors] == [("json", 3), ("decompress", 3)]  # the binary tail
    assert str(errors[1]) == f"member 4: decompress: truncated: member 4 is cut off after {len(cut)} bytes"


@pytest.mark.parametrize("byte", [0, 1])
def test_given_a_bit_flipped_in_a_member_magic_then_it_counts_as_that_member(byte):
    docs = _docs(8)
    members = _members(docs)
    damaged = bytearray(members[2])
    damaged[byte] ^= 0x10
    members[2] = bytes(damaged)
    members[5] = _bad_crc(members[5])
    out, errors = _decode(b"".join(members))
    assert out == docs[:2] + docs[3:5] + docs[6:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 2), ("decompress", 5)]


def test_given_two_adjacent_members_broken_mid_stream_then_each_has_its_error():
    docs = _docs(8)
    members = _members(docs)
    for k in (3, 4):  # invalid block type right after each header
        members[k] = members[k][:10] + b"\x07" + members[k][11:]
    out, errors = _decode(b"".join(members) + _bad_crc(gzip_member(document_json(docs[0]))))
    assert out == docs[:3] + docs[5:]
    assert [e.member for e in errors] == [3, 4, 8]


def test_given_damage_that_ends_a_member_early_then_the_rest_of_it_is_not_reported_as_junk():
    docs = _docs(6)
    members = _members(docs)
    body = HEADER + _stored(document_json(docs[2])[:50]) + _stored(document_json(docs[2])[50:], final=True)
    good = body + struct.pack("<II", zlib.crc32(document_json(docs[2])), len(document_json(docs[2])))
    early = bytearray(good)
    early[10] = 1  # the first stored block now says it is the last one: the data ends early
    members[2] = bytes(early)
    out, errors = _decode(b"".join(members))
    assert out == docs[:2] + docs[3:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 2)]


# ----------------------------------------------------------- damage anywhere, seeded properties
def _object(rng: random.Random, n: int, nesting: int) -> tuple[list[dict], list[bytes]]:
    docs = [
        make_document([f"event {i} {rng.random()}\n" * rng.randrange(1, 30)], log_stream=f"s{i}")
        for i in range(n)
    ]
    raws = [document_json(d) for d in docs]
    wraps = [gzip_member, lambda r: gzip_member(gzip_member(r)), lambda r: gzip_member(zlib.compress(r))]
    return docs, [wraps[(i % 3) * nesting % 3](r) for i, r in enumerate(raws)]


@pytest.mark.parametrize("nesting", [0, 1], ids=["plain members", "mixed nesting"])
def test_given_one_bit_flipped_in_each_of_three_members_then_errors_name_exactly_those(nesting, codec):
    for seed in range(150):
        rng = random.Random(seed)
        docs, members = _object(rng, 40, nesting)
        damaged = sorted(rng.sample(range(0, 40, 2), 3))  # with a good member between them
        for k in damaged:
            member = bytearray(members[k])
            bit = rng.randrange(len(member) * 8)
            member[bit // 8] ^= 1 << (bit % 8)
            members[k] = bytes(member)
        out, errors = _decode(b"".join(members))
        named = [e.member or 0 for e in errors]
        kept = [i for i, d in enumerate(docs) if d in out]
        assert out == [docs[i] for i in kept], seed  # in order, nothing made up
        assert set(range(40)) - set(damaged) <= set(kept), seed  # every good member comes out
        assert set(named) <= set(damaged) and len(named) == len(set(named)), (seed, [str(e) for e in errors])
        assert set(damaged) - set(kept) <= set(named), seed  # a member lost is a member named


def test_given_junk_with_false_headers_between_members_then_one_error_each_naming_the_member_after():
    for seed in range(60):
        rng = random.Random(seed)
        docs, members = _object(rng, 30, 0)
        places = sorted(rng.sample(range(1, 30), 4))
        blob = b""
        for i, member in enumerate(members):
            if i in places:  # junk bytes never start a gzip or zlib header (low nibble 8)
                text = bytes(rng.choice(b"abcdefg") for _ in range(rng.randrange(1, 50)))
                blob += text + _false_header(rng.choice([HEADER, OTHER_HEADER])) + text
            blob += member
        out, errors = _decode(blob)
        assert out == docs, seed
        assert [(e.step, e.member) for e in errors] == [("decompress", i) for i in places], seed
