"""structlog: readable console on a TTY, JSON lines otherwise (ensure_ascii=False).

Events are few and rich, with bound context (message_id, receipt); never passwords, tokens or
attachment contents; tracebacks without local variables.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer


def configure_logging(*, json_output: bool | None = None, level: int = logging.INFO) -> None:
    if json_output is None:
        json_output = not sys.stderr.isatty()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_output:
        processors += [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=partial(json.dumps, ensure_ascii=False, default=str)),
        ]
    else:
        processors += [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("mailbot").bind(**context)
