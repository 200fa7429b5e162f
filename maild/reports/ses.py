"""Amazon SES notifications in JSON (bounces and complaints), bare or wrapped in an SNS envelope."""

from __future__ import annotations

import json
import re

from maild.core.lazyre import lazy
from maild.core.reasons import Reason
from maild.core.reason_rules import reason_for
from maild.reports.context import Context, Finding
from maild.reports.dsn import action_of, status_of
from maild.reports.fields import address_of
from maild.reports.model import RecipientResult, ReportKind

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

_NOTIFICATION = lazy(r"\\?\"notificationType\\?\"\s*:\s*\\?\"(Bounce|Complaint)")


def detect(ctx: Context) -> Finding | None:
    text = ctx.body_text
    if "notificationType" not in text or not _NOTIFICATION.search(text):
        return None
    data = _json_object(text)
    # SNS delivers the SES notification as a JSON string inside its own envelope.
    inner = data.get("Message")
    if isinstance(inner, str) and "notificationType" in inner:
        data = _json_object(inner)
    kind = data.get("notificationType")
    mail = data.get("mail")
    mail = mail if isinstance(mail, dict) else {}
    msgid = mail.get("messageId")
    original = f"<{msgid}>" if isinstance(msgid, str) and msgid else None
    if kind == "Complaint" and isinstance(data.get("complaint"), dict):
        complaint = data["complaint"]
        rcpts = [address_of(str(r.get("emailAddress", ""))) for r in complaint.get("complainedRecipients", []) if isinstance(r, dict)]
        return Finding(
            kind=ReportKind.ARF,
            recipients=[_complaint(a, complaint.get("complaintFeedbackType")) for a in rcpts if a],
            reporting_ua=complaint.get("userAgent"),
            original_message_id=original,
        )
    if kind == "Bounce" and isinstance(data.get("bounce"), dict):
        bounce = data["bounce"]
        transient = str(bounce.get("bounceType", "")).lower() == "transient"
        recipients = [_bounced(r, transient) for r in bounce.get("bouncedRecipients", []) if isinstance(r, dict)]
        return Finding(
            kind=ReportKind.BOUNCE,
            recipients=[r for r in recipients if r.address],
            reporting_mta=str(bounce.get("reportingMTA") or "").partition(";")[2].strip() or None,
            original_message_id=original,
        )
    return None


def _complaint(address: str, diagnostic: str | None) -> RecipientResult:
    return RecipientResult(
        address=address, original_recipient=None, action=None, status=None, reason=Reason.FEEDBACK, hard=False,
        diagnostic=diagnostic, remote_mta=None, disposition=None,
    )


def _bounced(entry: dict[str, Any], transient: bool) -> RecipientResult:
    diagnostic = str(entry.get("diagnosticCode") or "").partition(";")[2].strip() or str(entry.get("diagnosticCode") or "") or None
    status = status_of(str(entry.get("status") or ""), diagnostic)
    action = "delayed" if transient else action_of(str(entry.get("action") or ""), status) or "failed"
    reason, hard = reason_for(status, diagnostic)
    return RecipientResult(
        address=address_of(str(entry.get("emailAddress", ""))), original_recipient=None, action=action, status=status,
        reason=reason, hard=hard and action == "failed", diagnostic=diagnostic, remote_mta=None, disposition=None,
    )


def _json_object(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        return {}
    # Mail gateways wrap long lines (SNS marks its wraps with "!"); undo them before decoding.
    candidate = re.sub(r"!?\r?\n ?", "", text[start:])
    try:
        obj, _ = json.JSONDecoder().raw_decode(candidate)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
