"""Forward decoded events to Kinesis or Firehose (DESTINATION_ARN names which).

Subscription (async): anything still undelivered after the retries raises, so Lambda retries
and the on-failure destination keeps the event. Kinesis event source: the whole batch goes out
in as few requests as the limits allow, and batchItemFailures names exactly the records whose
events were not delivered. Undecodable input is dead-lettered with its data, never retried.

Configuration: handlers/_config.py (DESTINATION_ARN, DEAD_LETTER_QUEUE_URL, SKIP_LOG_GROUPS).
"""

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._sources import DEFAULT, ForwardHandler, Runtime

CONFIG = Config.load()  # a bad variable is an init error, not a failure of every invocation
logger = Logger(service="logstream-forward")


def build(
    config: Config = CONFIG,
    *,
    sink: Any = None,
    dead_letters: Any = DEFAULT,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler, with its sinks built from ``config`` unless given (tests inject them)."""
    app = ForwardHandler(
        Runtime(config, logger, dead_letters=dead_letters, clock=clock), sink or config.destination_sink()
    )

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app(event, context)

    return handler


handler = build()
