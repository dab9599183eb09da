"""The Lambda context keys on the handlers' log lines (handlers._sources.with_lambda_context):
those of Powertools' ``inject_lambda_context``, the request id of the invocation that logged."""

import io
import json
import logging

from aws_lambda_powertools import Logger

from handlers._sources import with_lambda_context


class _Context:
    function_name = "logstream-forward"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logstream-forward"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def test_given_three_invocations_then_each_line_carries_its_own_request_id_and_cold_start_once():
    out = io.StringIO()
    logger = Logger(service="context-test", logger_handler=logging.StreamHandler(out), level="INFO")

    def app(event, context):
        logger.info(f"invocation {event}")
        return event

    handler = with_lambda_context(logger, app)
    answers = [handler(n, _Context(f"req-{n}")) for n in (1, 2, 3)]

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers == [1, 2, 3]
    assert [(x["message"], x["function_request_id"], x["cold_start"]) for x in lines] == [
        ("invocation 1", "req-1", True),
        ("invocation 2", "req-2", False),
        ("invocation 3", "req-3", False),
    ]
    for x in lines:
        assert (x["function_name"], x["function_memory_size"], x["function_arn"]) == (
            "logstream-forward",
            256,
            "arn:aws:lambda:us-east-1:123456789012:function:logstream-forward",
        )


def test_given_a_formatter_without_powertools_keys_dict_then_its_append_keys_sets_the_request_id():
    seen = []

    class Formatter(logging.Formatter):
        def append_keys(self, **keys):
            seen.append(keys)

    class StubLogger:
        registered_formatter = Formatter()

        def append_keys(self, **keys):
            seen.append(keys)

    handler = with_lambda_context(StubLogger(), lambda event, context: event)
    handler("e", _Context("req-a"))
    handler("e", _Context("req-b"))
    handler("e", _Context("req-c"))

    assert [k["function_request_id"] for k in seen if "function_request_id" in k] == [
        "req-a",
        "req-b",
        "req-c",
    ]
    assert [k["cold_start"] for k in seen if "cold_start" in k] == [True, False]
