"""Routes what libraries and asyncio report (stdlib logging, the loop's exception handler) into the structured log.

Without this, Python's last-resort handler writes aiosmtpd's, flufl.bounce's
and asyncio's messages and tracebacks to stderr as plain text in the middle
of the JSON lines; and asyncio's `socket.accept() out of system resource`
repeats every turn of a flood. Here each becomes one JSON event
(`library_log`, `loop_error`, `library_warning` for Python warnings) and a
repeat is written once per interval with a count (maild.ratelog). The daemon
installs all of it; a CLI command (`maild parse`, `ingest`...) and the parse
worker route library logging and warnings (`route_command_output`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import ModuleType

from maild import logs
from maild.ratelog import RateLog

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TextIO

if TYPE_CHECKING:
    import asyncio
    import logging
    from importlib.machinery import ModuleSpec

log = logs.get("library")
_repeats = RateLog(interval=10.0)
_MAX_TEXT = 500


def _text(value: object) -> str:
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


_handler: logging.Handler | None = None


def _structlog_handler() -> logging.Handler:
    """The one handler that writes library records as events; logging is imported here, not with this module."""
    global _handler
    if _handler is None:
        import logging

        class _ToStructlog(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    fields: dict[str, Any] = {"logger": record.name, "text": _text(record.getMessage())}
                    if record.exc_info and record.exc_info[1] is not None:
                        error = record.exc_info[1]
                        fields["error"] = _text(f"{type(error).__name__}: {error}")
                    fn = log.error if record.levelno >= logging.ERROR else log.warning
                    # keyed by the message template, not its arguments: one line per kind of message per interval
                    _repeats.emit(("logging", record.name, str(record.msg)), fn, "library_log", **fields)
                except Exception:  # a log line never raises into the library that wrote it
                    pass

        _handler = _ToStructlog(level=logging.WARNING)
    return _handler


def route_stdlib_logging() -> None:
    """Every library's WARNING and above goes through the structured logger; below that is dropped."""
    import logging

    handler = _structlog_handler()
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.WARNING)


class _Then:
    """A loader that runs its module with the real loader, then calls `then` (other attributes are the real loader's)."""

    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name: str) -> Any:  # get_source for tracebacks, is_package...
        return getattr(self._loader, name)


class _WhenImported:
    """On sys.meta_path until `name` is first imported; then `then` runs right after the module has run."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util  # here, not at the top: the console script's commands need it only if logging loads

        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Then(spec.loader, self.then)  # type: ignore[assignment]
        return spec


def route_stdlib_logging_when_imported() -> None:
    """route_stdlib_logging() now if a library has imported logging, else as soon as one does.

    Importing logging (with threading, traceback, string, weakref) is a short command's cost even when no
    library of the command ever uses it: `maild parse` of a DSN never does.
    """
    if "logging" in sys.modules:
        route_stdlib_logging()
    elif not any(isinstance(f, _WhenImported) for f in sys.meta_path):
        sys.meta_path.insert(0, _WhenImported("logging", route_stdlib_logging))


def _warning_to_log(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:
    """warnings.showwarning's replacement: one JSON event instead of Python's two lines of plain text."""
    _repeats.emit(
        ("warning", category.__name__, filename, lineno), log.warning, "library_warning",
        category=category.__name__, text=_text(message), where=f"{filename}:{lineno}",
    )


def route_warnings() -> None:
    """Python warnings (a library's DeprecationWarning, RuntimeWarning...) become `library_warning` events."""
    warnings.showwarning = _warning_to_log


def route_command_output() -> None:
    """For a CLI command: every library's log record and warning goes through the structured logger."""
    route_stdlib_logging_when_imported()
    route_warnings()


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    message = str(context.get("message", "unhandled exception in event loop"))
    error = context.get("exception")
    fields: dict[str, Any] = {"text": _text(message)}
    if error is not None:
        fields["error"] = _text(f"{type(error).__name__}: {error}")
    _repeats.emit(("loop", message, type(error).__name__), log.error, "loop_error", **fields)


def install(loop: asyncio.AbstractEventLoop) -> None:
    route_stdlib_logging()
    loop.set_exception_handler(loop_exception_handler)
