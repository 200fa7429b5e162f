"""Terminal safety: control characters in mail-derived text are shown as escapes, never sent to the terminal.

A DSN's Diagnostic-Code, a subject or a department name is text from
strangers; raw, its ESC, C1 and bidi controls can retitle the terminal,
clear the screen, rewrite earlier lines or, on some terminals, write the
clipboard. Every command's standard output goes through `VisibleStdout`
(newlines and tabs stay; everything else in Unicode's Cc class, plus the
bidi overrides, becomes `\\x1b` or `\\u202e`), JSON output escapes the same
characters as `\\u00XX`, and rich tables get text already made visible
with markup switched off.
"""

from __future__ import annotations

import errno
import io
import json
import re
import sys

from maild.core.lazyre import lazy

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TextIO

_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ANY = lazy(f"[{_UNSAFE}]")
_ANY_LINE = lazy(f"[\t\n{_UNSAFE}]")
_JSON_EXTRA = lazy("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")  # json.dumps leaves these


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character shown as an escape; `one_line` escapes newlines and tabs too."""
    # Every character escaped here is unprintable to str.isprintable (Cc, and the bidi controls are Cf), which
    # tests a text in C about twice as fast as the search: most text has none, and a line that ends in its newline
    # (the JSON Lines of `maild parse`) is tested without it.
    if text.isprintable() or (not one_line and text[-1:] == "\n" and text[:-1].isprintable()):
        return text
    return (_ANY_LINE if one_line else _ANY).sub(_escape, text)


def json_line(obj: Any) -> str:
    """One JSON object as a line, with the control characters json.dumps keeps raw (DEL, C1, bidi) as \\u escapes."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    if text.isprintable():  # what _JSON_EXTRA finds is unprintable too (Cc, Cf, and U+2028/U+2029 are Zl, Zp)
        return text
    return _JSON_EXTRA.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class VisibleStdout(io.TextIOBase):
    """A text stream that passes what it is given through `visible` to the stream it wraps."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(visible(text))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", "utf-8")

    @property
    def buffer(self) -> Any:  # `quarantine show --raw` writes the stored bytes as they are, by request
        return self.raw.buffer

    def writable(self) -> bool:
        return True


class ClosedStdout(io.TextIOBase):
    """Standard output when the process was started without one (`maild ingest >&-`): a write is an error the CLI
    reports in one line (EBADF, as `ls >&-` says), where Python would have left None for a traceback at exit."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass


def install() -> None:
    if sys.stdout is None:
        sys.stdout = ClosedStdout()
    elif not isinstance(sys.stdout, (VisibleStdout, ClosedStdout)):
        sys.stdout = VisibleStdout(sys.stdout)


def raw_stdout() -> TextIO:
    """The stream under the guard, for rich (its colour codes are its own; its cells are made visible first)."""
    out = sys.stdout
    return out.raw if isinstance(out, VisibleStdout) else out
