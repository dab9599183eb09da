"""Forward decoded events to Kinesis or Firehose (DESTINATION_ARN names which).

Subscription (async): anything still undelivered after the retries raises, so Lambda retries
and the on-failure destination keeps the event. Kinesis event source: the whole batch goes out
in as few requests as the limits allow, and batchItemFailures names exactly the records whose
events were not delivered. Undecodable input, a record (or document) whose processing raised
and an event too big for any record are dead-lettered with their data as received, never
retried. Processing stops in time to send before the deadline; what it did not reach is
reported for retry, but for the documents of a subscription event whose others were delivered:
those are dead-lettered (a retry of the event would send the others twice) when the queue
takes them.

Every event goes through the processing pipeline (PARSE_MESSAGES ... TAGS, off unless set) and
leaves in RECORD_FORMAT (ndjson, ndjson-gzip or cloudwatch).

Configuration: handlers/_config.py (DESTINATION_ARN, RECORD_FORMAT, the pipeline's variables,
DEAD_LETTER_QUEUE_URL, SKIP_LOG_GROUPS, SELF_METRICS).
"""

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from handlers._config import Config
from handlers._sources import DEFAULT, ForwardHandler, Runtime, with_lambda_context
from logstream.process import Pipeline

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
        Runtime(config, logger, dead_letters=dead_letters, clock=clock),
        sink or config.destination_sink(),
        Pipeline(config.pipeline),
    )

    return with_lambda_context(logger, app)


handler = build()
