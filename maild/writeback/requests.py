"""Per product, the HTTP calls that write one outbox item into the helpdesk; pure (item and target in, requests out).

Every text maild writes starts with `MARK`, and intake never tracks a message
whose body carries it: a note or follow-up that makes the helpdesk send mail
(GLPI notifies technicians of follow-ups) never becomes tracked mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maild.config import WritebackTarget
from maild.writeback.outbox import Item, mode_of

MARK = "maild write-back"

_WORDS = {
    "delivered": "delivered",
    "read": "read",
    "declined": "declined to send a read receipt",
    "deleted_unread": "deleted unread",
    "bounced": "bounced",
    "failed": "delivery failed",
}


class Unusable(Exception):
    """The item lacks what this helpdesk's API needs (e.g. no Zammad ticket id in the mail): never retried."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # appended to the target's base URL
    json: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    session: bool = False  # GLPI: needs the Session-Token of initSession


def sentence(item: Item) -> str:
    when = f" at {item.at}" if item.at else ""
    return f"{MARK}: {item.address} {_WORDS.get(item.state, item.state)}{when}"


def field_value(item: Item) -> str:
    """RT's custom field: every recipient of the ticket with its state, one line, idempotent to rewrite."""
    parts = [f"{address} {state}" + (f" {at}" if at else "") for address, state, at in item.summary]
    return "; ".join(parts)[:4000] or f"{item.address} {item.state}"


def _number(value: str | None, what: str) -> int:
    if value is None or not value.isdigit():
        raise Unusable(f"no {what} in the mail")
    return int(value)


def plan(target: WritebackTarget, item: Item) -> list[Request]:
    mode = mode_of(target)
    if target.kind == "rt":
        ticket = _number(item.ticket, "RT ticket number")
        return [Request("PUT", f"/REST/2.0/ticket/{ticket}", {"CustomFields": {target.field: field_value(item)}})]
    if target.kind == "zammad":
        ticket_id = _number(item.ids.get("zammad_ticket_id"), "Zammad ticket id (Message-ID)")
        out = []
        if "note" in mode:
            out.append(Request("POST", "/api/v1/ticket_articles", {
                "ticket_id": ticket_id, "type": "note", "internal": True, "content_type": "text/plain",
                "subject": f"{MARK}: {item.state}", "body": sentence(item),
            }))
        if "tag" in mode:
            out.append(Request("POST", "/api/v1/tags/add", {"object": "Ticket", "o_id": ticket_id, "item": f"maild-{item.state}"}))
        return out
    if target.kind == "freescout":
        conversation = _number(item.ids.get("conversation") or item.ticket, "FreeScout conversation id")
        if mode == "indicator":
            thread = _number(item.ids.get("thread"), "FreeScout thread id")
            return [Request("GET", f"/thread/read/{conversation}/{thread}")]
        return [Request("POST", f"/api/conversations/{conversation}/threads",
                        {"type": "note", "text": sentence(item), "user": target.user_id})]
    if target.kind == "glpi":
        items_id = _number(item.ids.get("items_id") or item.ticket, "GLPI item id")
        itemtype = item.ids.get("itemtype", "Ticket")
        if not itemtype.isalpha():
            raise Unusable("GLPI itemtype is not a class name")
        return [Request("POST", f"/apirest.php/{itemtype}/{items_id}/ITILFollowup", {
            "input": {"itemtype": itemtype, "items_id": items_id, "content": sentence(item), "is_private": 1},
        }, session=True)]
    raise Unusable(f"unknown kind {target.kind}")


def auth_headers(target: WritebackTarget, token: str | None, app_token: str | None = None) -> dict[str, str]:
    """The header each product reads its API token from."""
    if token is None:
        return {}
    if target.kind == "rt":
        return {"Authorization": f"token {token}"}
    if target.kind == "zammad":
        return {"Authorization": f"Token token={token}"}
    if target.kind == "freescout":
        return {"X-FreeScout-API-Key": token}
    return {"App-Token": app_token or "", "Authorization": f"user_token {token}"}  # glpi initSession
