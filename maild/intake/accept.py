"""From received bytes to a `Submission` ready for the spool: one path for the SMTP intake and for maild-sendmail."""

from __future__ import annotations

from datetime import datetime

from maild.config import TrackingSettings
from maild.intake.incoming import Incoming, read_incoming
from maild.spool import Submission, new_queue_id


def build_submission(
    raw: bytes, sender: str, recipients: list[str], tracking: TrackingSettings, *, peer: str, received_at: datetime
) -> tuple[Submission, Incoming]:
    queue_id = new_queue_id()
    domain = tracking.return_path.rpartition("@")[2]
    c = read_incoming(
        raw, sender, recipients, tracking, fallback_message_id=f"<{queue_id}.{int(received_at.timestamp())}@{domain}>"
    )
    return submission_of(c, queue_id=queue_id, sender=sender, received_at=received_at, peer=peer), c


def submission_of(c: Incoming, *, queue_id: str, sender: str, received_at: datetime, peer: str) -> Submission:
    """The spool's record of a classified message: one shape for the SMTP intake and for maild-sendmail."""
    return Submission(
        queue_id=queue_id,
        sender=sender,
        recipients=c.recipients,
        headers=c.headers,
        body=c.body,
        received_at=received_at,
        peer=peer,
        ticket=c.ticket,
        department=c.department,
        message_id=c.message_id,
        subject=c.subject,
        tracked=c.tracked,
        helpdesk=c.preset,
        helpdesk_ids=c.ids,
    )
