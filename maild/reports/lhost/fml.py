"""fml 4's notices (kern/fml.pl): a posting the list refused (not a member) or dropped as a loop, the list address bounced.

fml writes every notice through its own SMTP library (libsmtputils.pl), with "X-MLServer: fml [fml 4.0.x ...]",
a Message-Id of its own making ("<TIME.FMLPID.LIST>", where a distributed post keeps its author's), From the list's maintainer (the -admin address), References to the message it is about, and the refused or
looping message under "Original mail as follows:". The sentence that names the list is fml's own:

* a post from a non-member (RejectHandler): Subject "You ADDRESS are not member (LIST)", the deny file's text
  "You are not a member of this mailing list <LIST>." (drafts/deny, or its Japanese text "... <LIST> のメンバー
  ではありません"); the poster's address was refused;
* a loop (DupMessageIdP, the X-ML-Info check): Subject "Loop Alert: ...", "Duplicated Message-ID in <LIST>."
  or "fml <LIST> has detected a loop condition"; the list dropped the copy.

fml never queues or retries a posting, so each notice is final. It gives no status code: the refusal takes
the reason table's usual code, a loop RFC 3463's "routing loop detected" (5.4.6).
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.reasons import REASON_TABLE, Reason
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports.context import Context, Finding
from maild.reports.fields import normalize_address
from maild.reports.lhost import blocks
from maild.reports.model import RecipientResult, ReportKind

NAME = "fml"
_MARKER = lazy(r"^[ \t]*original mail as follows:", re.I | re.M)
# The deny text in English and in Japanese (fml's default LANGUAGE; the notice is then ISO-2022-JP).
_NOT_MEMBER = lazy(
    rf"you are not a member of this mailing list <({ADDRESS_PATTERN})>|"
    rf"\u30e1\u30fc\u30ea\u30f3\u30b0\u30ea\u30b9\u30c8\s*<({ADDRESS_PATTERN})>\s*\u306e\u30e1\u30f3\u30d0\u30fc\u3067\u306f\u3042\u308a\u307e\u305b\u3093",
    re.I,
)
_LOOP = lazy(rf"duplicated message-id in <({ADDRESS_PATTERN})>|fml <({ADDRESS_PATTERN})> has detected a loop condition", re.I)
_LOOP_STATUS = "5.4.6"  # RFC 3463: routing loop detected


def matches(ctx: Context) -> bool:
    # A post the list distributes carries X-MLServer too, but keeps its author's Message-ID; fml's own notices
    # have one from GenMessageId, "<TIME.FMLPID.LIST>".
    return (ctx.header("x-mlserver") or "").lstrip().lower().startswith("fml") and ".fml" in (ctx.header("message-id") or "").lower()


def parse(ctx: Context) -> Finding | None:
    text = blocks.before(ctx.body_text[:20000], _MARKER)
    if match := _NOT_MEMBER.search(text):
        return _finding(match.group(1) or match.group(2), Reason.REJECTED, REASON_TABLE[Reason.REJECTED].default_status, match.group(0))
    if match := _LOOP.search(text):
        return _finding(match.group(1) or match.group(2), Reason.SYSTEMERROR, _LOOP_STATUS, match.group(0))
    return None


def _finding(printed: str, reason: Reason, status: str | None, said: str) -> Finding | None:
    address = normalize_address(printed)
    if address is None:
        return None
    result = RecipientResult(
        address=address, original_recipient=None, action="failed", status=status, reason=reason, hard=False,
        diagnostic=said, remote_mta=None, disposition=None,
    )
    return Finding(kind=ReportKind.BOUNCE, recipients=[result])
