"""Property tests: decode(encode(doc)) == doc in every transport shape; never an unexpected crash."""

from __future__ import annotations

import base64
import gzip

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstream import DecodeError, decode_log_stream, iter_log_streams
from logstream import testing as t
from logstream.models import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
event = st.fixed_dictionaries(
    {
        "id": st.text("0123456789", min_size=56, max_size=56),
        "timestamp": st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
        "message": text,
    },
    optional={
        "extractedFields": st.dictionaries(
            st.sampled_from(["@aws.account", "@aws.region", "f"]), text, max_size=2
        )
    },
)
document = st.fixed_dictionaries(
    {
        "messageType": st.just("DATA_MESSAGE"),
        "owner": st.text("0123456789", min_size=12, max_size=12),
        "logGroup": text,
        "logStream": text,
        "subscriptionFilters": st.lists(text, max_size=2),
        "logEvents": st.lists(event, max_size=5),
    },
    optional={"policyLevel": st.just("ACCOUNT_LEVEL_POLICY")},
)
docs = st.lists(document, min_size=1, max_size=4)
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(document)
def test_lambda_event_round_trip(doc):
    assert decode_log_stream(t.lambda_event(doc)).to_document() == doc
    assert decode_log_stream(t.lambda_event(doc, compression="zlib")).to_document() == doc
    assert decode_log_stream(t.encode_payload(doc)).to_document() == doc
    assert decode_log_stream(msgspec.json.encode(t.lambda_event(doc)).decode()).to_document() == doc


@fast
@given(document)
def test_one_pass_lambda_path_equals_general_path(doc):
    from logstream.decode import use_accelerators

    event = t.lambda_event(doc)
    for accelerated in (True, False):
        use_accelerators(accelerated)
        try:
            fast, (general,) = decode_log_stream(event), list(iter_log_streams(event))
        finally:
            use_accelerators(True)
        assert fast == general and fast.raw == general.raw


@fast
@given(document)
def test_typed_fields_match_document(doc):
    stream = decode_log_stream(t.lambda_event(doc))
    assert stream.log_group == doc["logGroup"] and stream.owner == doc["owner"]
    assert [e.to_dict() for e in stream.log_events] == doc["logEvents"]
    rebuilt = type(stream)(*[getattr(stream, f) for f in stream.__slots__ if f != "raw"])
    assert rebuilt.to_document() == doc  # the field-built document equals CloudWatch's too


@fast
@given(docs)
def test_every_transport_round_trip(ds):
    shapes = [
        t.kinesis_event(ds),
        t.firehose_event(ds),
        t.firehose_http_body(ds),
        t.s3_object(ds),
        t.s3_object(ds, outer_gzip=True),
        b"".join(t.document_json(d) for d in ds),  # glued
        b"\n".join(t.document_json(d) for d in ds),  # NDJSON
        b"\n".join(msgspec.json.format(t.document_json(d), indent=2) for d in ds),  # pretty
        [t.encode_payload(d) for d in ds],  # base64 payloads (one per line is the CLI's guess)
        {"payload": t.encode_payload(ds[0])} if len(ds) == 1 else t.kinesis_event(ds),
        gzip.compress(b"".join(t.document_json(d) for d in ds), mtime=0),
    ]
    for shape in shapes:
        assert [s.to_document() for s in iter_log_streams(shape)] == ds


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    for obj in (data, {"awslogs": {"data": base64.b64encode(data).decode()}}, gzip.compress(data)):
        try:
            list(iter_log_streams(obj))
        except DecodeError:
            pass


# Hostile input: every transport, mutated. Whatever the mutation, only DecodeError leaves the
# library (raised, or handed to on_error while the rest is decoded), accelerators on and off.
_HOSTILE_JSON = [
    b'"\xff\xfe"',  # invalid UTF-8 inside a string
    b"[" * 1500 + b"]" * 1500,  # nesting deeper than any parser's stack
    b"1" * 400,  # a number no int64 or double holds
    b"-1e999999",
    b'{"messageType":' * 50,
    b"null",
]


def _shapes(ds: list[dict]) -> list[bytes]:
    return [
        msgspec.json.encode(t.kinesis_event(ds)),
        msgspec.json.encode(t.firehose_event(ds)),
        msgspec.json.encode(t.lambda_event(ds[0])),
        t.s3_object(ds),
        t.s3_object(ds, outer_gzip=True),
        b"\n".join(t.document_json(d) for d in ds),
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs,
    st.integers(0, 5),
    st.sampled_from(["flip", "cut", "insert", "splice"]),
    st.integers(0, 10**9),
    st.sampled_from(_HOSTILE_JSON),
    st.booleans(),
)
def test_given_any_mutation_of_any_transport_then_only_decode_errors(
    ds, shape, how, at, hostile, accelerated
):
    from logstream.decode import use_accelerators

    data = bytearray(_shapes(ds)[shape])
    i = at % max(len(data), 1)
    if how == "flip":
        data[i] ^= 1 << (at % 8)
    elif how == "cut":
        del data[i:]
    elif how == "insert":
        data[i:i] = hostile
    else:  # a hostile value where a document's string or number was
        text = bytes(data).replace(b'"logGroup":', b'"logGroup":' + hostile + b',"x":', 1)
        data = bytearray(text)
    use_accelerators(accelerated)
    try:
        errors: list[DecodeError] = []
        list(iter_log_streams(bytes(data), on_error=errors.append))  # never raises
        try:
            list(iter_log_streams(bytes(data)))
        except DecodeError:
            pass
        as_text = bytes(data).decode("utf-8", "surrogateescape")  # a str with lone surrogates
        list(iter_log_streams(as_text, on_error=errors.append))
        assert all(isinstance(e, DecodeError) for e in errors)
    finally:
        use_accelerators(True)


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
        max_leaves=20,
    ),
    st.sampled_from(["awslogs", "records", "Records", "events", "logEvents", "messageType", "rawData"]),
)
def test_given_mappings_of_any_values_then_only_decode_errors(value, key):
    errors: list[DecodeError] = []
    for obj in (
        {key: value},
        {"awslogs": {"data": value}},
        {"Records": [{"kinesis": {"data": value}}]},
        value,
    ):
        list(iter_log_streams(obj, on_error=errors.append))
    assert all(isinstance(e, DecodeError) for e in errors)
