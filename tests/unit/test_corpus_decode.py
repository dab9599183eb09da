"""Given every real payload of the corpus, when decoded, then it equals the expected decode."""

from __future__ import annotations

import json

import pytest

from logstream import DecodeError, SchemaError, iter_log_streams
from tests.conftest import corpus_path

EVENTS = sorted(p.name for p in corpus_path("events").glob("*.json"))
DOCUMENTS = sorted(p.name for p in corpus_path("documents").iterdir())


@pytest.mark.parametrize("name", EVENTS)
def test_given_corpus_event_when_decoded_then_matches_expected(name, codec):
    expected = json.loads(corpus_path("expected", name[:-5] + ".decoded.json").read_text())
    errors: list[DecodeError] = []
    streams = list(
        iter_log_streams(corpus_path("events", name).read_bytes(), source=name, on_error=errors.append)
    )

    assert [s.to_document() for s in streams] == [doc for doc in expected if doc is not None]
    # payloads that are not CloudWatch Logs data are reported with their record index
    bad = [i for i, doc in enumerate(expected) if doc is None]
    assert [e.record for e in errors] == bad
    assert all(e.source == name for e in errors)


def test_given_policy_level_event_then_typed_fields_are_set():
    (stream,) = iter_log_streams(
        corpus_path("events", "powertools-python__cloudWatchLogEventWithPolicyLevel.json").read_bytes()
    )
    assert stream.policy_level == "ACCOUNT_LEVEL_POLICY"
    assert stream.log_events[1].message == "[ERROR] Second test message"  # not aws-lambda-go's comma
    assert stream.log_events[0].datetime.isoformat() == "2015-08-24T19:03:07+00:00"


def test_given_firehose_blueprint_then_control_message_first():
    streams = list(
        iter_log_streams(
            corpus_path("events", "aws-sam-cli__KinesisFirehoseCloudwatchLogsProcessor.json").read_bytes()
        )
    )
    assert [s.is_control for s in streams] == [True, False, False, False]
    assert streams[0].owner == "CloudwatchLogs" and streams[0].log_events[0].id == ""


def test_given_object_messages_then_kept_as_json_text_and_document_is_exact():
    path = corpus_path("events", "powertools-python__powertools_base64_gzip_jmespath_payload.json")
    (stream,) = iter_log_streams(path.read_bytes())
    assert json.loads(stream.log_events[0].message) == {"username": "lessa", "message": "hello world"}
    assert stream.to_document()["logEvents"][0]["message"] == {"username": "lessa", "message": "hello world"}


# documents/: decoded documents as peers keep them. Expected outcome per file:
# (number of streams, error steps in order)
DOCUMENT_OUTCOMES = {
    "otel-contrib__awsfirehosereceiver-cwlog__invalid_records.ndjson": (0, ["envelope"] * 4),
    "otel-contrib__awsfirehosereceiver-cwlog__some_invalid_records.ndjson": (2, ["envelope"]),
    "otel-contrib__awsfirehosereceiver-cwlog__multiple_records.ndjson": (2, []),
    "otel-contrib__awslogsencoding-subscription-filter__multiple_json_objects.json": (2, []),
    "otel-contrib__awslogsencoding-subscription-filter__invalid_cloudwatch_log.json": (0, ["schema"]),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_given_corpus_document_when_decoded_then_equals_json_source(name):
    raw = corpus_path("documents", name).read_bytes()
    errors: list[DecodeError] = []
    streams = list(iter_log_streams(raw, source=name, on_error=errors.append))
    count, steps = DOCUMENT_OUTCOMES.get(name, (1, []))
    assert len(streams) == count
    assert [e.step for e in errors] == steps
    # the success path is checked too: every decoded document equals its JSON source
    decoder = json.JSONDecoder()
    text = raw.decode()
    sources, pos = [], 0
    while pos < len(text.rstrip()):
        while text[pos].isspace():
            pos += 1
        value, pos = decoder.raw_decode(text, pos)
        sources.append(value)
    docs = [d for d in sources if "messageType" in d and "logGroup" in d]
    assert [s.to_document() for s in streams] == docs


def test_given_document_missing_log_group_then_schema_error_names_key():
    raw = corpus_path(
        "documents", "otel-contrib__awslogsencoding-subscription-filter__invalid_cloudwatch_log.json"
    ).read_bytes()
    with pytest.raises(SchemaError, match="logGroup"):
        list(iter_log_streams(raw))


def test_given_timestamp_in_seconds_then_kept_as_sent():
    raw = corpus_path("documents", "datadog__tests-events__cloudwatch_logs_2.json").read_bytes()
    (stream,) = iter_log_streams(raw)
    assert stream.log_events[0].timestamp == 1737735732
