"""Firehose S3 objects whose members nest differently, member by member: every member is decoded
whatever its own nesting (gzip, zlib, base64 text, JSON), within one shared cap, and errors name
the member they cost. Inputs are built here with gzip/zlib/base64 from the corpus documents;
expected documents are the corpus files parsed with the standard library."""

from __future__ import annotations

import base64
import json
import random
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

from logstream import DecodeError, iter_log_streams
from logstream.testing import document_json, gzip_member, make_document
from tests.conftest import corpus_path
from tests.readers import Pieces

DOCS = sorted(
    p for p in corpus_path("documents").glob("*.json") if p.name.startswith(("datadog__", "newrelic__"))
)


def _raw(path: Path) -> bytes:
    return path.read_bytes()


RAW = [_raw(p) for p in DOCS]
EXPECTED = [json.loads(r) for r in RAW]  # what each member holds, parsed another way


def _decode(obj, **kw) -> tuple[list[dict], list[DecodeError]]:
    errors: list[DecodeError] = []
    out = [s.to_document() for s in iter_log_streams(obj, on_error=errors.append, **kw)]
    return out, errors


def gz(data: bytes) -> bytes:
    return gzip_member(data)


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def _bad_crc(member: bytes) -> bytes:
    return member[:-8] + struct.pack("<I", zlib.crc32(b"other")) + member[-4:]


# ------------------------------------------------------------------- every member, any nesting
@pytest.mark.parametrize(
    ("members", "expected"),
    [
        pytest.param(lambda a, b, c: [gz(gz(a)), gz(b)], [0, 1], id="gz(gz(a)) gz(b)"),
        pytest.param(lambda a, b, c: [gz(a), gz(gz(b))], [0, 1], id="gz(a) gz(gz(b))"),
        pytest.param(
            lambda a, b, c: [gz(gz(gz(a))), gz(b), gz(gz(c))], [0, 1, 2], id="three, one, two layers"
        ),
        pytest.param(lambda a, b, c: [gz(b64(gz(a))), gz(b)], [0, 1], id="base64 member then JSON member"),
        pytest.param(lambda a, b, c: [gz(a), gz(b64(gz(b))), gz(c)], [0, 1, 2], id="JSON, base64, JSON"),
        pytest.param(lambda a, b, c: [gz(b64(a)), gz(b)], [0, 1], id="base64 of a document"),
        pytest.param(
            lambda a, b, c: [gz(b64(gz(a)) + b"\n" + b64(gz(b)) + b"\n"), gz(c)], [0, 1, 2], id="base64 lines"
        ),
        pytest.param(lambda a, b, c: [gz(zlib.compress(a)), gz(b)], [0, 1], id="gz(zlib(a)) gz(b)"),
        pytest.param(
            lambda a, b, c: [gz(a), gz(zlib.compress(b)), gz(c)], [0, 1, 2], id="gz(a) gz(zlib(b)) gz(c)"
        ),
        pytest.param(lambda a, b, c: [zlib.compress(gz(a)), gz(b)], [0, 1], id="zlib(gz(a)) gz(b)"),
        pytest.param(
            lambda a, b, c: [gz(gz(a) + gz(b)), gz(c)], [0, 1, 2], id="gzip on top of two, then one"
        ),
        pytest.param(
            lambda a, b, c: [gz(a), gz(gz(b) + gz(c))], [0, 1, 2], id="one, then gzip on top of two"
        ),
        pytest.param(
            lambda a, b, c: [gz(b64(gz(gz(a) + gz(b)))), gz(gz(c))], [0, 1, 2], id="base64 of gzip on top"
        ),
    ],
)
def test_given_members_that_nest_differently_then_every_document_in_order(members, expected, codec):
    out, errors = _decode(b"".join(members(RAW[0], RAW[1], RAW[2])))
    assert out == [EXPECTED[i] for i in expected] and errors == []


def test_given_a_seeded_mix_of_nestings_over_every_corpus_document_then_all_come_out(codec):
    wrappers = [
        lambda d: gz(d),
        lambda d: gz(gz(d)),
        lambda d: gz(gz(gz(d))),
        lambda d: gz(b64(gz(d))),
        lambda d: gz(b64(d)),
        lambda d: gz(zlib.compress(d)),
        lambda d: gz(b64(zlib.compress(d))),
    ]
    rng = random.Random(23)
    order = [rng.randrange(len(RAW)) for _ in range(120)]
    blob = b"".join(rng.choice(wrappers)(RAW[i]) for i in order)
    out, errors = _decode(blob)
    assert out == [EXPECTED[i] for i in order] and errors == []
    streamed, errors = _decode(Pieces(blob, 977))
    assert streamed == out and errors == []


def test_given_a_member_made_of_nested_members_then_inner_members_keep_their_order():
    docs = [make_document([f"record {i}\n"], log_stream=f"s{i}") for i in range(6)]
    inner = [gz(document_json(d)) for d in docs]
    blob = gz(inner[0] + inner[1]) + inner[2] + gz(gz(inner[3] + inner[4])) + gz(inner[5])
    out, errors = _decode(blob)
    assert out == docs and errors == []


# ---------------------------------------------------------------- errors name the member they cost
def test_given_bad_json_inside_a_nested_member_then_the_error_names_that_member(codec):
    cut = RAW[1][: len(RAW[1]) // 2]
    out, errors = _decode(gz(gz(RAW[0])) + gz(gz(cut)) + gz(RAW[2]))
    assert out == [EXPECTED[0], EXPECTED[2]]
    assert [(e.step, e.member) for e in errors] == [("json", 1)]
    assert "member 2" in str(errors[0])


def test_given_a_corrupt_member_inside_a_nested_layer_then_its_number_counts_the_members_before(codec):
    # members as the documents come out: RAW[0] is member 1, the two inside the second are 2 and 3
    blob = gz(RAW[0]) + gz(gz(RAW[1]) + _bad_crc(gz(RAW[2]))) + gz(RAW[3])
    out, errors = _decode(blob)
    assert out == [EXPECTED[0], EXPECTED[1], EXPECTED[3]]
    assert [(e.step, e.member) for e in errors] == [("decompress", 2)]
    assert str(errors[0]).startswith("member 3: decompress: corrupt compressed data in member 3")


def test_given_a_member_holding_neither_gzip_nor_json_then_it_alone_is_reported():
    out, errors = _decode(gz(RAW[0]) + gz(b"Hello, World") + gz(gz(RAW[1])))
    assert out == [EXPECTED[0], EXPECTED[1]]
    assert [(e.step, e.member) for e in errors] == [("decompress", 1)]
    assert "member 2: decompress: not gzip or zlib data, nor a JSON document" in str(errors[0])


def test_given_a_member_nested_too_deeply_then_it_alone_is_refused():
    deep = RAW[1]
    for _ in range(7):
        deep = gz(deep)
    out, errors = _decode(gz(RAW[0]) + deep + gz(gz(RAW[2])))
    assert out == [EXPECTED[0], EXPECTED[2]]
    assert [(e.step, e.member) for e in errors] == [("decompress", 1)]
    assert "too many nested compression layers" in str(errors[0])


def test_given_json_cut_at_a_member_end_before_a_nested_member_then_both_neighbours_kept():
    out, errors = _decode(gz(RAW[0]) + gz(RAW[1][:-40]) + gz(gz(RAW[2])))
    assert out == [EXPECTED[0], EXPECTED[2]]
    assert [(e.step, e.member) for e in errors] == [("json", 1)]
    assert "truncated" in str(errors[0])


# ------------------------------------------------------------------- what spans member boundaries
def test_given_a_document_split_across_members_before_a_nested_member_then_both_come_out():
    raw = RAW[4]
    half = len(raw) // 2
    out, errors = _decode(gz(raw[:half]) + gz(raw[half:]) + gz(gz(RAW[5])))
    assert out == [EXPECTED[4], EXPECTED[5]] and errors == []


@pytest.mark.parametrize("at", [7, 50, 300])
def test_given_a_compressed_stream_split_across_members_then_it_is_continued(at):
    inner = gz(RAW[0]) + gz(RAW[1])
    out, errors = _decode(gz(inner[:at]) + gz(inner[at:]) + gz(RAW[2]))
    assert out == EXPECTED[:3] and errors == []


def test_given_an_inner_member_cut_short_then_the_next_member_is_not_taken_for_its_rest():
    out, errors = _decode(gz(gz(RAW[0])[:-30]) + gz(RAW[1]) + gz(gz(RAW[2])))
    assert out == [EXPECTED[1], EXPECTED[2]]
    assert [e.step for e in errors] == ["decompress"] and "truncated" in str(errors[0])


# ----------------------------------------------------------------------- one cap for every layer
def _zeros_member(mib: int) -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    return co.compress(b"[") + b"".join(co.compress(b"\0" * (1 << 20)) for _ in range(mib)) + co.flush()


def test_given_a_nested_bomb_between_members_then_refused_with_memory_near_the_cap_and_neighbours_kept():
    cap = 4 << 20
    bomb = gz(_zeros_member(1000))  # 1 GB inside two layers, a few KB outside
    tracemalloc.start()
    try:
        out, errors = _decode(gz(gz(RAW[0])) + bomb + gz(b64(gz(RAW[1]))), max_size=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == [EXPECTED[0], EXPECTED[1]]
    assert [(e.step, e.member) for e in errors] == [("size cap", 1)]
    assert peak < 3 * cap + (40 << 20)  # the cap, one inflate step (32 MiB) and bookkeeping


def test_given_layers_that_together_exceed_the_cap_inside_one_member_then_that_member_is_refused():
    payload = b" " * (3 << 20) + RAW[0]
    inner = gz(payload)
    cap = len(payload) + len(inner) // 2  # each layer alone fits, both together do not
    out, errors = _decode(gz(inner) + gz(gz(RAW[1])), max_size=cap)
    assert out == [EXPECTED[1]]
    assert [(e.step, e.member) for e in errors] == [("size cap", None)]


def test_given_many_members_of_mixed_nesting_then_each_has_the_cap_of_its_own():
    member = gz(gz(b" " * 3000 + RAW[1]))
    out, errors = _decode(member * 50, max_size=3000 + len(RAW[1]) + len(gz(b" " * 3000 + RAW[1])))
    assert out == [EXPECTED[1]] * 50 and errors == []


def test_given_8000_members_of_mixed_nesting_then_time_stays_linear():
    doc = document_json(make_document(["x\n"]))
    pair = gz(gz(doc)) + gz(doc) + gz(b64(gz(doc)))
    out, errors = _decode(pair * 2700)  # quadratic work per member would take minutes here
    assert len(out) == 8100 and errors == []
