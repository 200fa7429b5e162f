"""A read-receipt switch made in the panel applies to the very next message relayed (intake and delivery hold the
settings in memory: maild.switches), and a switch by `maild departments` in another process shows in the panel."""

from __future__ import annotations

from tests.daemon.conftest import wait_for
from tests.web.conftest import login


def asks_receipt(panel, mid: str) -> bool:
    def copy() -> bytes | None:
        with panel.sink.lock:
            return next((d.data for d in panel.sink.received if d.message_id == mid), None)

    data = wait_for(copy, timeout=30, what=f"{mid} at the upstream")
    return b"\nDisposition-Notification-To:" in b"\n" + data


def test_a_panel_switch_applies_to_the_next_message(panel, browser):
    assert asks_receipt(panel, panel.send("[#5101] before", ["next1@example.net"], department="Nextmsg"))
    assert asks_receipt(panel, panel.send("[#5102] held", ["next2@example.net"], department="Nextmsg"))
    admin = login(browser, panel, "admin")
    admin.goto(panel.url + "/ui/departments")
    admin.locator('[data-department="Nextmsg"] button').click()
    assert admin.locator('[data-department="Nextmsg"]').get_attribute("data-receipts") == "off"
    assert not asks_receipt(panel, panel.send("[#5103] after off", ["next3@example.net"], department="Nextmsg"))
    admin.locator('[data-department="Nextmsg"] button').click()
    assert admin.locator('[data-department="Nextmsg"]').get_attribute("data-receipts") == "on"
    assert asks_receipt(panel, panel.send("[#5104] after on", ["next4@example.net"], department="Nextmsg"))
    done = panel.cli("departments", "disable", "Nextmsg")  # another process
    assert done.returncode == 0, done.stderr
    assert not asks_receipt(panel, panel.send("[#5105] after cli", ["next5@example.net"], department="Nextmsg"))
    admin.reload()
    assert admin.locator('[data-department="Nextmsg"]').get_attribute("data-receipts") == "off"
