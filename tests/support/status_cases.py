"""The table of status cases shared by the pure tests and the SQL-view agreement tests.

Each case: recipients as (address, kind, [(event kind, minute, extra)]),
whether receipts are shown, each recipient's expected state and the reply's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from maild.model import StatusRecord

if TYPE_CHECKING:
    from tests.support.builders import Builder

BOUNCE = StatusRecord(status="5.1.1", reason="userunknown", hard=True, diagnostic="550 5.1.1 user unknown",
                      remote_mta="mx.example.net", reply_code=550, reporting_mta="dsn.example.net")
FAIL = StatusRecord(status="5.7.1", reason="policy", hard=False, diagnostic="554 5.7.1 rejected", reply_code=554)
HUMAN = StatusRecord(action="human")  # a pixel open classified as a person's (maild.readsignals)
MACHINE = StatusRecord(action="machine")
Ev = tuple  # (kind, minute) or (kind, minute, StatusRecord)


@dataclass(frozen=True)
class Case:
    name: str
    recipients: tuple[tuple[str, str, tuple[Ev, ...]], ...]
    states: tuple[str, ...]
    reply: str
    receipts: bool = True
    notes: str = field(default="")


def one(events: tuple[Ev, ...], state: str, reply: str, *, receipts: bool = True, name: str) -> Case:
    return Case(name, (("a@example.net", "to", events),), (state,), reply, receipts)


Q = ("queued", 0)
ACC = ("accepted", 1)

CASES: list[Case] = [
    # ---- one recipient: pending -> delivered -> read, failed
    one((Q,), "queued", "pending", name="queued_only_is_pending"),
    one((Q, ("deferred", 1)), "deferred", "pending", name="deferred_is_pending"),
    one((Q, ACC), "delivered", "delivered", name="accepted_is_delivered"),
    one((Q, ACC, ("delivered", 5)), "delivered", "delivered", name="dsn_delivered_is_delivered"),
    one((Q, ACC, ("relayed", 5)), "delivered", "delivered", name="dsn_relayed_is_delivered"),
    one((Q, ACC, ("expanded", 5)), "delivered", "delivered", name="dsn_expanded_is_delivered"),
    one((Q, ("relayed", 5)), "delivered", "delivered", name="dsn_without_acceptance_is_delivered"),
    one((Q, ACC, ("displayed", 30)), "read", "read", name="read_beats_delivered"),
    one((Q, ACC, ("displayed", 30)), "delivered", "delivered", receipts=False, name="read_hidden_when_receipts_off"),
    one((Q, ACC, ("bounced", 10, BOUNCE)), "bounced", "failed", name="bounce_after_acceptance_beats_it"),
    one((Q, ("failed", 1, FAIL)), "failed", "failed", name="smtp_failure_is_failed"),
    one((Q, ("deferred", 1), ("failed", 60, FAIL)), "failed", "failed", name="failure_after_deferral"),
    one((Q, ACC, ("delayed", 10)), "delayed", "pending", name="delay_after_acceptance_is_delayed"),
    one((Q, ACC, ("delayed", 10), ("delivered", 20)), "delivered", "delivered", name="later_delivery_clears_delay"),
    one((Q, ACC, ("delivered", 20), ("delayed", 30)), "delivered", "delivered", name="final_dsn_not_undone_by_delay"),
    one((Q, ACC, ("delivered", 5), ("bounced", 20, BOUNCE)), "bounced", "failed", name="bounce_after_delivered_dsn"),
    one((Q, ACC, ("bounced", 5, BOUNCE), ("delivered", 20)), "bounced", "failed", name="failure_is_sticky"),
    one((Q, ACC, ("denied", 30)), "declined", "delivered", name="denied_mdn_is_declined"),
    one((Q, ACC, ("denied", 30)), "delivered", "delivered", receipts=False, name="declined_hidden_when_receipts_off"),
    one((Q, ACC, ("deleted", 30)), "deleted_unread", "delivered", name="deleted_mdn_is_deleted_unread"),
    one((Q, ACC, ("displayed", 30), ("deleted", 40)), "read", "read", name="read_then_deleted_stays_read"),
    one((Q, ACC, ("deleted", 30), ("denied", 40)), "declined", "delivered", name="latest_of_denied_deleted_counts"),
    one((Q, ACC, ("dispatched", 30)), "delivered", "delivered", name="dispatched_mdn_is_not_read"),
    one((Q, ACC, ("displayed", 30), ("bounced", 40, BOUNCE)), "read", "read", name="edge_bounce_after_read_stays_read"),
    one((Q, ACC, ("displayed", 30), ("bounced", 40, BOUNCE)), "bounced", "failed", receipts=False,
        name="edge_bounce_after_read_receipts_off_is_bounced"),
    # ---- read signals beyond MDNs (maild/readsignals.py): replies and pixel opens
    one((Q, ACC, ("replied", 40)), "read", "read", name="reply_is_read"),
    one((Q, ACC, ("replied", 40)), "delivered", "delivered", receipts=False, name="reply_hidden_when_receipts_off"),
    one((Q, ACC, ("denied", 30), ("replied", 40)), "read", "read", name="reply_overturns_declined"),
    one((Q, ACC, ("replied", 20), ("denied", 30)), "read", "read", name="declined_after_reply_stays_read"),
    one((Q, ACC, ("deleted", 30), ("replied", 40)), "read", "read", name="reply_overturns_deleted_unread"),
    one((Q, ACC, ("bounced", 10, BOUNCE), ("replied", 40)), "read", "read", name="reply_after_bounce_is_read"),
    one((Q, ACC, ("opened", 10, HUMAN)), "read", "read", name="human_pixel_open_is_read"),
    one((Q, ACC, ("opened", 10, MACHINE)), "delivered", "delivered", name="machine_pixel_open_is_not_read"),
    one((Q, ACC, ("opened", 10, HUMAN)), "delivered", "delivered", receipts=False, name="pixel_hidden_when_receipts_off"),
    one((Q, ACC, ("denied", 30), ("opened", 40, HUMAN)), "declined", "delivered", name="pixel_never_overturns_declined"),
    one((Q, ACC, ("opened", 5, HUMAN), ("denied", 30)), "declined", "delivered", name="declined_beats_earlier_pixel"),
    one((Q, ACC, ("opened", 5, HUMAN), ("displayed", 30)), "read", "read", name="pixel_before_mdn_is_read"),
    # time order, not recording order: a deferral dated before the acceptance but recorded after it
    one((Q, ("accepted", 20), ("deferred", 10)), "delivered", "delivered", name="events_ordered_by_time"),
    # ---- several recipients
    Case("multi_nothing_yet_is_pending",
         (("a@example.net", "to", (Q,)), ("b@example.net", "cc", (Q,))), ("queued", "queued"), "pending"),
    Case("multi_delivered_to_a_to",
         (("a@example.net", "to", (Q, ACC)), ("b@example.net", "cc", (Q,))), ("delivered", "queued"), "delivered"),
    Case("multi_delivered_to_a_cc",
         (("a@example.net", "to", (Q, ("deferred", 1))), ("b@example.net", "cc", (Q, ACC))),
         ("deferred", "delivered"), "delivered"),
    Case("multi_delivered_to_bcc_only_does_not_count",
         (("a@example.net", "to", (Q,)), ("c@example.net", "bcc", (Q, ACC))), ("queued", "delivered"), "pending"),
    Case("multi_read_by_cc",
         (("a@example.net", "to", (Q, ACC)), ("b@example.net", "cc", (Q, ACC, ("displayed", 9)))),
         ("delivered", "read"), "read_by_cc"),
    Case("multi_read_by_bcc_counts_as_cc",
         (("a@example.net", "to", (Q, ACC)), ("c@example.net", "bcc", (Q, ACC, ("displayed", 9)))),
         ("delivered", "read"), "read_by_cc"),
    Case("multi_read_by_to",
         (("a@example.net", "to", (Q, ACC, ("displayed", 9))), ("b@example.net", "cc", (Q, ACC))),
         ("read", "delivered"), "read_by_to"),
    Case("multi_read_by_to_and_cc_not_all",
         (("a@example.net", "to", (Q, ACC, ("displayed", 9))), ("b@example.net", "cc", (Q, ACC, ("displayed", 8))),
          ("c@example.net", "bcc", (Q, ACC))),
         ("read", "read", "delivered"), "read_by_to"),
    Case("multi_read_by_everyone",
         (("a@example.net", "to", (Q, ACC, ("displayed", 9))), ("b@example.net", "cc", (Q, ACC, ("displayed", 8))),
          ("c@example.net", "bcc", (Q, ACC, ("displayed", 7)))),
         ("read", "read", "read"), "read"),
    Case("multi_read_by_everyone_receipts_off",
         (("a@example.net", "to", (Q, ACC, ("displayed", 9))), ("b@example.net", "cc", (Q, ACC, ("displayed", 8)))),
         ("delivered", "delivered"), "delivered", receipts=False),
    Case("multi_all_failed_is_failed",
         (("a@example.net", "to", (Q, ("failed", 1, FAIL))), ("b@example.net", "cc", (Q, ACC, ("bounced", 9, BOUNCE)))),
         ("failed", "bounced"), "failed"),
    Case("multi_partial_failure_is_not_failed",
         (("a@example.net", "to", (Q, ("failed", 1, FAIL))), ("b@example.net", "cc", (Q, ACC))),
         ("failed", "delivered"), "delivered"),
    Case("edge_one_failed_one_read_is_not_read_by_everyone",
         (("a@example.net", "to", (Q, ("failed", 1, FAIL))), ("b@example.net", "cc", (Q, ACC, ("displayed", 9)))),
         ("failed", "read"), "read_by_cc"),
    Case("edge_one_failed_one_read_to",
         (("a@example.net", "to", (Q, ACC, ("displayed", 9))), ("b@example.net", "cc", (Q, ("failed", 1, FAIL)))),
         ("read", "failed"), "read_by_to"),
    Case("edge_only_bcc_delivered_counts",
         (("c@example.net", "bcc", (Q, ACC)), ("d@example.net", "bcc", (Q,))), ("delivered", "queued"), "delivered"),
    Case("edge_only_bcc_read_is_read_by_cc",
         (("c@example.net", "bcc", (Q, ACC, ("displayed", 9))), ("d@example.net", "bcc", (Q, ACC))),
         ("read", "delivered"), "read_by_cc"),
    Case("edge_only_bcc_all_read_is_read",
         (("c@example.net", "bcc", (Q, ACC, ("displayed", 9))), ("d@example.net", "bcc", (Q, ACC, ("displayed", 9)))),
         ("read", "read"), "read"),
    Case("edge_single_bcc_follows_single_rule",
         (("c@example.net", "bcc", (Q, ACC, ("displayed", 9))),), ("read",), "read"),
    Case("multi_reply_by_cc_is_read_by_cc",
         (("a@example.net", "to", (Q, ACC)), ("b@example.net", "cc", (Q, ACC, ("replied", 9)))),
         ("delivered", "read"), "read_by_cc"),
    Case("multi_reply_by_to_and_mdn_by_cc_is_read",
         (("a@example.net", "to", (Q, ACC, ("replied", 9))), ("b@example.net", "cc", (Q, ACC, ("displayed", 8)))),
         ("read", "read"), "read"),
    Case("multi_delayed_is_not_delivered",
         (("a@example.net", "to", (Q, ACC, ("delayed", 5))), ("b@example.net", "cc", (Q,))),
         ("delayed", "queued"), "pending"),
    Case("multi_declined_counts_as_delivered",
         (("a@example.net", "to", (Q, ACC, ("denied", 5))), ("b@example.net", "cc", (Q,))),
         ("declined", "queued"), "delivered"),
    Case("edge_bounced_after_reading_among_several",
         (("a@example.net", "to", (Q, ACC, ("displayed", 5), ("bounced", 9, BOUNCE))),
          ("b@example.net", "cc", (Q, ("failed", 1, FAIL)))),
         ("read", "failed"), "read_by_to"),
]


def load_cases(b: Builder) -> None:
    """Every case as one ticket (its number, from 1) in b's database; receipts-off cases go to the Legal department."""
    b.receipts("Legal", False)
    for n, case in enumerate(CASES, start=1):
        reply = b.reply(str(n), [(a, k) for a, k, _ in case.recipients],
                        department="Billing" if case.receipts else "Legal")
        for address, _kind, evs in case.recipients:
            for kind, minute, *extra in evs:
                if kind != "queued":  # enqueue recorded it
                    b.event(reply, address, kind, minute, extra[0] if extra else StatusRecord())
