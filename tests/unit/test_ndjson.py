"""The event lines of ``logstream decode`` (logstream.ndjson.event_lines), written in one encode
and a splice: held to lines built one event at a time with the standard library's json."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from logstream.models import LogEvent, LogStream, MessageType
from logstream.ndjson import event_lines

# text that would break a splice or a line reader: the separator the splice looks for, quotes,
# braces, JSON line separators, control characters, non-ASCII
_TRICKY = st.sampled_from(
    ['},{"id":', '"', "\\", "{", "}", "\u2028", "\u2029", "\u0085", "\n", "\x00", "\x7f", "é", "😀", '"id":']
)
_TEXT = st.lists(st.one_of(_TRICKY, st.text(max_size=8)), max_size=6).map("".join)
_FIELDS = st.one_of(st.none(), st.dictionaries(_TEXT, _TEXT, min_size=1, max_size=3))


@st.composite
def streams(draw):
    n = draw(st.integers(1, 6))
    events = tuple(
        LogEvent(draw(_TEXT), draw(st.integers(0, 2**53)), draw(_TEXT), draw(_FIELDS)) for _ in range(n)
    )
    return LogStream(
        MessageType.DATA_MESSAGE,
        draw(_TEXT),
        draw(_TEXT),
        draw(_TEXT),
        tuple(draw(st.lists(_TEXT, max_size=2))),
        events,
        policy_level=draw(st.one_of(st.none(), _TEXT)),
    )


def _expected(stream: LogStream) -> list[list]:
    """Each event's line as (key, value) pairs in order, built one event at a time."""
    out = []
    for e in stream.log_events:
        pairs = [
            ("owner", stream.owner),
            ("logGroup", stream.log_group),
            ("logStream", stream.log_stream),
            ("subscriptionFilters", list(stream.subscription_filters)),
            ("id", e.id),
            ("timestamp", e.timestamp),
            ("message", e.message),
        ]
        if e.extracted_fields is not None:
            pairs.append(("extractedFields", list(e.extracted_fields.items())))
        if stream.policy_level is not None:
            pairs.append(("policyLevel", stream.policy_level))
        out.append(pairs)
    return out


def _pairs(line: str) -> list:
    """A JSON object as its (key, value) pairs in order, nested objects too."""
    return json.loads(line, object_pairs_hook=list)


@settings(max_examples=300, deadline=None)
@given(streams())
def test_given_any_stream_then_one_line_per_event_holding_its_context_and_fields_in_order(stream):
    data = bytes(event_lines(stream))

    text = data.decode("utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()  # splits at U+2028, U+2029 and U+0085 too: they must be escaped
    assert len(lines) == len(stream.log_events)
    assert [_pairs(line) for line in lines] == _expected(stream)


def test_given_a_message_holding_the_splice_separator_then_it_stays_inside_its_event():
    events = (LogEvent("1", 1, 'a},{"id":"x'), LogEvent("2", 2, "b"))
    stream = LogStream(MessageType.DATA_MESSAGE, "o", "/g", "s", ("f",), events)

    lines = bytes(event_lines(stream)).splitlines()

    assert [json.loads(line)["message"] for line in lines] == ['a},{"id":"x', "b"]
