"""The retry loop, error classes, deadline and dead-letter messages of the sinks (no network:
``send`` functions raise the exceptions botocore raises)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from logstream import limits
from logstream.sinks import Deadline, RetryPolicy
from logstream.sinks.base import DEADLINE_EXCEEDED, FATAL, TRANSIENT, UNKNOWN_OUTCOME, send_with_retry
from logstream.sinks.sqs import DeadLetter, dead_letter_messages
from tests.lambda_sim import FakeClock


def client_error(code, status=400):
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} for arn:aws:kinesis:::stream/s"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutRecords",
    )


class Sender:
    """``send`` that answers from a script: an exception, or the list of failed indexes."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls: list[list] = []

    def __call__(self, entries, deadline):
        self.calls.append(list(entries))
        step = self.script.pop(0) if self.script else []
        if isinstance(step, BaseException):
            raise step
        return [(i, code, "entry failed") for i, code in step]


NO_WAIT = RetryPolicy(sleep=lambda s: None)


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (client_error("AccessDeniedException"), "AccessDeniedException", FATAL),
        (client_error("ResourceNotFoundException"), "ResourceNotFoundException", FATAL),
        (client_error("ValidationException"), "ValidationException", FATAL),
        (client_error("SomethingNewAndForbidden", 403), "SomethingNewAndForbidden", FATAL),
        (ReadTimeoutError(endpoint_url="http://x"), "ReadTimeoutError", UNKNOWN_OUTCOME),
    ],
)
def test_given_a_fatal_or_unknown_outcome_error_then_one_request_and_no_retry(error, code, kind):
    send = Sender(error)
    result = send_with_retry(["a", "b"], send, NO_WAIT)
    assert len(send.calls) == 1 and result.requests == 1
    assert [(f.entry, f.error_code, f.error_class) for f in result.failed] == [
        ("a", code, kind),
        ("b", code, kind),
    ]


class SlowSender(Sender):
    """A ``Sender`` whose every request takes ``seconds`` on ``clock`` (a read timeout)."""

    def __init__(self, clock, seconds, *script):
        super().__init__(*script)
        self.clock, self.seconds = clock, seconds

    def __call__(self, entries, deadline):
        self.clock.sleep(self.seconds)
        return super().__call__(entries, deadline)


def test_given_record_sinks_when_a_request_gets_no_answer_then_it_is_sent_once_more_if_time_allows_as_long():
    clock = FakeClock()
    timeout = ReadTimeoutError(endpoint_url="http://x")
    send = SlowSender(clock, 5.0, timeout, [])  # answered the second time
    result = send_with_retry(["a", "b"], send, NO_WAIT, Deadline.after(60.0, clock), retry_unknown=True)
    assert (len(send.calls), result.delivered, result.failed) == (2, 2, [])

    send = SlowSender(clock, 5.0, timeout, timeout, timeout)  # never answered: sent twice, no more
    result = send_with_retry(["a"], send, NO_WAIT, Deadline.after(60.0, clock), retry_unknown=True)
    assert len(send.calls) == 2
    assert [(f.error_code, f.error_class) for f in result.failed] == [("ReadTimeoutError", UNKNOWN_OUTCOME)]

    send = SlowSender(clock, 5.0, timeout, [])  # 4 s left after 5 s without an answer: reported
    result = send_with_retry(["a"], send, NO_WAIT, Deadline.after(9.0, clock), retry_unknown=True)
    assert len(send.calls) == 1
    assert [(f.error_code, f.error_class) for f in result.failed] == [("ReadTimeoutError", UNKNOWN_OUTCOME)]


def test_given_transient_errors_then_only_failed_entries_are_sent_again():
    send = Sender(
        ConnectionClosedError(endpoint_url="http://x"),
        client_error("ThrottlingException"),
        [(1, "ProvisionedThroughputExceededException"), (2, "KMSAccessDeniedException")],
        [],
    )
    result = send_with_retry(["a", "b", "c"], send, NO_WAIT)
    assert send.calls == [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"], ["b"]]
    assert result.delivered == 2 and result.requests == 4
    assert [(f.entry, f.error_code, f.error_class) for f in result.failed] == [
        ("c", "KMSAccessDeniedException", FATAL)
    ]


def test_given_throttling_forever_then_retries_stop_before_the_deadline():
    clock = FakeClock()
    deadline = Deadline.after(20.0, clock)
    send = Sender(*[client_error("ThrottlingException")] * 10_000)
    result = send_with_retry(["a"], send, RetryPolicy(max_attempts=10_000, sleep=clock.sleep), deadline)
    assert 0 < deadline.remaining() < 20 - 15  # it used the time it had, and stopped in time
    assert [(f.error_code, f.error_class) for f in result.failed] == [(DEADLINE_EXCEEDED, TRANSIENT)]
    assert "last error: ThrottlingException" in result.failed[0].error_message
    assert result.requests == len(send.calls) > 8


def test_given_no_time_left_then_nothing_is_sent():
    send = Sender([])
    result = send_with_retry(["a"], send, NO_WAIT, Deadline.after(0.5))
    assert send.calls == [] and [f.error_code for f in result.failed] == [DEADLINE_EXCEEDED]


def test_deadline_from_a_lambda_context_keeps_a_margin():
    class Context:
        def __init__(self, ms):
            self.ms = ms

        def get_remaining_time_in_millis(self):
            return self.ms

    clock = FakeClock()
    now = clock()
    assert Deadline.from_context(Context(60_000), clock=clock).expires - now == pytest.approx(55.0, abs=0.01)
    assert Deadline.from_context(Context(3_000), clock=clock).expires - now == pytest.approx(2.5, abs=0.01)


def test_given_a_short_deadline_then_clients_get_timeouts_that_fit_it(monkeypatch):
    from logstream.sinks import KinesisSink, base

    built = []
    monkeypatch.setattr(
        base, "make_client", lambda service, region, connect, read: built.append((connect, read)) or object()
    )
    sink = KinesisSink("s")
    clock = FakeClock()
    first = sink.client_for(Deadline.after(55.0, clock))
    assert sink.client_for(Deadline.after(54.0, clock)) is first  # one client per timeout step
    sink.client_for(Deadline.after(6.0, clock))
    assert built == [(2.0, 50.0), (1.5, 3.0)]
    assert all(connect + read <= budget for (connect, read), budget in zip(built, (55.0, 6.0), strict=True))


def test_given_data_larger_than_an_sqs_message_then_dead_letter_parts_carry_all_of_it():
    data = "".join(chr(i % 0x2FF) for i in range(600_000))  # control characters and non-ASCII
    letter = DeadLetter(data, "record 3: json: bad", {"sequenceNumber": "49"})
    bodies = dead_letter_messages(letter)
    assert len(bodies) > 1
    assert all(len(b.encode()) <= limits.SQS_MAX_MESSAGE_BYTES - 1024 for b in bodies)
    parts = [json.loads(b) for b in bodies]
    assert [(p["part"], p["parts"]) for p in parts] == [(i, len(parts)) for i in range(1, len(parts) + 1)]
    assert "".join(p["data"] for p in parts) == data
    assert {(p["reason"], p["source"]["sequenceNumber"]) for p in parts} == {("record 3: json: bad", "49")}
