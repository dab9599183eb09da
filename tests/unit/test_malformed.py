"""Malformed input table: each bad payload gives the right DecodeError subclass, never a crash."""

from __future__ import annotations

import base64
import gzip
import struct
import tracemalloc
import zlib

import pytest

from logstream import (
    Base64Error,
    DecodeError,
    DecompressError,
    EnvelopeError,
    JSONError,
    SchemaError,
    SizeLimitError,
    decode_log_stream,
    iter_log_streams,
)
from logstream.decode import _STEP, decompress
from logstream.testing import document_json, encode_payload, gzip_member, make_document


def _b64gz(raw: bytes) -> str:
    return base64.b64encode(gzip_member(raw)).decode()


GOOD = gzip_member(
    b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[]}'
)

CASES = [
    ("bad base64", {"awslogs": {"data": "H4sI!!!notbase64"}}, Base64Error, "base64"),
    ("base64 wrong length", {"awslogs": {"data": "H4sIAAA"}}, Base64Error, "multiple of 4"),
    (
        "not compressed",
        {"awslogs": {"data": base64.b64encode(b"Hello World").decode()}},
        DecompressError,
        "not gzip",
    ),
    (
        "truncated gzip",
        {"awslogs": {"data": base64.b64encode(GOOD[:-12]).decode()}},
        DecompressError,
        "truncated",
    ),
    (
        "corrupt gzip",
        {"awslogs": {"data": base64.b64encode(GOOD[:10] + b"\xff" * 20).decode()}},
        DecompressError,
        "corrupt",
    ),
    ("invalid JSON", {"awslogs": {"data": _b64gz(b'{"messageType": ')}}, JSONError, "truncated"),
    ("JSON garbage", {"awslogs": {"data": _b64gz(b'{"messageType" oops}')}}, JSONError, "invalid JSON"),
    (
        "logEvents not a list",
        {
            "awslogs": {
                "data": _b64gz(
                    b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":"x"}'
                )
            }
        },
        SchemaError,
        "logEvents",
    ),
    (
        "missing key",
        {
            "awslogs": {
                "data": _b64gz(
                    b'{"messageType":"DATA_MESSAGE","owner":"1","logStream":"s","subscriptionFilters":[],"logEvents":[]}'
                )
            }
        },
        SchemaError,
        "logGroup",
    ),
    (
        "timestamp wrong type",
        {
            "awslogs": {
                "data": _b64gz(
                    b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":"x","message":"m"}]}'
                )
            }
        },
        SchemaError,
        "timestamp",
    ),
    (
        "unknown messageType",
        {
            "awslogs": {
                "data": _b64gz(
                    b'{"messageType":"OTHER","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[]}'
                )
            }
        },
        SchemaError,
        "messageType",
    ),
    (
        "JSON that is not a document",
        {"awslogs": {"data": _b64gz(b'{"hello":"world"}')}},
        EnvelopeError,
        "neither",
    ),
    ("data not a string", {"awslogs": {"data": 42}}, SchemaError, "base64 string"),
    ("unknown envelope", {"something": "else"}, EnvelopeError, "neither"),
    ("empty payload", {"awslogs": {"data": ""}}, DecompressError, "empty"),
]


@pytest.mark.parametrize(("name", "event", "error", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_given_malformed_input_when_decoded_then_named_error(name, event, error, fragment, codec):
    with pytest.raises(error) as info:
        decode_log_stream(event)
    assert fragment in str(info.value)
    assert info.value.step in str(info.value)


def test_given_unknown_keys_then_tolerated_and_kept_in_document():
    doc = make_document(["x"])
    doc["newTopLevelKey"] = {"a": 1}
    doc["logEvents"][0]["newEventKey"] = True
    stream = decode_log_stream({"awslogs": {"data": encode_payload(doc)}})
    assert stream.log_events[0].message == "x"
    assert stream.to_document() == doc


def test_given_error_then_message_never_contains_payload():
    secret = b"SECRET-PASSWORD-123"
    cases = [secret, gzip_member(b"{" + secret), gzip_member(b'{"x":"' + secret + b'"}')]
    for raw in cases:
        with pytest.raises(DecodeError) as info:
            decode_log_stream(raw)
        assert "SECRET" not in str(info.value)


def test_given_several_documents_when_decode_log_stream_then_envelope_error():
    with pytest.raises(EnvelopeError, match="found 2"):
        decode_log_stream(GOOD + GOOD)


def _gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to ``size`` zero bytes, built without materialising them."""
    chunk = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(b"\0" * chunk) + co.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history needed
    tail = co.flush(zlib.Z_FINISH)  # final empty block
    crc = 0
    zeros = b"\0" * chunk
    for _ in range(size // chunk):
        crc = zlib.crc32(zeros, crc)
    body = block * (size // chunk) + tail
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00" + body + struct.pack("<II", crc, size & 0xFFFFFFFF)


def test_given_bomb_fixture_then_it_really_inflates():
    assert gzip.decompress(_gzip_bomb(4 << 20)) == b"\0" * (4 << 20)


@pytest.mark.parametrize("shape", ["raw gzip", "lambda event"])  # the event takes the one-pass path first
@pytest.mark.parametrize("cap", [1 << 20, None])
def test_given_2gib_gzip_bomb_then_refused_with_bounded_memory(cap, shape, codec):
    bomb = _gzip_bomb(2 << 30)
    assert len(bomb) < 4 << 20
    data = bomb if shape == "raw gzip" else {"awslogs": {"data": base64.b64encode(bomb).decode()}}
    kwargs = {} if cap is None else {"max_size": cap}
    limit = cap or 256 << 20
    tracemalloc.start()
    try:
        with pytest.raises(SizeLimitError, match="cap"):
            decode_log_stream(data, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit + _STEP + (8 << 20)  # the cap plus one inflate step, never the 2 GiB


def test_given_lambda_event_over_the_cap_or_with_two_members_then_general_path_names_it():
    doc = make_document(["x" * 500])
    with pytest.raises(SizeLimitError, match="cap"):
        decode_log_stream({"awslogs": {"data": encode_payload(doc)}}, max_size=300)
    two = base64.b64encode(gzip_member(document_json(doc)) * 2).decode()
    with pytest.raises(EnvelopeError, match="found 2"):
        decode_log_stream({"awslogs": {"data": two}})


def test_given_payload_at_exactly_the_cap_then_accepted():
    data = gzip_member(b" " * 1000 + b"{}")
    assert len(decompress(data, max_size=1002)) == 1002
    with pytest.raises(SizeLimitError):
        decompress(data, max_size=1001)


def test_given_bad_records_among_good_then_others_still_decode():
    good = encode_payload(make_document(["ok"]))
    event = {"records": [{"recordId": "1", "data": "%%%"}, {"recordId": "2", "data": good}]}
    errors: list[DecodeError] = []
    streams = list(iter_log_streams(event, on_error=errors.append))
    assert len(streams) == 1 and streams[0].log_events[0].message == "ok"
    assert [(e.step, e.record) for e in errors] == [("base64", 0)]


def test_given_kinesis_record_good_then_bad_document_then_whole_record_fails_and_none_is_used():
    from logstream.envelopes import kinesis_batch
    from logstream.testing import kinesis_event

    event = kinesis_event([make_document(["first"]), make_document(["second"])])
    glued = gzip_member(document_json(make_document(["kept back"])) + b'{"messageType": ')
    event["Records"][1]["kinesis"]["data"] = base64.b64encode(glued).decode()
    streams, failures = kinesis_batch(event["Records"])
    assert [s.log_events[0].message for _, s in streams] == ["first"]
    (err,) = failures.values()
    assert (err.step, err.record) == ("json", 1)
