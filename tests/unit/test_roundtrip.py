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
