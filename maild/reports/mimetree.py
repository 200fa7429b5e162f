"""The stdlib email parser's compat32 tree built in one pass over the whole input: the same parts, headers, payloads and defects.

`email.message_from_bytes(raw, policy=compat32)` feeds its FeedParser 8 KB at a time through one generator per
MIME level, tests every line against every enclosing boundary and works out each part's content type up to
five times: about a third of a report's parse. `parse_bytes` follows FeedParser._parsegen step by step (the
same line splitting, header, boundary and end-of-part rules, unread lines and defects) over the list of lines,
reads each part's type once and skips the boundary tests on lines that cannot be one. It builds the stdlib's
own `Message` objects, so every reader (and flufl.bounce) sees what it saw before;
tests/reports/test_mimetree.py holds the trees equal to the stdlib's over the corpus and generated input.
"""

from __future__ import annotations

import re
from email import errors
from email._policybase import compat32  # the same object email.policy exports, without loading the modern policy machinery
from email.message import Message
from email.utils import unquote
from io import StringIO

# The part's content type, kept where maild.reports.mime.content_type looks for it first.
CTYPE_KEY = "_maild_ctype"

# FeedParser's own patterns (email/feedparser.py).
_NLCRE = re.compile(r"\r\n|\r|\n")
_NLCRE_EOL = re.compile(r"(\r\n|\r|\n)\Z")
_NLCRE_BOL = re.compile(r"(\r\n|\r|\n)")
_HEADER = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")


def _splits_as_email(text: str) -> bool:
    """Whether str.splitlines splits `text` where the email parser does: at \r\n, \r and \n only (splitlines also
    splits at \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029)."""
    if "\v" in text or "\f" in text or "\x1c" in text or "\x1d" in text or "\x1e" in text:
        return False
    return text.isascii() or not ("\x85" in text or "\u2028" in text or "\u2029" in text)


class _Input:
    """BufferedSubFile over all the lines at once: readline, unreadline and a stack of end-of-part patterns."""

    __slots__ = ("lines", "pos", "pushed", "eof", "unreadable")

    def __init__(self, text: str) -> None:
        # StringIO(newline="") splits at \r\n, \r and \n and keeps them, as BufferedSubFile does; splitlines is a
        # third faster where it gives the same lines.
        self.lines = text.splitlines(True) if _splits_as_email(text) else StringIO(text, newline="").readlines()
        self.pos = 0
        self.pushed: list[str] = []  # unread lines that are not simply the last line read
        self.eof: list[str] = []  # boundary separators ("--" + boundary), or "" for a blank line
        self.unreadable = False  # the last readline() took lines[pos - 1]: unreading it steps back

    def _at_eof(self, line: str) -> bool:
        # Each end is a boundary ("--" first) or a blank line: the callers pass only lines that start so (or "").
        # A plain loop, the boundary's prefix tested before its call: a generator per line was a tenth of the tree.
        for sep in self.eof:
            if sep:
                if line.startswith(sep) and boundary(line, sep) is not None:
                    return True
            elif line.startswith(("\r", "\n")):  # _NLCRE.match(line)
                return True
        return False

    def readline(self) -> str:
        self.unreadable = False
        if self.pushed:
            line = self.pushed.pop()
            if self.eof and (not line or line[0] in "-\r\n") and self._at_eof(line):
                self.pushed.append(line)
                return ""
            return line
        if self.pos >= len(self.lines):
            return ""
        line = self.lines[self.pos]
        if self.eof and line[0] in "-\r\n" and self._at_eof(line):  # a line read from the input is never empty
            return ""
        self.pos += 1
        self.unreadable = True
        return line

    def unreadline(self, line: str) -> None:
        if self.unreadable and self.lines[self.pos - 1] is line:
            self.pos -= 1
            self.unreadable = False
        else:
            self.pushed.append(line)

    def rest(self) -> list[str]:
        """Every line up to the end of the current part (what `for line in input` collects)."""
        self.unreadable = False
        out: list[str] = []
        while self.pushed:
            line = self.readline()
            if line == "":
                return out
            out.append(line)
        lines, start = self.lines, self.pos
        if not self.eof:
            self.pos = len(lines)
            return out + lines[start:] if out else lines[start:]
        at_eof = self._at_eof
        # Without a blank-line end on the stack (only delivery-status blocks push one) only a line starting with
        # "-" can end the part: the blank lines between a body's paragraphs are not tried against each boundary.
        starts = "-\r\n" if "" in self.eof else "-"
        end = start
        for end in range(start, len(lines)):
            line = lines[end]
            if (not line or line[0] in starts) and at_eof(line):
                break
        else:
            end = len(lines)
        self.pos = end
        return out + lines[start:end] if out else lines[start:end]


def boundary(line: str, separator: str) -> tuple[bool, str | None] | None:
    """(closing, line end) when `line` is the boundary line FeedParser's pattern
    ``(?P<sep>SEPARATOR)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$`` matches, else None.

    Written out because every message has its own boundary: compiling that pattern was an eighth of the tree's time.
    """
    if not line.startswith(separator):
        return None
    rest = line[len(separator):]
    closing = rest.startswith("--")
    if closing:
        rest = rest[2:]
    # A line holds one line end, at its end; between it and the separator only spaces and tabs may stand.
    text = rest.rstrip("\r\n")
    if text.strip(" \t"):
        return None
    return closing, rest[len(text):] or None


def _defect(msg: Message, defect: errors.MessageDefect) -> None:
    msg.defects.append(defect)  # compat32's handle_defect: register, never raise


class _Parser:
    __slots__ = ("input", "stack", "cur", "last")

    def __init__(self, text: str) -> None:
        self.input = _Input(text)
        self.stack: list[Message] = []
        self.cur: Message | None = None
        self.last: Message | None = None

    def new_message(self) -> Message:
        msg = Message(policy=compat32)
        if self.cur is not None and self.cur.__dict__[CTYPE_KEY] == "multipart/digest":
            msg.set_default_type("message/rfc822")
        if self.stack:
            parent = self.stack[-1]
            if parent._payload is None:  # type: ignore[attr-defined]
                parent._payload = [msg]  # type: ignore[attr-defined]
            else:
                parent.attach(msg)
        self.stack.append(msg)
        self.cur = self.last = msg
        return msg

    def pop_message(self) -> Message:
        msg = self.stack.pop()
        self.cur = self.stack[-1] if self.stack else None
        return msg

    def parse(self) -> None:  # FeedParser._parsegen
        cur = self.new_message()
        inp = self.input
        headers: list[str] = []
        if inp.pushed:
            while True:
                line = inp.readline()
                if line == "":
                    break
                if not _HEADER.match(line):
                    if not _NLCRE.match(line):
                        _defect(cur, errors.MissingHeaderBodySeparatorDefect())
                        inp.unreadline(line)
                    break
                headers.append(line)
            self.parse_headers(cur, headers)
        else:
            self.read_headers(cur)
        ctype = cur.__dict__[CTYPE_KEY] = _content_type(cur)
        if ctype == "message/delivery-status":
            while True:
                inp.eof.append("")
                self.parse()
                self.pop_message()
                inp.eof.pop()
                inp.readline()
                line = inp.readline()
                if line == "":
                    break
                inp.unreadline(line)
            return
        maintype = ctype.split("/")[0]
        if maintype == "message":
            self.parse()
            self.pop_message()
            return
        if maintype == "multipart":
            self.parse_multipart(cur)
            return
        cur._payload = "".join(inp.rest())  # type: ignore[attr-defined]  # set_payload(str) without a charset

    def parse_multipart(self, cur: Message) -> None:
        inp = self.input
        declared = boundary_of(cur)
        if declared is None:
            _defect(cur, errors.NoBoundaryInMultipartDefect())
            cur._payload = "".join(inp.rest())  # type: ignore[attr-defined]
            return
        if str(cur.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            _defect(cur, errors.InvalidMultipartContentTransferEncodingDefect())
        separator = "--" + declared
        capturing_preamble = True
        preamble: list[str] = []
        linesep: str | bool | None = False
        close_boundary_seen = False
        while True:
            line = inp.readline()
            if line == "":
                break
            mo = boundary(line, separator)
            if mo is not None:
                if mo[0]:
                    close_boundary_seen = True
                    linesep = mo[1]
                    break
                if capturing_preamble:
                    if preamble:
                        lastline = preamble[-1]
                        eolmo = _NLCRE_EOL.search(lastline)
                        if eolmo:
                            preamble[-1] = lastline[: -len(eolmo.group(0))]
                        cur.preamble = "".join(preamble)
                    capturing_preamble = False
                    inp.unreadline(line)
                    continue
                while True:
                    line = inp.readline()
                    if boundary(line, separator) is None:
                        inp.unreadline(line)
                        break
                inp.eof.append(separator)
                self.parse()
                last = self.last
                assert last is not None
                if last.__dict__[CTYPE_KEY].startswith("multipart/"):
                    epilogue = last.epilogue
                    if epilogue == "":
                        last.epilogue = None
                    elif epilogue is not None:
                        eol = _NLCRE_EOL.search(epilogue)
                        if eol:
                            last.epilogue = epilogue[: -len(eol.group(0))]
                else:
                    payload = last._payload  # type: ignore[attr-defined]
                    if isinstance(payload, str):
                        eol = _NLCRE_EOL.search(payload)
                        if eol:
                            last._payload = payload[: -len(eol.group(0))]  # type: ignore[attr-defined]
                inp.eof.pop()
                self.pop_message()
                self.last = self.cur
            else:
                preamble.append(line)
        if capturing_preamble:
            _defect(cur, errors.StartBoundaryNotFoundDefect())
            cur._payload = "".join(preamble)  # type: ignore[attr-defined]
            inp.rest()
            cur.epilogue = ""  # the stdlib drops the lines it reads here
            return
        if not close_boundary_seen:
            _defect(cur, errors.CloseBoundaryNotFoundDefect())
            return
        epilogue_lines = [""] if linesep else []
        epilogue_lines.extend(inp.rest())
        if epilogue_lines:
            bolmo = _NLCRE_BOL.match(epilogue_lines[0])
            if bolmo:
                epilogue_lines[0] = epilogue_lines[0][len(bolmo.group(0)):]
        cur.epilogue = "".join(epilogue_lines)

    def read_headers(self, cur: Message) -> None:
        """The header block at the input's position (nothing unread to come first), read and made into fields in one
        pass: readline() and unreadline() written out over the list of lines, and parse_headers' loop inside it.

        The header block is most of the lines a report's parts have: a second pass over them, with a list per field
        and a _field call for each, was a quarter of the tree's time.
        """
        inp = self.input
        lines, pos, eof, header_line = inp.lines, inp.pos, inp.eof, _HEADER.match
        start, end = pos, len(lines)
        inp.unreadable = False
        fields: list[tuple[str, str]] = cur._headers  # type: ignore[attr-defined]
        append = fields.append
        name = ""
        value = ""
        more: list[str] = []  # the continuation lines of the field being read
        typed = -1  # the index of the first Content-Type field
        plain = True  # no line that needs parse_headers (its defects and unreading) so far
        while pos < end:
            line = lines[pos]
            first = line[0]
            if first == " " or first == "\t":  # a continuation line is a header line, never an end of part
                if not name:
                    plain = False
                    break
                more.append(line)
                pos += 1
                continue
            if eof and first in "-\r\n" and inp._at_eof(line):
                break
            # _HEADER.match(line) told by string methods: a header line starts with "From " or has a ":" with only
            # printable ASCII but the space before it. A regex call per line was 7% of the tree's instructions.
            field, colon, rest = line.partition(":")
            if not colon or not field.isascii() or not field.isprintable() or " " in field:
                if not line.startswith("From "):  # not a header line
                    if first in "\r\n":  # the blank line ending the block (_NLCRE.match): read
                        pos += 1
                        inp.unreadable = True
                    else:
                        _defect(cur, errors.MissingHeaderBodySeparatorDefect())
                    break
                if pos > start:
                    plain = False
                    break
                cur.set_unixfrom(line.rstrip("\r\n"))  # a line holds one line end, at its end
                pos += 1
                continue
            if name:
                if more:
                    append((name, (value + "".join(more)).rstrip("\r\n")))
                    more = []
                else:
                    append((name, value.rstrip("\r\n")))
            name, value = field, rest
            if not name:
                plain = False
                break
            if typed < 0 and (first == "C" or first == "c") and name.lower() == "content-type":
                typed = len(fields)
            value = value.lstrip(" \t")
            pos += 1
        if plain:
            if name:
                append((name, (value + "".join(more)).rstrip("\r\n") if more else value.rstrip("\r\n")))
            cur.__dict__[TYPE_FIELD_KEY] = fields[typed][1] if typed >= 0 else None
            inp.pos = pos
            return
        # The rest of the block collected as the plain loop does, and all of it read by parse_headers.
        fields.clear()
        while pos < end:
            line = lines[pos]
            if eof and line[0] in "-\r\n" and inp._at_eof(line):
                break
            if not header_line(line):
                if line[0] in "\r\n":
                    pos += 1
                    inp.unreadable = True
                else:
                    _defect(cur, errors.MissingHeaderBodySeparatorDefect())
                break
            pos += 1
        inp.pos = pos
        self.parse_headers(cur, lines[start : pos - 1 if inp.unreadable else pos])

    def parse_headers(self, cur: Message, lines: list[str]) -> None:  # FeedParser._parse_headers
        fields: list[tuple[str, str]] = cur._headers  # type: ignore[attr-defined]
        lastvalue: list[str] = []
        for lineno, line in enumerate(lines):
            if line[0] in " \t":
                if not lastvalue:
                    _defect(cur, errors.FirstHeaderLineIsContinuationDefect(line))
                    continue
                lastvalue.append(line)
                continue
            if lastvalue:
                fields.append(_field(lastvalue))
                lastvalue = []
            if line.startswith("From "):
                if lineno == 0:
                    eol = _NLCRE_EOL.search(line)
                    if eol:
                        line = line[: -len(eol.group(0))]
                    cur.set_unixfrom(line)
                    continue
                if lineno == len(lines) - 1:
                    self.input.unreadline(line)
                    return
                cur.defects.append(errors.MisplacedEnvelopeHeaderDefect(line))
                continue
            if line.find(":") == 0:
                cur.defects.append(errors.InvalidHeaderDefect("Missing header name."))
                continue
            lastvalue = [line]
        if lastvalue:
            fields.append(_field(lastvalue))


# Where parse_headers keeps the raw value of a part's first Content-Type field (None: there is none); a part it did
# not read has no such key.
TYPE_FIELD_KEY = "_maild_type_field"
_UNKNOWN = object()


def type_field(msg: Message) -> object:
    """The raw value of the first Content-Type field (a str, or a Header for a Message built otherwise), None when
    there is none."""
    value = msg.__dict__.get(TYPE_FIELD_KEY, _UNKNOWN)
    if value is not _UNKNOWN:
        return value
    for name, field in msg._headers:  # type: ignore[attr-defined]
        if name.lower() == "content-type":
            return field
    return None


def _content_type(msg: Message) -> str:
    """msg.get_content_type(), reading the first Content-Type field without compat32's fetch machinery when it is ASCII."""
    value = type_field(msg)
    if value is None:
        return msg.get_default_type()
    if not isinstance(value, str) or not value.isascii():  # compat32 hands raw 8-bit values out as Header objects: let it
        return msg.get_content_type()
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


PARAMS_KEY = "_maild_params"  # where content_params keeps a part's Content-Type parameters


def content_params(msg: Message) -> list[tuple[str, str]] | None:
    """The first Content-Type field's parameters as (name, value) pairs in order, each value what
    ``msg.get_param(name)`` returns for the first pair of that name; the first pair is the type itself. None
    when there is no such field, or when its value needs the stdlib's own reading (8-bit text, RFC 2231 ``*``
    parameters, backslash escapes): there the caller asks ``msg.get_param``.

    ``get_param`` goes through compat32's header fetch, ``_parseparam``, ``decode_params`` and a quote and
    unquote of every value each time it is asked (the boundary, each text part's charset, the report type):
    about 5% of a report's parse. Without ``*`` and backslashes those steps come down to the split below
    (the quote and unquote round trip is the identity on a value without backslashes), kept on the part.
    """
    cached: list[tuple[str, str]] | None = msg.__dict__.get(PARAMS_KEY)
    if cached is not None:
        return cached
    value = type_field(msg)
    if not isinstance(value, str) or not value.isascii() or "*" in value or "\\" in value:
        return None
    pairs: list[tuple[str, str]] = []
    s = ";" + value
    while s[:1] == ";":  # email.message._parseparam, then _get_params_preserve's split
        s = s[1:]
        end = s.find(";")
        while end > 0 and s.count('"', 0, end) % 2:  # no backslash: no escaped quote to discount
            end = s.find(";", end + 1)
        if end < 0:
            end = len(s)
        f = s[:end]
        key, eq, val = f.partition("=")
        if eq:
            pairs.append((key.strip().lower(), unquote(val.strip())))
        else:
            pairs.append((f.strip(), ""))
        s = s[end:]
    # get_param unquotes the type's own pair (decode_params leaves it) and each parameter's quoted-again value alike.
    msg.__dict__[PARAMS_KEY] = pairs
    return pairs


def boundary_of(msg: Message) -> str | None:
    """msg.get_boundary()."""
    pairs = content_params(msg)
    if pairs is None:
        return msg.get_boundary()
    for name, value in pairs:
        if name.lower() == "boundary":
            return unquote(value).rstrip()  # get_boundary's collapse_rfc2231_value unquotes once more
    return None


def _field(lines: list[str]) -> tuple[str, str]:
    """compat32's header_source_parse."""
    name, _, value = lines[0].partition(":")
    if len(lines) == 1:
        return name, value.lstrip(" \t").rstrip("\r\n")
    return name, (value.lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n")


def parse_bytes(raw: bytes) -> Message:
    """What email.message_from_bytes(raw, policy=compat32) returns (RecursionError on nesting too deep, as there)."""
    return parse_text(raw.decode("ascii", "surrogateescape"))


def parse_head(raw: bytes) -> Message:
    """The top header block of `raw` as `email.parser.BytesHeaderParser(policy=compat32).parsebytes(raw)` reads it:
    the same fields, unixfrom and header defects, and no payload (what follows the block is not read)."""
    parser = _Parser(raw.decode("ascii", "surrogateescape"))
    msg = parser.new_message()
    parser.read_headers(msg)
    return msg


def parse_text(text: str) -> Message:
    """What email.message_from_string(text, policy=compat32) returns."""
    parser = _Parser(text)
    parser.parse()
    root = parser.pop_message()
    if root.__dict__[CTYPE_KEY].startswith("multipart/") and not root.is_multipart():
        _defect(root, errors.MultipartInvariantViolationDefect())
    return root
