"""The same documents and the same errors for any read size, also when an outer compressed layer
is corrupt inside its deflate data (not only in its trailer): a bit flipped in a Firehose S3
object gzipped again, in zlib on top of gzip members, in gzip holding base64 payloads or zlib
streams, in three gzip layers.

The inflater's output up to a corruption depends on how much input each call was given (zlib
drops the output of the call that fails), so the layer inside used to see a longer or shorter
prefix, and documents and errors changed with the read size: whole bytes, a pipe giving a few
bytes at a time and the CLI's 1 MiB reads disagreed. Each test here reads the same bytes whole
and in pieces of several sizes and compares the documents and the errors (text, step, member),
and checks what it can against the documents the object was built from: nothing made up, nothing
twice, order kept, every document of an intact object after the damaged one kept, and (for an
object larger than one piece) every document the damage cannot have reached kept."""

from __future__ import annotations

import base64
import json
import random
import struct
import zlib

from logstream import DecodeError, iter_log_streams
from logstream import decode as decode_module
from logstream.testing import document_json, gzip_member, make_document
from tests.conftest import run_cli, run_cli_trickled
from tests.readers import Pieces

from .test_decode_hostile import _kept_in_order

SOURCE = "object.gz"
READ_SIZES = (1, 7, 4096, 65536)


def _decode(obj) -> tuple[list[dict], list[tuple[str, str, int | None]]]:
    errors: list[DecodeError] = []
    docs = [s.to_document() for s in iter_log_streams(obj, source=SOURCE, on_error=errors.append)]
    return docs, [(str(e), e.step, e.member) for e in errors]


def _read_every_way(blob: bytes, sizes: tuple[int, ...], label: object = None, decode=_decode) -> list[tuple]:
    """Decode ``blob`` whole and in pieces of each of ``sizes``, with ISA-L and with the standard
    library's zlib; assert each read in pieces gives what whole bytes give (documents, error
    texts, steps and members), and return the whole-bytes result of each codec."""
    results = []
    try:
        for accelerated in (True, False):
            decode_module.use_accelerators(accelerated)
            whole = decode(blob)
            for n in sizes:
                assert decode(Pieces(blob, n)) == whole, (label, "isal" if accelerated else "zlib", n)
            results.append(whole)
    finally:
        decode_module.use_accelerators(True)
    return results


# ------------------------------------------------------------------------------ objects
def _documents(rng: random.Random, first: int, count: int, big: bool = False) -> list[dict]:
    """Documents ``first`` .. ``first + count - 1``; repetitive text, so that the layer on top
    of their members compresses with codes (a flipped bit there changes what follows it)."""
    docs = []
    for i in range(first, first + count):
        if big:  # five distinct lines of hex (poorly compressible, still coded)
            lines = [f"event {i} {j} {rng.randbytes(500).hex()}\n" for j in range(5)]
        else:
            lines = [f"event {i} {'x' * rng.randint(0, 50)} {rng.randint(0, 9)}\n"] * rng.randint(1, 30)
        docs.append(make_document(lines, log_stream=f"stream-{i}"))
    return docs


def _groups(rng: random.Random, docs: list[dict]) -> list[list[dict]]:
    """The documents in runs of one to three (one inner member each, glued documents)."""
    out, i = [], 0
    while i < len(docs):
        k = rng.randint(1, 3)
        out.append(docs[i : i + k])
        i += k
    return out


#: How one object holds its documents: ``(outer layer, header bytes, trailer bytes)`` from
#: ``(rng, documents, inner compression level)``. The level of the members inside varies (0:
#: stored, so the layer on top codes their bytes; 1 and 6: compressed, mostly stored on top).
def _firehose_gzipped_again(rng, docs, level):
    inner = b"".join(gzip_member(b"".join(map(document_json, g)), level) for g in _groups(rng, docs))
    return gzip_member(inner), 10, 8


def _zlib_on_top(rng, docs, level):
    inner = b"".join(gzip_member(b"".join(map(document_json, g)), level) for g in _groups(rng, docs))
    return zlib.compress(inner), 2, 4


def _base64_in_gzip(rng, docs, level):
    lines = b"".join(base64.b64encode(gzip_member(document_json(d), level)) + b"\n" for d in docs)
    return gzip_member(lines), 10, 8


def _zlib_in_gzip(rng, docs, level):
    return gzip_member(b"".join(zlib.compress(document_json(d), level) for d in docs)), 10, 8


def _three_gzip_layers(rng, docs, level):
    inner = b"".join(gzip_member(gzip_member(document_json(d), level)) for d in docs)
    return gzip_member(inner), 10, 8


NESTINGS = {
    "firehose object gzipped again": _firehose_gzipped_again,
    "zlib on top of gzip members": _zlib_on_top,
    "base64 lines of gzip in gzip": _base64_in_gzip,
    "zlib streams in gzip": _zlib_in_gzip,
    "three gzip layers": _three_gzip_layers,
}


def _flip(data: bytes, at: int, bit: int) -> bytes:
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]


def _check_against_the_build(out, errors, docs, intact_after: int) -> None:
    """What the documents the object was built from tell: ``out`` is a subsequence of ``docs``,
    the last ``intact_after`` documents (an intact object after the damaged one) all came out,
    a document lost is a document reported, and each error names the input and its step."""
    kept = _kept_in_order(out, docs)
    assert kept is not None, [d["logStream"] if isinstance(d, dict) else d[0] for d in out]
    assert set(range(len(docs) - intact_after, len(docs))) <= set(kept)
    if len(kept) < len(docs):
        assert errors
    for text, step, member in errors:
        assert step in ("decompress", "json", "base64", "size cap"), text
        assert text.startswith(f"{SOURCE}: "), text
        assert f": {step}: " in text, text
        assert member is None or f"member {member + 1}: " in text, text


# ------------------------------------------------------------------------- bit flips
def test_given_a_bit_flipped_in_an_outer_layer_when_read_in_pieces_then_the_same_as_read_whole():
    for name, nest in NESTINGS.items():
        for seed in range(16):
            rng = random.Random(f"{name} {seed}")
            docs = _documents(rng, 0, rng.randint(3, 20))
            outer, header, trailer = nest(rng, docs, rng.choice([0, 0, 1, 6]))
            blob = _flip(outer, rng.randrange(header, len(outer) - trailer), rng.randrange(8))
            after: list[dict] = []
            if seed % 2:  # an intact object after it (another outer member)
                after = _documents(rng, len(docs), rng.randint(1, 4))
                blob += nest(rng, after, rng.choice([0, 6]))[0]
            for whole in _read_every_way(blob, READ_SIZES, (name, seed)):
                _check_against_the_build(*whole, docs + after, len(after))


def test_given_damage_in_the_first_piece_of_an_outer_layer_then_only_that_layer_is_lost_for_any_read_size():
    """The damage lies in the first piece of the outer member's data (it is small): nothing it
    held came out before the error, whatever the read size; the object after it is whole."""
    rng = random.Random(11)
    docs = _documents(rng, 0, 6)
    after = _documents(rng, 6, 3)
    outer, _, _ = _firehose_gzipped_again(rng, docs, 0)
    # an invalid block type (3) where the deflate data starts: found at its first bits
    damaged = outer[:10] + bytes([outer[10] | 0b110]) + outer[11:]
    blob = damaged + _firehose_gzipped_again(rng, after, 6)[0]
    for out, errors in _read_every_way(blob, READ_SIZES):
        assert out == after
        assert len(errors) == 1
        text, step, member = errors[0]
        assert (step, member) == ("decompress", None)
        assert text.startswith(f"{SOURCE}: decompress: corrupt compressed data in member 1: ")
        assert text.endswith(f"; skipped {len(damaged)} bytes to the next member")


def _detected_flips(rng: random.Random, member: bytes, start: int, count: int) -> list[bytes]:
    """``count`` copies of a gzip ``member`` with one bit flipped in the 32 KiB from ``start``
    where the inflater finds the damage within 64 KiB (a flipped literal is found only by the
    checksum)."""
    before = zlib.decompressobj(-15)
    before.decompress(member[10:start])
    found = []
    while len(found) < count:
        at = rng.randrange(start, start + 32768)
        damaged = _flip(member, at, rng.randrange(8))
        try:
            before.copy().decompress(damaged[start : at + 65536])
        except zlib.error:
            found.append(damaged)
    return found


def test_given_a_bit_flipped_late_in_a_large_outer_layer_then_what_came_before_is_kept_for_any_read_size():
    """A Firehose object of ~2-3 MB gzipped again (larger than the first piece of compressed
    input, 1 MiB): a flip past the first piece cannot cost the inner members whose bytes the
    first piece holds. Read whole, by the CLI's 1 MiB reads and in odd sizes: the same."""
    first_piece = decode_module._FIRST_PIECE
    for seed in range(2):
        rng = random.Random(f"large {seed}")
        docs = _documents(rng, 0, 700, big=True)
        groups = _groups(rng, docs)
        members = [gzip_member(b"".join(map(document_json, g)), 0) for g in groups]
        inner = b"".join(members)
        outer = gzip_member(inner)
        assert len(outer) * 3 // 5 > 10 + first_piece  # (each flip lies past the first piece)
        # the inner members whose bytes come out of the first piece of the outer data, told by
        # the standard library's inflater on that piece alone
        prefix = len(zlib.decompressobj(-15).decompress(outer[10 : 10 + first_piece]))
        ends = [sum(map(len, members[: k + 1])) for k in range(len(members))]
        safe = sum(len(g) for g, end in zip(groups, ends, strict=True) if end <= prefix)
        assert safe > 50
        for blob in _detected_flips(rng, outer, len(outer) * 3 // 5, 2):
            for out, errors in _read_every_way(blob, (1 << 20, 65536, 777_777), seed):
                _check_against_the_build(out, errors, docs, 0)
                assert out[:safe] == docs[:safe]


# ----------------------------------------------------------------------------------- CLI
def test_given_a_damaged_object_gzipped_again_then_the_cli_prints_the_same_from_a_file_and_a_pipe(tmp_path):
    rng = random.Random(5)
    docs = _documents(rng, 0, 12)
    after = _documents(rng, 12, 3)
    outer, header, trailer = _firehose_gzipped_again(rng, docs, 0)
    # flips until one costs documents (a flip in a literal only fails the checksum at the end)
    for _ in range(50):
        blob = _flip(outer, rng.randrange(header, len(outer) - trailer), rng.randrange(8))
        blob += _firehose_gzipped_again(rng, after, 6)[0]
        if len(_decode(blob)[0]) < len(docs + after):
            break
    path = tmp_path / SOURCE
    path.write_bytes(blob)
    from_file = run_cli("decode", "--documents", str(path))
    status, stdout, stderr = run_cli_trickled("decode", "--documents", stdin=blob)  # a few bytes per write
    assert from_file.returncode == status == 1
    assert stdout == from_file.stdout
    assert stderr == from_file.stderr.decode().replace(f"logstream: {path}: ", "logstream: <stdin>: ")
    assert b"Traceback" not in from_file.stderr
    out = [json.loads(line) for line in stdout.splitlines()]
    kept = _kept_in_order(out, docs + after)
    assert kept is not None and len(kept) < len(docs + after)
    assert set(range(len(docs), len(docs) + len(after))) <= set(kept)


def test_given_an_outer_layer_cut_off_and_another_object_after_it_then_the_same_for_any_read_size():
    """``cat`` of a truncated download and the next object: the cut layer's data runs on into
    the next object's bytes until the inflater finds them invalid (or the input ends). What it
    passed on before depended on the read size, and with ISA-L so did what came out where the
    input ended (it holds back the last symbols of what it was given, more or fewer depending
    on how that was cut)."""
    for seed in range(40):
        rng = random.Random(f"cut {seed}")
        docs = _documents(rng, 0, rng.randint(3, 20))
        outer, header, trailer = _zlib_on_top(rng, docs, rng.choice([0, 0, 1, 6]))
        after = _documents(rng, len(docs), 3)
        tail = _zlib_on_top(rng, after, 6)[0]
        for _ in range(5):
            blob = outer[: rng.randrange(header + 1, len(outer) - trailer)] + tail
            for whole in _read_every_way(blob, (1, 7, 4096), seed):
                _check_against_the_build(*whole, docs + after, 0)


# ------------------------------------------------------------- documents split over members
def test_given_a_document_split_over_members_and_its_last_part_corrupt_then_dropped_for_any_read_size():
    """A pretty document in two members, the second one corrupt (its checksum, or zeros in its
    data): the document is dropped and the member reported, once. Before, whether it came out
    (its end from a member whose checksum failed) or a JSON error was reported for it depended
    on whether the splitter tried to parse the corrupt member's bytes before they were dropped,
    that is on the read size."""
    rng = random.Random(1)
    split, after = _documents(rng, 0, 2)
    text = json.dumps(split, indent=2).encode()
    for cut in (len(text) // 3, len(text) // 2, len(text) - 5):
        second = gzip_member(text[cut:])
        crc = second[:-8] + bytes([second[-8] ^ 1]) + second[-7:]
        at = len(second) * 2 // 3
        zeros = second[:at] + bytes(6) + second[at + 6 :]
        for damaged in (crc, zeros):
            blob = gzip_member(text[:cut]) + damaged + gzip_member(document_json(after))
            for out, errors in _read_every_way(blob, READ_SIZES, cut):
                assert out == [after]
                assert [e[1:] for e in errors] == [("decompress", 1)]
                assert errors[0][0].startswith(
                    f"{SOURCE}: member 2: decompress: corrupt compressed data in member 2: "
                )
                if damaged is crc:
                    assert errors[0][0].endswith(
                        f"incorrect data check; skipped {len(crc)} bytes to the next member"
                    )


# ---------------------------------------------------------------------------- error texts
def test_given_a_wrong_checksum_in_the_last_member_then_the_error_says_it_skipped_to_the_end_of_the_input():
    """The bytes skipped run to the next member, or (the last member) to the end of the input:
    "to the next member" was said of the last one too."""
    rng = random.Random(2)
    docs = _documents(rng, 0, 3)
    members = [gzip_member(document_json(d)) for d in docs]
    for k, where in ((1, "the next member"), (2, "the end of the input")):
        damaged = list(members)
        damaged[k] = members[k][:-8] + bytes([members[k][-8] ^ 1]) + members[k][-7:]
        for out, errors in _read_every_way(b"".join(damaged) + b"\n" * (k == 2), READ_SIZES, k):
            assert out == docs[:k] + docs[k + 1 :]
            assert errors == [
                (
                    f"{SOURCE}: member {k + 1}: decompress: corrupt compressed data in member {k + 1}: "
                    f"incorrect data check; skipped {len(members[k])} bytes to {where}",
                    "decompress",
                    k,
                )
            ]


# -------------------------------------------------------------- damage far into a big member
def _stored_member(data: bytes, block: int = 65535) -> tuple[bytes, list[int]]:
    """A gzip member whose deflate data is stored blocks (what a deflate writer emits for data it
    cannot compress: members of random text compressed already), and where each block's five
    header bytes start in it."""
    body, heads = [], []
    at = 10
    for i in range(0, len(data), block):
        part = data[i : i + block]
        final = i + block >= len(data)
        heads.append(at)
        body.append(bytes([final]) + struct.pack("<HH", len(part), len(part) ^ 0xFFFF) + part)
        at += 5 + len(part)
    trailer = struct.pack("<II", zlib.crc32(data), len(data))
    return gzip_member(b"")[:10] + b"".join(body) + trailer, heads


def test_given_damage_far_into_a_big_member_then_the_same_for_any_read_size():
    """A Firehose object gzipped again, ~14 MiB of inner members of random text (so the layer on
    top stores them: its data holds them verbatim), with a stored block's length broken 11.5 to
    13 MiB into the outer data, and an intact object after it. Scanning for the next member
    after the broken one resumed from the bytes still held: from its start when read whole, and
    when read in pieces from up to 8 MiB behind the cursor, where the held bytes began at an
    offset that depended on the read size. The inner members found in between (and the errors
    for those broken by the block headers inside them) changed with the read size; now it
    resumes one piece (4 MiB) before the piece where the member broke, for every read size."""
    max_piece = decode_module._MAX_PIECE
    rng = random.Random("big member")
    docs, members, size = [], [], 0
    while size < 14 << 20:  # inner members of ~15 KiB (inside one stored block) to ~150 KiB (across several)
        text = base64.b64encode(rng.randbytes(rng.randrange(15_000, 150_000))).decode() + "\n"
        doc = make_document([text], log_stream=f"stream-{len(docs)}")
        members.append(gzip_member(document_json(doc), 1))
        docs.append(_digest(doc["logStream"], [text]))
        size += len(members[-1])
    outer, heads = _stored_member(b"".join(members))
    at = rng.choice([h for h in heads if (23 << 19) < h - 10 < 13 << 20]) + rng.randrange(1, 5)
    after = _documents(rng, len(docs), 3)
    docs += [_digest(d["logStream"], [e["message"] for e in d["logEvents"]]) for d in after]
    blob = _flip(outer, at, rng.randrange(8)) + _firehose_gzipped_again(rng, after, 6)[0]
    # the inner members whose output came out before the piece of outer data holding the damage
    # began (pieces are at most _MAX_PIECE bytes): kept whatever happens after
    output_before = at - max_piece - 5 * sum(h < at - max_piece for h in heads)
    ends = [sum(map(len, members[: k + 1])) for k in range(len(members))]
    del members, outer
    safe = sum(end <= output_before for end in ends)
    assert safe > 40
    for out, errors in _read_every_way(blob, (1 << 20, 65536, 4096, 61), decode=_decode_digests):
        _check_against_the_build(out, errors, docs, len(after))
        assert out[:safe] == docs[:safe]
        assert errors


def _digest(log_stream: str, messages: list[str]) -> tuple[str, int, int]:
    """What tells one of these documents from another, without holding its text."""
    return log_stream, len(messages), zlib.crc32("\n".join(messages).encode())


def _decode_digests(obj) -> tuple[list[tuple[str, int, int]], list[tuple[str, str, int | None]]]:
    errors: list[DecodeError] = []
    digests = [
        _digest(s.log_stream, [e.message for e in s.log_events])
        for s in iter_log_streams(obj, source=SOURCE, on_error=errors.append)
    ]
    return digests, [(str(e), e.step, e.member) for e in errors]
