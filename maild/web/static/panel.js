// maild panel: times in the viewer's time zone, and live pages (server-sent events, then one fetch of the page).
// Everything works without this file; it only makes times local and pages update by themselves.
"use strict";

function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = el.getAttribute("datetime");
      el.textContent = fmt.format(when);
    }
  }
}

async function refresh(live) {
  const response = await fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
  if (!response.ok || response.redirected) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("live");
  if (!fresh) return;
  const open = new Set([...live.querySelectorAll("details[open]")].map((d) => d.closest("[data-recipient]")?.dataset.recipient));
  live.replaceChildren(...fresh.childNodes);
  for (const d of live.querySelectorAll("details")) {
    if (open.has(d.closest("[data-recipient]")?.dataset.recipient)) d.open = true;
  }
  localTimes(live);
  live.dispatchEvent(new CustomEvent("maild:updated", { bubbles: true }));
}

function follow(live) {
  const ticket = live.dataset.liveTicket || "";
  let since = live.dataset.liveVersion || "0";
  // The panel's pages listen on /ui/live (their session); an embed page on its own signed link's stream.
  const url = new URL(live.dataset.liveUrl || "/ui/live", window.location.href);
  if (!live.dataset.liveUrl) url.searchParams.set("ticket", ticket);
  url.searchParams.set("since", since);
  const source = new EventSource(url.toString());
  source.onmessage = (event) => {
    since = event.data;
    refresh(live).catch(() => {});
  };
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  const live = document.getElementById("live");
  if (live && window.EventSource) follow(live);
});
