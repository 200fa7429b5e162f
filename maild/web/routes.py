"""The panel's pages: each handler reads through maild.queries, turns the result into view models, renders a template."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from collections.abc import Callable
from urllib.parse import quote, urlencode

import sqlite_utils
from aiohttp import web

from maild import clock, departments, logs, queries, queue
from maild.receipts import quarantine
from maild.receipts.ingest import IngestOutcome, ingest_report, parse_safely
from maild.web import views
from maild.web.app import (
    COOKIE,
    LOGIN_COOKIE,
    PANEL,
    Panel,
    admin_only,
    current,
    embed_check,
    error_page,
    html,
    is_https,
    new_login_token,
    set_session_cookie,
)
from maild.web.embed import EmbedCheck
from maild.web.render import render
from maild.web.users import load_users, verify

log = logs.get("web")

PAGE = 50
TICKET_PAGE = 100  # replies of one ticket per page; a longer thread has "Later replies"
EMBED_PAGE = 100  # the compact embed shows a ticket's first replies (it has no paging of its own)
STATIC = Path(__file__).parent / "static"
QUEUE_ACTIONS = {
    "retry": ("Retry now", "Every recipient not yet delivered is tried again right away."),
    "hold": ("Hold", "No delivery attempts are made until the message is released."),
    "release": ("Release", "Delivery attempts start again."),
    "delete": (
        "Delete",
        (
            "Every recipient not yet delivered is marked failed (\u201cremoved from the queue by an administrator\u201d) "
            "and the message body is dropped. This cannot be undone."
        ),
    ),
}


def _panel(request: web.Request) -> Panel:
    return request.app[PANEL]


def _default(panel: Panel) -> bool:
    return panel.settings.tracking.receipts_default


def _page(request: web.Request, template: str, active: str, **context: object) -> web.Response:
    session = current(request)
    return html(render(template, session=session, active=active, **context))


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


# ------------------------------------------------------------------ login


async def login_form(request: web.Request, *, message: str = "", status: int = 200) -> web.Response:
    token = new_login_token()
    body = render(
        "login.html", session=None, active="", message=message, token=token,
        next=_safe_next(request.query.get("next")),
    )
    response = html(body, status=status)
    response.set_cookie(LOGIN_COOKIE, token, path="/ui/login", httponly=True, samesite="Strict", secure=is_https(request))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    panel = _panel(request)
    form = await request.post()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    token = str(form.get("csrf", ""))
    if not token or token != request.cookies.get(LOGIN_COOKIE):
        return await login_form(request, message="The login form expired: try again.", status=403)
    peer = request.remote or "?"
    now = panel.clock()
    wait = panel.throttle.wait(name, peer, now)
    if wait > 0:
        log.warning("web_login_throttled", peer=peer, wait=round(wait, 1))
        return await login_form(request, message=f"Too many failed logins: wait {int(wait) + 1} seconds.", status=429)
    users = await asyncio.to_thread(load_users, panel.settings.web.users_file)
    user = await asyncio.to_thread(verify, users, name, password)
    if user is None:
        panel.throttle.failed(name, peer, now)
        log.warning("web_login_failed", peer=peer)  # never the name typed: it may be a password
        return await login_form(request, message="Wrong user name or password.", status=401)
    panel.throttle.succeeded(name, peer)
    session = panel.sessions.create(user.name, user.role, now)
    log.info("web_login", user=user.name, role=str(user.role), peer=peer)
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    set_session_cookie(request, response, session.id)
    response.del_cookie(LOGIN_COOKIE, path="/ui/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    panel = _panel(request)
    session = current(request)
    panel.sessions.end(session.id)
    log.info("web_logout", user=session.user)
    response = web.HTTPSeeOther("/ui/login")
    response.del_cookie(COOKIE, path="/ui")
    raise response


# ------------------------------------------------------------------ replies and tickets


async def replies(request: web.Request) -> web.Response:
    panel = _panel(request)
    search = request.query.get("q", "")[:200]
    raw_before = request.query.get("before", "")
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 19 else None
    page = await panel.store.read(
        lambda db: queries.list_replies(db, search=search, before=before, limit=PAGE)
    )
    older = None
    if page.more and page.rows:
        older = "/ui/?" + urlencode({k: v for k, v in (("q", search), ("before", str(page.rows[-1].id))) if v})
    return _page(
        request, "replies.html", "replies", replies=views.reply_list(page.rows), search=search, older=older,
        newest="/ui/?" + urlencode({"q": search}) if before is not None else None,
        live_ticket="", live_version=panel.live.version(None) if panel.live else 0,
    )


async def ticket(request: web.Request) -> web.Response:
    panel = _panel(request)
    number = request.match_info["ticket"]
    raw_after = request.query.get("after", "")
    after = int(raw_after) if raw_after.isascii() and raw_after.isdigit() and len(raw_after) < 19 else 0
    found = await _ticket_view(panel, number, after=after, limit=TICKET_PAGE)
    if found is None:
        return error_page(request, 404, f"maild has no reply of ticket {number}.")
    view, next_after = found
    here = "/ui/tickets/" + quote(number, safe="")
    return _page(
        request, "ticket.html", "replies", ticket=view, live_ticket=number,
        live_version=panel.live.version(number) if panel.live else 0,
        later=f"{here}?after={next_after}" if next_after is not None else None,
        first=here if after else None,
    )


async def _ticket_view(
    panel: Panel, number: str, *, after: int = 0, limit: int | None = None
) -> tuple[views.TicketView, int | None] | None:
    """A page of a ticket's replies as the panel shows them, and the cursor of the next page (None: no more)."""

    def read(db: sqlite_utils.Database) -> tuple[views.TicketView, int | None] | None:  # one read: all agree
        page = queries.load_thread_page(db, number, after=after, limit=limit)
        if page is None:
            return None
        return views.ticket_view(page.info, queries.thread_timelines(db, number, page.message_ids)), page.next_after

    result: tuple[views.TicketView, int | None] | None = await panel.store.read(read)
    return result


async def embedded(request: web.Request) -> web.Response:
    panel = _panel(request)
    number = request.match_info["ticket"]
    verdict = embed_check(panel, number, request)
    if verdict != EmbedCheck.OK:
        log.warning("web_embed_refused", ticket=number, why=str(verdict), peer=request.remote)
        text = "This link has expired." if verdict == EmbedCheck.EXPIRED else "This link is not valid."
        return error_page(request, 403, text)
    found = await _ticket_view(panel, number, limit=EMBED_PAGE)
    if found is None:
        return error_page(request, 404, f"maild has no reply of ticket {number}.")
    view, _ = found
    live_url = "/ui/embed/" + quote(number, safe="") + "/live?" + urlencode(
        {"exp": request.query.get("exp", ""), "sig": request.query.get("sig", "")}
    )
    return html(render("embed.html", ticket=view, live_ticket=number, live_url=live_url,
                       live_version=panel.live.version(number) if panel.live else 0))


async def embedded_live(request: web.Request) -> web.StreamResponse:
    """The embed page's server-sent events: the shared live reader, allowed by the link's own signature."""
    panel = _panel(request)
    number = request.match_info["ticket"]
    verdict = embed_check(panel, number, request)
    if verdict != EmbedCheck.OK:
        log.warning("web_embed_refused", ticket=number, why=str(verdict), peer=request.remote, live=True)
        return error_page(request, 403, "This link has expired." if verdict == EmbedCheck.EXPIRED
                          else "This link is not valid.")
    expires = float(request.query.get("exp", "0"))
    return await _stream(request, panel, number, until=lambda: panel.wall() >= expires)


async def live(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `data: VERSION` whenever the page's ticket (or any, for lists) got a new event."""
    return await _stream(request, _panel(request), request.query.get("ticket") or None)


async def _stream(
    request: web.Request, panel: Panel, number: str | None, *, until: Callable[[], bool] = lambda: False
) -> web.StreamResponse:
    """One page's event stream from the shared LiveHub; ends with the hub, or when `until()` (an expired link)."""
    hub = panel.live
    if hub is None:
        raise web.HTTPNotFound()
    raw = request.query.get("since", "0")
    seen = int(raw) if raw.isdigit() and len(raw) < 19 else 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    from maild.web.app import security_headers

    security_headers(response)
    await response.prepare(request)
    hub.listeners += 1
    try:
        await response.write(b"retry: 3000\n\n")
        while not hub.closed and not until():
            version = await hub.wait_change(number, seen, timeout=25.0)
            if version > seen:
                seen = version
                await response.write(f"data: {version}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.listeners -= 1
    return response


# ------------------------------------------------------------------ departments


@admin_only
async def departments_page(request: web.Request) -> web.Response:
    panel = _panel(request)
    configured = set(panel.settings.tracking.sender_departments.values())
    rows, pixel = await panel.store.read(
        lambda db: (queries.department_overview(db, configured=configured),
                    departments.pixel_switches(db))
    )
    return _page(request, "departments.html", "departments", departments=views.department_views(rows, pixel),
                 default=_default(panel), flash=request.query.get("done", "")[:200])


@admin_only
async def department_switch(request: web.Request) -> web.StreamResponse:
    panel = _panel(request)
    form = await request.post()
    name = str(form.get("department", "")).strip()
    enabled = str(form.get("receipts", "")) == "on"
    if not name:
        return error_page(request, 400, "No department named.")
    user = current(request).user
    dept = await panel.store.write(
        lambda db: departments.set_receipts(db, name, enabled, clock.now(), by=user, via="web")
    )
    log.info("department_receipts_switched", department=dept.name, receipts_enabled=dept.receipts_enabled,
             by=user, via="web")
    if panel.live is not None:
        await panel.live.bump()  # open pages of that department show or hide read information now
    state = "on" if dept.receipts_enabled else "off"
    raise web.HTTPSeeOther("/ui/departments?" + urlencode({"done": f"{dept.name}: read receipts {state}"}))


# ------------------------------------------------------------------ queue and quarantine


@admin_only
async def queue_page(request: web.Request) -> web.Response:
    panel = _panel(request)
    show_all = request.query.get("all") == "1"
    entries = await panel.store.read(lambda db: queue.list_entries(db, include_finished=show_all))
    return _page(request, "queue.html", "queue", entries=entries[-500:], total=len(entries), show_all=show_all,
                 flash=request.query.get("done", "")[:200], actions=QUEUE_ACTIONS)


@admin_only
async def queue_confirm(request: web.Request) -> web.Response:
    panel = _panel(request)
    queue_id, action = request.match_info["queue_id"], request.match_info["action"]
    if action not in QUEUE_ACTIONS:
        return error_page(request, 404, "No such action.")
    try:
        entry, _ = await panel.store.read(lambda db: queue.show(db, queue_id))
    except queue.UnknownMessage:
        return error_page(request, 404, f"No message {queue_id} in the queue.")
    label, meaning = QUEUE_ACTIONS[action]
    return _page(request, "confirm.html", "queue", entry=entry, action=action, label=label, meaning=meaning)


@admin_only
async def queue_action(request: web.Request) -> web.StreamResponse:
    panel = _panel(request)
    queue_id, action = request.match_info["queue_id"], request.match_info["action"]
    form = await request.post()
    if action not in QUEUE_ACTIONS:
        return error_page(request, 404, "No such action.")
    if form.get("confirm") != "yes":  # the confirmation page's own button: nothing happens without it
        raise web.HTTPSeeOther(f"/ui/queue/{queue_id}/{action}")
    now = clock.now()
    try:
        if action == "retry":
            n = await panel.store.write(lambda db: queue.retry(db, queue_id, now))
            done = f"{queue_id}: {n} recipient(s) will be tried again now"
        elif action in ("hold", "release"):
            changed = await panel.store.write(lambda db: queue.set_held(db, queue_id, action == "hold"))
            done = f"{queue_id}: {'held' if action == 'hold' else 'released'}" + ("" if changed else " (already)")
        else:
            n = await panel.store.write(lambda db: queue.delete(db, queue_id, now))
            done = f"{queue_id}: deleted, {n} recipient(s) marked failed"
    except queue.UnknownMessage:
        return error_page(request, 404, f"No message {queue_id} in the queue.")
    log.info("queue_action", action=action, queue_id=queue_id, by=current(request).user, via="web")
    if panel.on_queue_change is not None:
        panel.on_queue_change()
    raise web.HTTPSeeOther("/ui/queue?" + urlencode({"done": done}))


@admin_only
async def quarantine_page(request: web.Request) -> web.Response:
    panel = _panel(request)
    show_all = request.query.get("all") == "1"
    items = await panel.store.read(lambda db: quarantine.items(db, include_released=show_all, limit=500))
    rows = [(i, json.dumps(i.detail, ensure_ascii=False, sort_keys=True)[:500]) for i in items]
    return _page(request, "quarantine.html", "quarantine", items=rows, show_all=show_all,
                 flash=request.query.get("done", "")[:200])


def _item_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


async def _quarantined(panel: Panel, raw_id: str) -> tuple[quarantine.QuarantineItem, bytes] | None:
    item_id = _item_id(raw_id)
    if item_id is None:
        return None
    found: tuple[quarantine.QuarantineItem, bytes] | None = await panel.store.read(lambda db: quarantine.get(db, item_id))
    return found


@admin_only
async def quarantine_confirm(request: web.Request) -> web.Response:
    panel = _panel(request)
    raw_id, action = request.match_info["item"], request.match_info["action"]
    if action not in ("retry", "delete"):
        return error_page(request, 404, "No such action.")
    found = await _quarantined(panel, raw_id)
    if found is None:
        return error_page(request, 404, f"No quarantine item {raw_id}.")
    return _page(request, "quarantine_confirm.html", "quarantine", item=found[0], action=action)


@admin_only
async def quarantine_delete(request: web.Request) -> web.StreamResponse:
    """Drop one held report and its raw bytes for good, as `maild quarantine delete ID` does; logged with who."""
    panel = _panel(request)
    raw_id = request.match_info["item"]
    form = await request.post()
    if form.get("confirm") != "yes":  # only the confirmation page's own button deletes
        raise web.HTTPSeeOther(f"/ui/quarantine/{raw_id}/delete")
    item_id = _item_id(raw_id)
    shown = str(form.get("fingerprint", ""))  # the report the confirmation page showed, not whatever has its id now
    gone = None if item_id is None or not shown else await panel.store.write(
        lambda db: quarantine.delete(db, item_id, fingerprint=shown)
    )
    if gone is None:
        return error_page(request, 404, f"No quarantine item {raw_id} (holding the report you confirmed).")
    log.info("quarantine_deleted", id=gone.id, reason=str(gone.reason), state=str(gone.state),
             by=current(request).user, via="web")
    raise web.HTTPSeeOther("/ui/quarantine?" + urlencode({"done": f"{gone.id}: deleted"}))


@admin_only
async def quarantine_retry(request: web.Request) -> web.StreamResponse:
    """Run one held report through ingest again, as `maild quarantine retry ID` does; it stays held if it still fails."""
    panel = _panel(request)
    raw_id = request.match_info["item"]
    form = await request.post()
    if form.get("confirm") != "yes":
        raise web.HTTPSeeOther(f"/ui/quarantine/{raw_id}/retry")
    ingestor = panel.ingestor
    if ingestor is None:
        return error_page(request, 503, "Retries run in the daemon: use `maild quarantine retry ID` here.")
    found = await _quarantined(panel, raw_id)
    if found is None:
        return error_page(request, 404, f"No quarantine item {raw_id}.")
    item, raw = found
    report, problem = await asyncio.to_thread(parse_safely, ingestor.parser, raw, ingestor.hints)
    now = clock.now()

    def apply(db: sqlite_utils.Database) -> IngestOutcome:
        outcome = ingest_report(db, raw, report, ingestor.keys, item.source, now, ref=f"quarantine:{item.id}",
                                parse_error=problem, quarantine_id=item.id)
        quarantine.mark_retried(db, item.id, now)
        return outcome

    outcome = await panel.store.write(apply)
    log.info("quarantine_retried", id=item.id, applied=outcome.applied, by=current(request).user, via="web",
             quarantine=str(outcome.quarantine) if outcome.quarantine else None)
    done = (f"{item.id}: released, {outcome.applied} event(s) recorded" if outcome.quarantine is None
            else f"{item.id}: still held ({outcome.quarantine})")
    raise web.HTTPSeeOther("/ui/quarantine?" + urlencode({"done": done}))


ROUTES = [
    web.get("/ui/login", login_form),
    web.post("/ui/login", login),
    web.post("/ui/logout", logout),
    web.get("/ui/", replies),
    web.get("/ui/tickets/{ticket}", ticket),
    web.get("/ui/live", live),
    web.get("/ui/embed/{ticket}", embedded),
    web.get("/ui/embed/{ticket}/live", embedded_live),
    web.get("/ui/departments", departments_page),
    web.post("/ui/departments", department_switch),
    web.get("/ui/queue", queue_page),
    web.get("/ui/queue/{queue_id}/{action}", queue_confirm),
    web.post("/ui/queue/{queue_id}/{action}", queue_action),
    web.get("/ui/quarantine", quarantine_page),
    web.get("/ui/quarantine/{item}/{action}", quarantine_confirm),
    web.post("/ui/quarantine/{item}/retry", quarantine_retry),
    web.post("/ui/quarantine/{item}/delete", quarantine_delete),
    web.static("/ui/static", STATIC),
]


async def _ui_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


ROUTES.append(web.get("/ui", _ui_root))
