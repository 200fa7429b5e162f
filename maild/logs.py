"""Structured logging: JSON lines for journald and pipes, readable lines on a terminal, always to stderr.

Standard output belongs to a command's own output (`--json` stays pure JSON).
Event names are stable snake_case; callers bind context (queue_id, ticket,
peer) and never log bodies, token secrets or AUTH data.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _StderrLogger:
    """Writes each rendered line to whatever sys.stderr is now; a log line never raises into the caller."""

    def msg(self, message: str) -> None:
        try:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed or gone (journald restarted, a test's capture ended)
            pass

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Set up structlog once per process; safe to call again (SIGHUP changes the level)."""
    stream = sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def get(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(component=name)


# Until a command configures logging, log JSON/console to stderr rather than structlog's stdout default.
configure()
