"""Structured logging: JSON lines for journald and pipes, readable lines on a terminal, always to stderr.

Standard output belongs to a command's own output (`--json` stays pure JSON).
Event names are stable snake_case; callers bind context (queue_id, ticket,
peer) and never log bodies, token secrets or AUTH data.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

# The stdlib logging levels by value: importing logging itself would cost a short command more than its work.
DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}


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


class _Settings:
    """What configure() asked for; structlog is set up from it when the first record passes the level."""

    level = INFO
    fmt = "auto"
    applied = False
    configured = False


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Set the level and format (safe to call again: SIGHUP changes the level); structlog loads on first use.

    A command that logs nothing at or above its level (``maild parse`` at warning) never imports structlog:
    its import is most of a short command's start-up.
    """
    _Settings.level = _LEVELS[level]
    _Settings.fmt = fmt
    _Settings.configured = True
    if _Settings.applied:
        _apply()


def _apply() -> Any:
    import structlog

    stream = sys.stderr
    fmt = _Settings.fmt
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
        wrapper_class=structlog.make_filtering_bound_logger(_Settings.level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _Settings.applied = True
    return structlog


def current_format() -> str | None:
    """The format configure() set in this process, or None when it was never called (a fresh worker process)."""
    return _Settings.fmt if _Settings.configured else None


class Logger:
    """A structlog bound logger in waiting: records below the configured level cost a comparison, no import."""

    __slots__ = ("_context",)

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context

    def bind(self, **context: Any) -> Logger:
        return Logger({**self._context, **context})

    def _emit(self, level: int, method: str, event: str, kw: dict[str, Any]) -> None:
        if level < _Settings.level:
            return
        structlog = _apply() if not _Settings.applied else sys.modules["structlog"]
        getattr(structlog.get_logger(**self._context), method)(event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._emit(DEBUG, "debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit(INFO, "info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit(WARNING, "warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit(ERROR, "error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._emit(ERROR, "exception", event, kw)


def get(name: str) -> Logger:
    return Logger({"component": name})
