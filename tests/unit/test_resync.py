"""One bad byte costs one document: each malformed input between good ones, and what still comes
out of it (issue #9). Expected outputs are written out or built from the good inputs, never read
back from the decoder under test."""

from __future__ import annotations

import base64
import gzip
import struct
import tracemalloc
import zlib

import msgspec
import pytest

from logstream import (
    DecodeError,
    DecompressError,
    JSONError,
    SchemaError,
    SizeLimitError,
    decode_log_stream,
    iter_log_streams,
)
from logstream.decode import default_max_size, payload_bytes
from logstream.envelopes import kinesis_batch
from logstream.testing import document_json, encode_payload, gzip_member, kinesis_event, make_document
from tests.readers import Pieces


def _docs(n: int) -> list[dict]:
    return [make_document([f"event {i}\n"], log_stream=f"stream-{i}") for i in range(n)]


def _decode(obj, **kw) -> tuple[list[dict], list[DecodeError]]:
    errors: list[DecodeError] = []
    out = [s.to_document() for s in iter_log_streams(obj, on_error=errors.append, **kw)]
    return out, errors


# ---------------------------------------------------------------- 1. nothing but DecodeError leaves
INVALID_UTF8 = b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g\xff\xfe","logStream":"s",' + (
    b'"subscriptionFilters":[],"logEvents":[]}'
)
DEEP = b"[" * 1000 + b"]" * 1000
INVALID_UTF8_IN_UNKNOWN_KEY = (
    b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],'
    b'"logEvents":[],"x":"\xff\xfe"}'
)


@pytest.mark.parametrize(
    ("name", "obj", "error", "fragment"),
    [
        ("invalid UTF-8 in a string", INVALID_UTF8, JSONError, "invalid UTF-8"),
        ("invalid UTF-8, gzip", gzip_member(INVALID_UTF8), JSONError, "invalid UTF-8"),
        ("JSON nested 1,000 deep", DEEP, JSONError, "nested too deeply"),
        ("lone surrogate in a str", '{"messageType": "\ud800"}', JSONError, "UTF-8"),
        (
            "mapping holding a Python object",
            {"messageType": "DATA_MESSAGE", "logEvents": [object()]},
            SchemaError,
            "not JSON",
        ),
        (
            "mapping holding a lone surrogate",
            {"logEvents": [], "messageType": "\udfff"},
            SchemaError,
            "not JSON",
        ),
        (
            "Python lists nested 1,000 deep",
            [[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]],
            DecodeError,
            "deeply",
        ),
        ("a set", {1, 2}, DecodeError, "cannot decode a set"),
    ],
)
def test_given_input_outside_json_when_decoded_then_only_decode_error(name, obj, error, fragment, codec):
    with pytest.raises(error) as info:
        list(iter_log_streams(obj))
    assert fragment in str(info.value)


def test_given_invalid_utf8_in_an_unknown_key_then_document_kept_with_its_typed_fields():
    (stream,) = iter_log_streams(INVALID_UTF8_IN_UNKNOWN_KEY)  # the typed decoder skips unknown keys
    assert stream.to_document() == {
        "messageType": "DATA_MESSAGE",
        "owner": "1",
        "logGroup": "g",
        "logStream": "s",
        "subscriptionFilters": [],
        "logEvents": [],
    }


def test_given_deep_nesting_in_an_unknown_key_then_json_error():
    doc = INVALID_UTF8_IN_UNKNOWN_KEY.replace(b'"\xff\xfe"', b"[" * 1000 + b"]" * 1000)
    with pytest.raises(JSONError, match="nested too deeply"):
        decode_log_stream(doc)


@pytest.mark.parametrize("timestamp", [2**63, 2**64 + 5, 253_402_300_800_000, -62_135_596_800_001])
def test_given_timestamp_outside_datetime_then_schema_error(timestamp):
    doc = make_document(["x"])
    doc["logEvents"][0]["timestamp"] = timestamp
    with pytest.raises(SchemaError, match="timestamp"):
        decode_log_stream(document_json(doc))


def test_given_timestamps_at_the_datetime_limits_then_datetime_works():
    doc = make_document([(253_402_300_799_999, "last"), (-62_135_596_800_000, "first")])
    stream = decode_log_stream(document_json(doc))
    assert [e.datetime.year for e in stream.log_events] == [9999, 1]


def test_given_100kb_message_type_then_error_is_short_and_holds_no_payload():
    doc = make_document(["x"])
    doc["messageType"] = "Q" * 100_000
    with pytest.raises(SchemaError) as info:
        decode_log_stream(document_json(doc))
    text = str(info.value)
    assert len(text) <= 200 and "QQQQ" not in text and "messageType" in text


# -------------------------------------------------------------- 2. one bad document, the rest out
def test_given_ndjson_with_one_wrong_typed_document_then_100_of_101_and_error_names_line_2():
    docs = _docs(101)
    lines = [document_json(d) for d in docs]
    lines[1] = lines[1].replace(b'"owner":"123456789012"', b'"owner":42')
    out, errors = _decode(b"\n".join(lines))
    assert out == docs[:1] + docs[2:]
    assert [(e.step, e.line) for e in errors] == [("schema", 2)]
    assert "line 2" in str(errors[0])


def test_given_ndjson_with_wrong_type_then_syntax_error_then_98_good_documents_all_come_out():
    docs = _docs(100)
    lines = [document_json(d) for d in docs]
    lines.insert(1, lines[1].replace(b'"owner":"123456789012"', b'"owner":42'))
    lines.insert(2, b'{"messageType": "DATA_MESSAGE", oops')
    out, errors = _decode(b"\n".join(lines))
    assert out == docs
    assert [(e.step, e.line) for e in errors] == [("schema", 2), ("json", 3)]


@pytest.mark.parametrize("sep", [b"", b"\n", b" "])
def test_given_glued_documents_with_a_json_error_then_the_next_document_is_kept(sep):
    docs = _docs(5)
    parts = [document_json(d) for d in docs]
    parts[2] = parts[2][: len(parts[2]) // 2]  # cut in the middle of a string
    out, errors = _decode(sep.join(parts))
    assert out == docs[:2] + docs[3:]
    assert [e.step for e in errors] == ["json"]


def test_given_invalid_utf8_document_between_good_ones_then_neighbours_kept():
    docs = _docs(3)
    out, errors = _decode(document_json(docs[0]) + b"\n" + INVALID_UTF8 + b"\n" + document_json(docs[1]))
    assert out == docs[:2]
    assert [(e.step, e.line) for e in errors] == [("json", 2)]


def test_given_s3_object_whose_member_50_holds_truncated_json_then_99_documents_and_member_50_named():
    docs = _docs(100)
    members = [gzip_member(document_json(d)) for d in docs]
    members[49] = gzip_member(document_json(docs[49])[:-30])
    out, errors = _decode(b"".join(members))
    assert out == docs[:49] + docs[50:]
    assert [(e.step, e.member) for e in errors] == [("json", 49)]
    assert "member 50" in str(errors[0])


# ------------------------------------------------------------- 3. a corrupt member costs itself
def _bad_crc(member: bytes) -> bytes:
    return member[:-8] + struct.pack("<I", zlib.crc32(b"other") & 0xFFFFFFFF) + member[-4:]


def _bad_block(member: bytes) -> bytes:
    return member[:10] + b"\xff" * 6 + member[16:]  # BTYPE 11: invalid block type


@pytest.mark.parametrize(
    "damage", [_bad_crc, _bad_block, lambda m: m[: len(m) // 2]], ids=["crc", "block", "cut"]
)
def test_given_s3_object_with_member_50_corrupt_then_99_documents_and_one_error(damage, codec):
    docs = _docs(100)
    members = [gzip_member(document_json(d)) for d in docs]
    members[49] = damage(members[49])
    out, errors = _decode(b"".join(members))
    assert out == docs[:49] + docs[50:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 49)]
    assert "member 50" in str(errors[0]) and "skipped" in str(errors[0])


def test_given_corrupt_member_in_an_object_gzipped_again_then_the_others_kept(codec):
    docs = _docs(20)
    members = [gzip_member(document_json(d)) for d in docs]
    members[7] = _bad_crc(members[7])
    out, errors = _decode(gzip.compress(b"".join(members), mtime=0))
    assert out == docs[:7] + docs[8:]
    assert [e.step for e in errors] == ["decompress"]


def test_given_object_cut_off_mid_download_then_every_complete_document_then_the_error(codec):
    docs = _docs(30)
    single_member = gzip.compress(b"".join(document_json(d) for d in docs), mtime=0)
    cut = single_member[: len(single_member) * 2 // 3]
    expected_complete = zlib.decompressobj(31).decompress(cut)  # what gzip -dc recovers
    complete = [d for d in docs if document_json(d) in expected_complete]
    out, errors = _decode(cut)
    assert out == complete and len(complete) >= 10
    assert [e.step for e in errors] == ["decompress"] and "truncated" in str(errors[0])


def test_given_garbage_between_members_then_members_on_both_sides_kept():
    docs = _docs(3)
    data = gzip_member(document_json(docs[0])) + b"JUNK" * 10 + gzip_member(document_json(docs[1]))
    out, errors = _decode(data)
    assert out == docs[:2]
    assert [(e.step, e.member) for e in errors] == [("decompress", 1)]
    assert "40 bytes that are not gzip data" in str(errors[0])


def test_given_nul_padding_after_the_last_member_then_no_error():
    docs = _docs(2)
    out, errors = _decode(b"".join(gzip_member(document_json(d)) for d in docs) + b"\0" * 512)
    assert out == docs and errors == []


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b" \n\0\0", b"\n" * 4096 + b"\t"])
def test_given_whitespace_after_the_last_member_then_no_error(tail):
    """``cat object.gz; echo``, an editor or a transfer in text mode: a line break after the last
    member is padding, as NUL bytes are."""
    docs = _docs(2)
    out, errors = _decode(b"".join(gzip_member(document_json(d)) for d in docs) + tail)
    assert out == docs and errors == []


def test_given_whitespace_then_junk_after_the_last_member_then_the_junk_is_reported():
    docs = _docs(2)
    out, errors = _decode(b"".join(gzip_member(document_json(d)) for d in docs) + b"\n \nJUNK")
    assert out == docs
    assert [(e.step, e.member) for e in errors] == [("decompress", 2)]
    assert "7 bytes that are not gzip data" in str(errors[0])


def test_given_file_object_then_streamed_with_the_same_result(tmp_path):
    docs = _docs(50)
    members = [gzip_member(document_json(d)) for d in docs]
    members[10] = _bad_crc(members[10])
    path = tmp_path / "object.gz"
    path.write_bytes(b"".join(members))
    with path.open("rb") as fh:
        out, errors = _decode(fh)
    assert out == docs[:10] + docs[11:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 10)]


# --------------------------------------------------------------------- 5. the cap counts all layers
def _nested(layers: int, size: int) -> bytes:
    data = b" " * size + b"{}"
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=1, mtime=0)
    return data


def test_given_four_nested_layers_each_under_the_cap_then_refused_with_memory_near_the_cap():
    cap = 8 << 20
    data = _nested(4, cap - 1000)  # innermost under the cap; all layers together over it
    tracemalloc.start()
    try:
        with pytest.raises(SizeLimitError, match="all layers"):
            list(iter_log_streams(data, max_size=cap))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap


def test_given_nested_layers_within_the_cap_then_decoded():
    doc = make_document(["nested"])
    data = document_json(doc)
    for _ in range(3):
        data = gzip_member(data)
    assert [s.to_document() for s in iter_log_streams(data)] == [doc]


@pytest.mark.parametrize(
    ("memory", "expected_mib"),
    [("128", 16), ("256", 48), ("1024", 240), ("10240", 256), ("64", 4), ("x", 256)],
)
def test_given_lambda_memory_then_default_cap_follows_it(memory, expected_mib):
    assert default_max_size({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory}) == expected_mib << 20


def test_given_lambda_memory_in_environment_then_decoding_uses_that_cap(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")  # cap 16 MiB
    data = gzip_member(b" " * (17 << 20) + b"{}")
    with pytest.raises(SizeLimitError, match=str(16 << 20)):
        decode_log_stream(data)


def test_given_kinesis_batch_then_each_record_has_its_own_cap():
    docs = [make_document(["y" * 4000]) for _ in range(5)]
    records = kinesis_event(docs)["Records"]
    streams, failures = kinesis_batch(records, max_size=5000)  # 5 records of ~4.3 KB: each fits
    assert failures == {} and len(streams) == 5


# ------------------------------------------------------------------------- 7. what is a payload
@pytest.mark.parametrize(
    "line", ["Starting", "Finished", "0123456789abcdef0123456789abcdef", "abcd", "SGVsbG8="]
)
def test_given_plain_words_that_are_valid_base64_then_not_a_payload(line):
    assert payload_bytes(line) is None


def test_given_real_payload_line_then_payload():
    doc = make_document(["x"])
    assert payload_bytes(encode_payload(doc)) == base64.b64decode(encode_payload(doc))
    assert payload_bytes(base64.b64encode(document_json(doc)).decode()) == document_json(doc)


# ------------------------------------------------------------------------ transports added in #9
def test_given_failure_queue_and_firehose_error_output_shapes_then_original_events_decoded():
    doc = make_document(["failed once\n"])
    event = {"awslogs": {"data": encode_payload(doc)}}
    on_failure = {
        "version": "1.0",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    }
    sqs_output = {
        "Messages": [
            {"MessageId": "m", "ReceiptHandle": "h", "Body": msgspec.json.encode(on_failure).decode()}
        ]
    }
    firehose_error = {
        "attemptsMade": 4,
        "arrivalTimestamp": 1700000000000,
        "errorCode": "Lambda.FunctionError",
        "errorMessage": "The Lambda function was successfully invoked but it returned an error result.",
        "attemptEndingTimestamp": 1700000060000,
        "rawData": encode_payload(doc),
        "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:t:$LATEST",
    }
    get_records = {"Records": [{"SequenceNumber": "1", "Data": encode_payload(doc), "PartitionKey": "k"}]}
    for shape in (on_failure, sqs_output, firehose_error, get_records):
        assert [s.to_document() for s in iter_log_streams(shape)] == [doc]


def test_given_filter_log_events_output_then_one_stream_per_run_of_log_stream():
    output = {
        "events": [
            {"logStreamName": "a", "timestamp": 1, "message": "one", "ingestionTime": 2, "eventId": "e1"},
            {"logStreamName": "a", "timestamp": 2, "message": "two", "ingestionTime": 3, "eventId": "e2"},
            {"logStreamName": "b", "timestamp": 3, "message": "three", "ingestionTime": 4, "eventId": "e3"},
        ],
        "searchedLogStreams": [],
    }
    streams = list(iter_log_streams(output))
    assert [(s.log_stream, [(e.id, e.timestamp, e.message) for e in s.log_events]) for s in streams] == [
        ("a", [("e1", 1, "one"), ("e2", 2, "two")]),
        ("b", [("e3", 3, "three")]),
    ]


def test_given_get_log_events_output_without_ids_then_ids_are_unique():
    output = {"events": [{"timestamp": 5, "message": "m", "ingestionTime": 6}] * 3, "nextForwardToken": "f/1"}
    (stream,) = iter_log_streams(output)
    assert len({e.id for e in stream.log_events}) == 3


def test_given_error_then_pickles_with_its_place():
    import pickle

    err = DecompressError("x", record=2, member=4, line=7)
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), str(again)) == (DecompressError, "line 7: record 3: member 5: decompress: x")


def test_given_a_pipe_that_pauses_then_each_document_comes_out_before_the_next_is_written():
    import os
    import threading

    docs = _docs(3)
    read_fd, write_fd = os.pipe()
    seen: list[int] = []
    consumed = [threading.Event() for _ in docs]

    def produce() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as pipe:
            for i, doc in enumerate(docs):
                pipe.write(gzip_member(document_json(doc)))
                consumed[i].wait(timeout=20)  # a decoder that waits for EOF makes this time out
                seen.append(i)

    writer = threading.Thread(target=produce)
    writer.start()
    out = []
    with os.fdopen(read_fd, "rb") as pipe:
        for stream in iter_log_streams(pipe):
            out.append(stream.to_document())
            assert seen == list(range(len(out) - 1))  # the producer has not gone on without us
            consumed[len(out) - 1].set()
    writer.join()
    assert out == docs


# ------------------------------------------------- defects found by a hostile review of this code
def _spaces_member(mib: int) -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    return co.compress(b"[") + b"".join(co.compress(b" " * (1 << 20)) for _ in range(mib)) + co.flush()


def test_given_nested_stream_whose_cap_is_spent_then_no_later_member_is_inflated():
    data = gzip.compress(_spaces_member(8) + _spaces_member(2000), mtime=0)  # 3.4 KB, 2 GB inside
    tracemalloc.start()
    try:
        out, errors = _decode(data, max_size=4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == [] and [e.step for e in errors] == ["size cap"]
    assert peak < 3 * (4 << 20) + _STEP_SLACK


_STEP_SLACK = 40 << 20  # one inflate step (32 MiB) plus bookkeeping


def test_given_many_glued_bad_documents_then_time_stays_linear():
    good = document_json(make_document(["x"]))
    bad = good.replace(b'"owner"', b'"owner" x', 1)
    out, errors = _decode((bad + good) * 20_000)  # quadratic resync took ~100 s here
    assert len(out) == 20_000 and len(errors) == 20_000


def test_given_streamed_member_that_fails_its_checksum_then_its_document_never_comes_out():
    altered = bytearray(gzip.compress(document_json(make_document(["pay 100 USD\n"])), compresslevel=0))
    altered[altered.find(b"100")] = ord("9")  # stored block: the change shows, the CRC does not match
    good = _docs(1)
    blob = bytes(altered) + gzip_member(document_json(good[0]))
    for n in (len(altered) - 8, 7, 4096):
        out, errors = _decode(Pieces(blob, n))
        assert out == good, n
        assert [e.step for e in errors] == ["decompress"]


@pytest.mark.parametrize("n", [4096, 997])
def test_given_streamed_object_with_a_damaged_header_then_later_members_kept(n):
    docs = _docs(300)
    members = [gzip_member(document_json(d)) for d in docs]
    damaged = bytearray(members[5])
    damaged[3] ^= 4  # FEXTRA: the header now claims an extra field that swallows the data
    members[5] = bytes(damaged)
    out, errors = _decode(Pieces(b"".join(members), n))
    assert out == docs[:5] + docs[6:]
    assert [(e.step, e.member) for e in errors] == [("decompress", 5)]


def test_given_damaged_header_near_the_end_then_members_after_it_kept():
    docs = _docs(300)
    members = [gzip_member(document_json(d)) for d in docs]
    damaged = bytearray(members[290])
    damaged[3] ^= 4
    members[290] = bytes(damaged)
    out, errors = _decode(b"".join(members))
    assert out == docs[:290] + docs[291:]
    assert [e.member for e in errors] == [290]


@pytest.mark.parametrize("how", ["members", "reader"])
def test_given_a_boundary_inside_a_number_then_no_document_is_lost(how):
    d = make_document(["a\n"])
    d["x"] = -1.5
    raw = document_json(d)
    other = make_document(["b\n"])
    blob = raw + b"\n" + document_json(other)
    cut = raw.find(b"-1.5") + 1
    data = gzip_member(blob[:cut]) + gzip_member(blob[cut:]) if how == "members" else Pieces(blob, cut)
    out, errors = _decode(data)
    assert out == [d, other] and errors == []


def test_given_a_document_start_split_after_a_bad_one_then_it_is_kept():
    docs = _docs(3)
    parts = [document_json(docs[0]), b'{"messageType": oops}', document_json(docs[1]), document_json(docs[2])]
    blob = b"".join(parts)
    split = len(parts[0]) + len(parts[1]) + 5  # five bytes into the next document
    for n in (split, 3, 64):
        out, errors = _decode(Pieces(blob, n))
        assert out == docs, n
        assert [e.step for e in errors] == ["json"]


def test_given_one_oversized_line_read_in_small_pieces_then_one_error():
    good = _docs(2)
    blob = document_json(good[0]) + b"\n" + b'{"pad":"' + b"x" * 5000 + b'"}\n' + document_json(good[1])
    out, errors = _decode(Pieces(blob, 100), max_size=2000)
    assert out == good
    assert [e.step for e in errors] == ["size cap"]


def test_given_text_mode_file_then_decoded(tmp_path):
    doc = make_document(["text mode"])
    path = tmp_path / "doc.json"
    path.write_bytes(document_json(doc))
    with path.open(encoding="utf-8") as fh:
        assert [s.to_document() for s in iter_log_streams(fh)] == [doc]


def test_given_bytes_before_the_first_member_then_every_member_kept():
    docs = _docs(50)
    out, errors = _decode(b"junk" + b"".join(gzip_member(document_json(d)) for d in docs))
    assert out == docs
    assert [e.step for e in errors] == ["decompress"]


def test_given_mapping_nested_deeper_than_any_envelope_then_envelope_error():
    event: dict = {"awslogs": {"data": encode_payload(make_document(["x"]))}}
    for _ in range(2000):
        event = {"version": "1.0", "requestContext": {}, "requestPayload": event}
    with pytest.raises(DecodeError, match="nested too deeply"):
        list(iter_log_streams(event))
    selfish: dict = {"version": "1.0", "requestContext": {}}
    selfish["requestPayload"] = selfish
    with pytest.raises(DecodeError, match="nested too deeply"):
        list(iter_log_streams(selfish))


def test_given_json_text_with_a_bom_then_decoded():
    doc = make_document(["bom"])
    assert [s.to_document() for s in iter_log_streams("\ufeff" + document_json(doc).decode())] == [doc]


def test_given_non_ascii_digits_for_lambda_memory_then_default_cap():
    assert default_max_size({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "²"}) == 256 << 20


@pytest.mark.parametrize(
    "hostile", [b"[" * 1000, b"[" * 1000 + b"]" * 1000, INVALID_UTF8, b'{"messageType":' * 50, b"[1,2"]
)
def test_given_a_hostile_line_between_ndjson_documents_then_every_other_document_comes_out(hostile):
    docs = _docs(4)
    lines = [document_json(d) for d in docs]
    out, errors = _decode(b"\n".join(lines[:2] + [hostile] + lines[2:]))
    assert out == docs
    assert [e.line for e in errors] == [3]


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"BZh91AY&SY" + bytes(40), "bzip2 data: bunzip2 it first"),
        (b"\xfd7zXZ\x00" + bytes(40), "xz data: unxz it first"),
        (b"\x28\xb5\x2f\xfd" + bytes(40), "zstd data: unzstd it first"),
        (b"PK\x03\x04" + bytes(40), "a ZIP archive (Firehose's ZIP compression): unzip it first"),
    ],
)
def test_given_another_compressed_format_then_the_error_names_it(data, what):
    out, errors = _decode(data)
    assert out == []
    expected = f"decompress: not gzip or zlib data (no gzip/zlib header); it is {what}"
    assert [str(e) for e in errors] == [expected]


def test_given_bytes_of_no_known_format_then_the_error_names_none():
    out, errors = _decode(b"\x01\x02 plain binary")
    assert [str(e) for e in errors] == ["decompress: not gzip or zlib data (no gzip/zlib header)"]
