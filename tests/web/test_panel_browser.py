"""The panel in a real browser (Debian's chromium driven by Playwright) against a real `maild run`.

Mail goes in through maild's SMTP intake, copies out to an SMTP sink, and reports come back
through the receipts Maildir, so every state on a page was made by maild's own paths.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from maild.web import embed
from tests.daemon.conftest import wait_for
from tests.receipts.mail import dsn, mdn
from tests.web.conftest import login

pytestmark = pytest.mark.integration

SHOTS = Path(os.environ.get("MAILD_SCREENSHOTS", "")) if os.environ.get("MAILD_SCREENSHOTS") else None


def shot(page, name: str, tmp_path: Path) -> Path:
    path = (SHOTS or tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000  # a real picture, not an empty page
    return path


def reply_state(page, mid: str) -> str:
    return page.locator(f'[data-reply="{mid}"]').first.get_attribute("data-state")


def recipient_state(page, mid: str, address: str) -> str:
    return page.locator(f'[data-reply="{mid}"] [data-recipient="{address}"]').get_attribute("data-state")


def wait_state(page, selector: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'{selector}[data-state="{state}"]', timeout=timeout)


def test_pages_need_a_login_and_a_wrong_password_is_refused(panel, browser):
    page = browser.new_context().new_page()
    for path in ("/ui/", "/ui/tickets/1", "/ui/departments", "/ui/queue", "/ui/quarantine"):
        page.goto(panel.url + path)
        assert re.search(r"/ui/login\?next=", page.url), path
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text("main")
    assert "agent-password-1" not in panel.log() and "wrong password" not in panel.log()


def test_to_cc_bcc_states_and_a_receipt_arriving_while_the_page_is_open(panel, browser, tmp_path):
    mid = panel.send("[#5001] Your invoice", ["ann@example.net"], ["cid@example.net"], ["bea@example.net"])
    page = login(browser, panel, "agent")
    page.goto(panel.url + "/ui/tickets/5001")
    reply = f'[data-reply="{mid}"]'
    for address, kind in (("ann@example.net", "to"), ("cid@example.net", "cc"), ("bea@example.net", "bcc")):
        row = page.locator(f'{reply} [data-recipient="{address}"]')
        assert row.get_attribute("data-kind") == kind
    wait_for(lambda: page.reload() or reply_state(page, mid) == "delivered", timeout=60, what="delivered")
    assert "delivered" in page.locator(f"{reply} .mark-words").inner_text()

    # A Cc reads it: the open page changes by itself (no reload) to "read by a Cc or Bcc recipient".
    page.evaluate("window.__same_page = true")
    panel.receive(mdn(panel.token(mid, "cid@example.net"), "cid@example.net", original_message_id=mid))
    wait_state(page, reply, "read_by_cc")
    assert page.evaluate("window.__same_page") is True
    assert recipient_state(page, mid, "cid@example.net") == "read"
    assert "read by a Cc or Bcc recipient" in page.locator(f"{reply} .mark-words").inner_text()

    panel.receive(mdn(panel.token(mid, "ann@example.net"), "ann@example.net", original_message_id=mid))
    wait_state(page, reply, "read_by_to")
    panel.receive(mdn(panel.token(mid, "bea@example.net"), "bea@example.net", original_message_id=mid,
                      disposition="displayed"))
    wait_state(page, reply, "read")
    assert page.evaluate("window.__same_page") is True
    assert page.locator(f"{reply} .tick.on").count() == 4
    row = page.locator(f'{reply} [data-recipient="cid@example.net"]')
    row.locator("summary").click()
    assert "read receipt (MDN) from Thunderbird 115, via maildir" in row.inner_text()
    path = shot(page, "ticket-read", tmp_path)
    assert path.exists()


def test_single_recipient_marks_declined_and_the_bounce_label(panel, browser):
    one = panel.send("[#5002] One", ["solo@example.net"])
    panel.token(one, "solo@example.net")
    two = panel.send("[#5002] Two", ["x1@example.net"], ["x2@example.net"])
    t1, t2 = panel.token(two, "x1@example.net"), panel.token(two, "x2@example.net")
    panel.receive(mdn(panel.token(one, "solo@example.net"), "solo@example.net", original_message_id=one,
                      disposition="denied"))
    panel.receive(dsn(t1, "x1@example.net", status="5.2.2", original_message_id=two,
                      diagnostic="smtp; 552 5.2.2 <x1@example.net>: mailbox full"))
    page = login(browser, panel, "agent")
    page.goto(panel.url + "/ui/tickets/5002")
    wait_for(lambda: page.reload() or recipient_state(page, two, "x1@example.net") == "bounced", timeout=60,
             what="the first bounce")
    assert reply_state(page, two) == "delivered"  # one of two failed: no bounce label
    assert page.locator(f'[data-reply="{two}"] .bounce-label').count() == 0
    assert "mailbox full" in page.locator(f'[data-reply="{two}"] [data-recipient="x1@example.net"]').inner_text()
    panel.receive(dsn(t2, "x2@example.net", status="5.1.1", original_message_id=two))
    wait_state(page, f'[data-reply="{two}"]', "failed")
    assert page.locator(f'[data-reply="{two}"] .bounce-label').inner_text() == "Bounced"
    x2 = page.locator(f'[data-reply="{two}"] [data-recipient="x2@example.net"]').inner_text()
    assert "address does not exist — permanent" in x2 and "mx.example.net" in x2
    wait_for(lambda: page.reload() or recipient_state(page, one, "solo@example.net") == "declined", timeout=60,
             what="the declined receipt")
    assert reply_state(page, one) == "delivered"
    assert page.locator(f'[data-reply="{one}"] .tick').count() == 2
    assert page.locator(f'[data-reply="{one}"] .tick.on').count() == 1
    assert "declined to send a receipt" in page.locator(f'[data-reply="{one}"]').inner_text()


HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_html_and_script_in_a_subject_and_a_diagnostic_stay_inert(panel, browser):
    mid = panel.send(f"[#5003] {HOSTILE}", ["evil@example.net"])
    token = panel.token(mid, "evil@example.net")
    panel.receive(dsn(token, "evil@example.net", original_message_id=mid, diagnostic=f"smtp; 550 5.1.1 {HOSTILE}"))
    page = login(browser, panel, "agent")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(panel.url + "/ui/tickets/5003")
    wait_for(lambda: page.reload() or reply_state(page, mid) == "failed", timeout=60, what="the bounce")
    assert page.evaluate("window.__pwned") is None and not dialogs
    assert page.locator(f'[data-reply="{mid}"] img, [data-reply="{mid}"] script').count() == 0
    assert HOSTILE in page.locator(f'[data-reply="{mid}"] h2').inner_text()
    assert HOSTILE in page.locator(f'[data-reply="{mid}"] .diagnostic').first.inner_text()
    page.goto(panel.url + "/ui/?q=5003")
    assert page.evaluate("window.__pwned") is None
    assert HOSTILE in page.locator(f'[data-reply="{mid}"] .subject').inner_text()
    response = page.request.get(panel.url + "/ui/tickets/5003")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_replies_list_pages_and_searches(panel, browser):
    mids = [panel.send(f"[#{6000 + i}] Page test {i}", [f"p{i}@example.org"], department="Paging") for i in range(55)]
    page = login(browser, panel, "agent")
    page.goto(panel.url + "/ui/?q=Page+test")
    rows = page.locator("tr.reply")
    assert rows.count() == 50
    assert rows.first.get_attribute("data-reply") == mids[-1]  # newest first
    page.click("text=Older replies")
    assert [r.get_attribute("data-reply") for r in page.locator("tr.reply").all()] == mids[4::-1]
    assert page.locator("text=Older replies").count() == 0
    for term, expected in (("p7@example.org", [mids[7]]), ("6012", [mids[12]]), ("Page test 54", [mids[54]])):
        page.fill("input[name=q]", term)
        page.click("form.search button")
        assert [r.get_attribute("data-reply") for r in page.locator("tr.reply").all()] == expected, term
    page.fill("input[name=q]", "%")
    page.click("form.search button")
    assert page.locator("tr.reply").count() == 0  # LIKE wildcards are literal
    page.fill("input[name=q]", "6007")
    page.click("form.search button")
    page.click("text=#6007")
    assert page.url.endswith("/ui/tickets/6007")


def test_agents_cannot_reach_admin_pages(panel, browser):
    page = login(browser, panel, "agent")
    assert page.locator("nav >> text=Departments").count() == 0
    for path in ("/ui/departments", "/ui/queue", "/ui/quarantine"):
        response = page.goto(panel.url + path)
        assert response.status == 403, path
        assert "for administrators" in page.inner_text("main")
    response = page.request.post(panel.url + "/ui/departments", form={"department": "Billing", "receipts": "off"})
    assert response.status == 403


def test_the_department_switch_is_immediate_logged_and_hides_read_information(panel, browser, tmp_path):
    mid = panel.send("[#5004] Switch me", ["sw@example.net"], department="Support")
    panel.receive(mdn(panel.token(mid, "sw@example.net"), "sw@example.net", original_message_id=mid))
    agent = login(browser, panel, "agent")
    agent.goto(panel.url + "/ui/tickets/5004")
    wait_for(lambda: agent.reload() or reply_state(agent, mid) == "read", timeout=60, what="the read receipt")
    admin = login(browser, panel, "admin")
    admin.click("nav >> text=Departments")
    row = admin.locator('[data-department="Support"]')
    assert row.get_attribute("data-receipts") == "on" and row.locator("button").count() == 1
    row.locator("button").click()
    assert admin.locator('[data-department="Support"]').get_attribute("data-receipts") == "off"
    assert "Support: read receipts off" in admin.inner_text("main")
    shot(admin, "departments", tmp_path)
    agent.evaluate("window.__same_page = true")
    wait_state(agent, f'[data-reply="{mid}"]', "delivered")  # the open page follows the switch by itself
    assert agent.evaluate("window.__same_page") is True
    assert recipient_state(agent, mid, "sw@example.net") == "delivered"
    assert "read receipts are off for this department" in agent.inner_text("main")
    # the CLI and the API say the same
    status = panel.cli("status", "5004", "--json")
    assert '"receipts_enabled": false' in status.stdout and '"state": "delivered"' in status.stdout
    assert re.search(r'"event": "department_receipts_switched".*"by": "admin"', panel.log()) or (
        '"by": "admin"' in panel.log() and "department_receipts_switched" in panel.log()
    )
    admin.locator('[data-department="Support"] button').click()
    assert admin.locator('[data-department="Support"]').get_attribute("data-receipts") == "on"
    wait_state(agent, f'[data-reply="{mid}"]', "read")


def test_a_form_without_its_csrf_token_changes_nothing(panel, browser):
    panel.send("[#5005] csrf", ["c@example.net"], department="Csrf")
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/departments")
    before = admin.locator('[data-department="Csrf"]').get_attribute("data-receipts")
    for form in ({"department": "Csrf", "receipts": "off"}, {"department": "Csrf", "receipts": "off", "csrf": "forged"}):
        response = admin.request.post(panel.url + "/ui/departments", form=form)
        assert response.status == 403
        assert "did not come from this panel" in response.text()
    admin.reload()
    assert admin.locator('[data-department="Csrf"]').get_attribute("data-receipts") == before == "on"
    assert "web_csrf_refused" in panel.log()


def test_queue_actions_ask_for_confirmation_first(panel, browser):
    mid = panel.send("[#5006] Stuck", ["slow1@example.net"])
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/queue")
    wait_for(lambda: admin.reload() or admin.locator("tr[data-queue-id]", has_text="[#5006] Stuck").count() == 1,
             timeout=60, what="the deferred copy in the queue")
    row = admin.locator("tr[data-queue-id]", has_text="[#5006] Stuck")
    queue_id = row.get_attribute("data-queue-id")
    row.locator("text=Hold").click()
    assert f"Hold message {queue_id}?" in admin.inner_text("h1")
    admin.click("text=Cancel")  # cancel: nothing changed
    assert admin.locator(f'tr[data-queue-id="{queue_id}"]').get_attribute("data-held") == "no"
    # a POST without the confirmation's own field does nothing either
    response = admin.request.post(panel.url + f"/ui/queue/{queue_id}/hold",
                                  form={"csrf": admin.locator("input[name=csrf]").first.input_value()})
    assert f"Hold message {queue_id}?" in response.text()
    admin.locator(f'tr[data-queue-id="{queue_id}"] >> text=Hold').click()
    admin.click("button:has-text('Yes, hold')")
    assert admin.locator(f'tr[data-queue-id="{queue_id}"]').get_attribute("data-held") == "yes"
    admin.locator(f'tr[data-queue-id="{queue_id}"] >> text=Release').click()
    admin.click("button:has-text('Yes, release')")
    assert admin.locator(f'tr[data-queue-id="{queue_id}"]').get_attribute("data-held") == "no"
    admin.locator(f'tr[data-queue-id="{queue_id}"] >> text=Retry').click()
    admin.click("button:has-text('Yes, retry now')")
    assert "will be tried again now" in admin.inner_text("main")
    admin.locator(f'tr[data-queue-id="{queue_id}"] >> text=Delete').click()
    assert "cannot be undone" in admin.inner_text("main")
    admin.click("button:has-text('Yes, delete')")
    assert "deleted, 1 recipient(s) marked failed" in admin.inner_text("main")
    assert admin.locator(f'tr[data-queue-id="{queue_id}"]').count() == 0
    admin.goto(panel.url + "/ui/tickets/5006")
    assert reply_state(admin, mid) == "failed"
    assert "removed from the queue by an administrator" in admin.inner_text("main")
    assert '"by": "admin"' in panel.log() and "queue_action" in panel.log()


def test_the_quarantine_page_lists_what_could_not_be_applied(panel, browser):
    panel.receive(mdn("notavalidtoken", "q@example.net", original_message_id="<nobody@x>"))
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/quarantine")
    wait_for(lambda: admin.reload() or admin.locator("tr[data-quarantine-id]").count() >= 1, timeout=60,
             what="the quarantined receipt")
    row = admin.locator("tr[data-quarantine-id]").first
    assert "held" in row.inner_text() and "no_match" in row.inner_text() and "q@example.net" in row.inner_text()
    item = row.get_attribute("data-quarantine-id")
    row.locator("text=Retry").click()
    assert f"Retry quarantine item {item}?" in admin.inner_text("h1")
    assert "seen 1 time" in admin.inner_text("main")
    admin.click("button:has-text('Yes, retry')")
    assert f"{item}: still held (no_match)" in admin.inner_text("main")  # it still matches nothing: kept, not lost
    admin.goto(panel.url + f"/ui/quarantine/{item}/retry")
    assert "seen 2 times" in admin.inner_text("main")
    assert "quarantine_retried" in panel.log()


def test_embed_links_good_tampered_and_expired(panel, browser):
    mid = panel.send("[#5007] Embedded", ["em@example.net"])
    panel.token(mid, "em@example.net")
    made = panel.cli("embed-url", "5007", "--ttl", "600", "--base", panel.url)
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    page = browser.new_context().new_page()  # no session at all
    response = page.goto(url)
    assert response.status == 200 and page.locator(f'[data-reply="{mid}"]').count() == 1
    assert "frame-ancestors http://helpdesk.example.com" in response.headers["content-security-policy"]
    tampered = url.replace("5007", "5001", 1)
    assert page.goto(tampered).status == 403 and "not valid" in page.inner_text("main")
    flipped = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert page.goto(flipped).status == 403
    key = (panel.root / "var" / "embed.key").read_text().strip()
    expired = panel.url + embed.embed_path(key, "5007", int(time.time()) - 1)
    response = page.goto(expired)
    assert response.status == 403 and "expired" in page.inner_text("main")
    assert page.goto(panel.url + "/ui/tickets/5007").url.startswith(panel.url + "/ui/login")


def test_logout_ends_the_session(panel, browser):
    page = login(browser, panel, "agent")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "maild_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    page.click("text=Log out")
    assert "/ui/login" in page.url
    again = browser.new_context()
    again.add_cookies([session])
    p2 = again.new_page()
    p2.goto(panel.url + "/ui/")
    assert "/ui/login" in p2.url  # the old cookie is dead on the server, not only deleted in the browser


def test_pages_are_keyboard_navigable_and_readable_without_javascript(panel, browser):
    mid = panel.send("[#5008] Keys", ["kb@example.net"])
    panel.token(mid, "kb@example.net")
    page = login(browser, panel, "agent")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Replies"
    ctx = browser.new_context(java_script_enabled=False)
    nojs = ctx.new_page()
    nojs.goto(panel.url + "/ui/login")
    nojs.fill("input[name=username]", "agent")
    nojs.fill("input[name=password]", "agent-password-1")
    nojs.click("button[type=submit]")
    nojs.goto(panel.url + "/ui/tickets/5008")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", nojs.inner_text(f'[data-reply="{mid}"] .meta'))


def test_the_departments_page_shows_the_open_pixel_and_what_it_means(panel, browser):
    panel.send("[#5009] Pixel", ["px@example.net"], department="Marketing")
    assert panel.cli("departments", "pixel", "Marketing", "on").returncode == 0
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/departments")
    row = admin.locator('[data-department="Marketing"]')
    assert row.locator("[data-pixel]").get_attribute("data-pixel") == "on"
    assert row.locator("button").count() == 1  # the contract: one button, the receipts switch
    text = admin.inner_text("main")
    assert "open pixel" in text and "privacy choice" in text and "do not count as read" in text


def test_quarantine_delete_asks_first_and_is_logged_with_who(panel, browser):
    panel.receive(mdn("notavalidtoken", "del@example.net", original_message_id="<nobody-del@x>"))
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/quarantine")
    held = admin.locator("tr[data-quarantine-id]", has_text="del@example.net")
    wait_for(lambda: admin.reload() or held.count() == 1, timeout=60, what="the quarantined receipt")
    item = held.get_attribute("data-quarantine-id")
    held.locator("text=Delete").click()
    assert f"Delete quarantine item {item}?" in admin.inner_text("h1")
    assert "cannot be undone" in admin.inner_text("main")
    admin.click("text=Cancel")  # cancel: still there
    assert admin.locator(f'tr[data-quarantine-id="{item}"]').count() == 1
    csrf = admin.locator("input[name=csrf]").first.input_value()
    response = admin.request.post(panel.url + f"/ui/quarantine/{item}/delete", form={"csrf": csrf})
    assert f"Delete quarantine item {item}?" in response.text()  # no confirmation field: nothing deleted
    agent = login(browser, panel, "agent")
    agent_csrf = agent.locator("input[name=csrf]").first.input_value()
    refused = agent.request.post(panel.url + f"/ui/quarantine/{item}/delete", form={"csrf": agent_csrf, "confirm": "yes"})
    assert refused.status == 403
    assert panel.cli("quarantine", "show", item).returncode == 0
    admin.locator(f'tr[data-quarantine-id="{item}"] >> text=Delete').click()
    admin.click("button:has-text('Yes, delete')")
    assert f"{item}: deleted" in admin.inner_text("main")
    admin.goto(panel.url + "/ui/quarantine?all=1")
    assert admin.locator(f'tr[data-quarantine-id="{item}"]').count() == 0
    shown = panel.cli("quarantine", "show", item)
    assert shown.returncode == 1 and f"no quarantine item {item}" in shown.stderr
    assert re.search(rf'"id": {item}.*"by": "admin"|"by": "admin".*"id": {item}',
                     next(line for line in panel.log().splitlines() if "quarantine_deleted" in line))
    gone = admin.request.post(panel.url + f"/ui/quarantine/{item}/delete", form={"csrf": csrf, "confirm": "yes"})
    assert gone.status == 404
    # a stale confirmation never deletes another report that took the same id since
    panel.receive(mdn("notavalidtoken", "del2@example.net", original_message_id="<nobody-del2@x>"))
    admin.goto(panel.url + "/ui/quarantine")
    wait_for(lambda: admin.reload() or admin.locator("tr[data-quarantine-id]", has_text="del2@example.net").count(),
             timeout=60, what="the second quarantined receipt")
    newer = admin.locator("tr[data-quarantine-id]", has_text="del2@example.net").get_attribute("data-quarantine-id")
    stale = admin.request.post(panel.url + f"/ui/quarantine/{newer}/delete",
                               form={"csrf": csrf, "confirm": "yes", "fingerprint": "not-the-one-shown"})
    assert stale.status == 404 and panel.cli("quarantine", "show", newer).returncode == 0


def test_quarantine_delete_from_the_cli(panel):
    panel.receive(mdn("notavalidtoken", "cli-del@example.net", original_message_id="<nobody-cli@x>"))

    def held() -> str | None:
        listed = panel.cli("quarantine", "list", "--json").stdout
        return next((str(json.loads(line)["id"]) for line in listed.splitlines() if "cli-del@example.net" in line), None)

    item = wait_for(held, timeout=60, what="the quarantined receipt")
    done = panel.cli("quarantine", "delete", item, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": int(item), "deleted": True, "reason": "no_match", "state": "held"}
    again = panel.cli("quarantine", "delete", item)
    assert again.returncode == 1 and f"no quarantine item {item}" in again.stderr
    assert held() is None
    logged = next(line for line in done.stderr.splitlines() if "quarantine_deleted" in line)
    assert f'"id": {item}' in logged and '"via": "cli"' in logged


def test_the_departments_page_says_who_switched_last(panel, browser):
    panel.send("[#5010] Who", ["who@example.net"], department="Audit")
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/departments")
    cell = admin.locator('[data-department="Audit"] .switched')
    assert cell.inner_text() == "never"
    admin.locator('[data-department="Audit"] button').click()
    cell = admin.locator('[data-department="Audit"] .switched')
    assert cell.get_attribute("data-switched-by") == "admin"
    assert cell.inner_text().startswith("off by admin in the panel, ")
    assert cell.locator("time[datetime]").count() == 1
    assert panel.cli("departments", "enable", "audit").returncode == 0
    admin.reload()
    assert "on by " in admin.inner_text('[data-department="Audit"] .switched')
    assert "with maild departments" in admin.inner_text('[data-department="Audit"] .switched')
    listed = json.loads(panel.cli("departments", "list", "--json").stdout)
    audit = next(d for d in listed["departments"] if d["name"] == "Audit")
    assert audit["last_switch"]["via"] == "cli" and audit["last_switch"]["receipts_enabled"] is True
    text = panel.cli("departments", "list").stdout
    assert re.search(r"Audit .* on at \S+ by \S+ \(cli\)", text)


def test_an_embedded_ticket_updates_live(panel, browser):
    mid = panel.send("[#5011] Embedded live", ["live@example.net"])
    token = panel.token(mid, "live@example.net")
    url = panel.cli("embed-url", "5011", "--ttl", "600", "--base", panel.url).stdout.strip()
    page = browser.new_context().new_page()  # no session: the link's signature is all it has
    page.goto(url)
    wait_for(lambda: page.reload() or reply_state(page, mid) == "delivered", timeout=60, what="delivered")
    page.evaluate("window.__same_page = true")
    panel.receive(mdn(token, "live@example.net", original_message_id=mid))
    wait_state(page, f'[data-reply="{mid}"]', "read")
    assert page.evaluate("window.__same_page") is True  # no reload: the shared live reader told it
    stream = page.request.get(url.replace("/ui/embed/5011?", "/ui/embed/5011/live?").replace("sig=", "sig=0", 1))
    assert stream.status == 403  # the stream needs the link's own signature
    other = url.replace("/ui/embed/5011?", "/ui/embed/5012/live?")
    assert page.request.get(other).status == 403  # and is for that ticket only


def test_a_long_ticket_pages_its_replies(panel, browser):
    mids = [panel.send(f"Long thread {i}", [f"long{i}@example.net"], ticket="5012") for i in range(103)]
    page = login(browser, panel, "agent")
    page.goto(panel.url + "/ui/tickets/5012")
    replies = page.locator("[data-reply]")
    assert replies.count() == 100 and replies.first.get_attribute("data-reply") == mids[0]
    page.click("text=Later replies")
    page.wait_for_url("**/ui/tickets/5012?after=*")
    page.wait_for_load_state("load")  # count a whole page, not one still being parsed
    assert [r.get_attribute("data-reply") for r in page.locator("[data-reply]").all()] == mids[100:]
    assert page.locator("text=Later replies").count() == 0
    page.click("text=First replies")
    page.wait_for_url(panel.url + "/ui/tickets/5012")
    page.wait_for_load_state("load")
    assert page.locator("[data-reply]").count() == 100


def test_the_daemon_indexes_new_subjects_by_itself(panel, browser):
    import sqlite3

    mid = panel.send("[#5013] Quokka sighting", ["q1@example.net"])
    panel.token(mid, "q1@example.net")

    def indexed() -> bool:
        with sqlite3.connect(f"file:{panel.root / 'var' / 'maild.db'}?mode=ro", uri=True) as db:
            (row,) = db.execute("SELECT id FROM messages WHERE message_id = ?", (mid,)).fetchall()
            (upto,) = db.execute("SELECT upto FROM subject_index_state").fetchone()
            hit = db.execute("SELECT rowid FROM message_subjects WHERE message_subjects MATCH '\"quokka\"'").fetchall()
            return upto >= row[0] and hit == [row]

    wait_for(indexed, timeout=60, what="the subject in the index")
    page = login(browser, panel, "agent")
    page.goto(panel.url + "/ui/?q=QUOKKA+sight")
    assert [r.get_attribute("data-reply") for r in page.locator("tr.reply").all()] == [mid]
