"""The panel's Jinja2 environment: templates from the package, autoescaping always on, a few display filters."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from maild.web.views import CheckMark, display_time


def check_mark(mark: CheckMark) -> Markup:
    """A reply's check marks and their words (every state readable as text); a function, as lists show hundreds."""
    if mark.bounced:
        inner = Markup('<span class="bounce-label">Bounced</span>')
    else:
        ticks = "".join(f'<span class="tick{" on" if i < mark.ticks else ""}">\u2713</span>' for i in range(mark.of))
        inner = Markup('<span class="ticks" aria-hidden="true">') + Markup(ticks) + Markup("</span>")
    return Markup(
        '<span class="mark mark-%s" title="%s">\n  %s\n  <span class="mark-words">%s</span>\n</span>'
    ) % (mark.state, mark.words, inner, mark.words)


def time_tag(iso: str | None) -> Markup:
    """`<time datetime=ISO>` with the UTC text, or a dash: a filter, not a macro, as pages show hundreds of times."""
    if not iso:
        return Markup("\u2014")
    return Markup('<time datetime="%s">%s</time>') % (iso, display_time(iso))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("maild.web", "templates"),
        autoescape=True,  # every template, whatever its name: mail text is attacker-controlled
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = display_time
    env.filters["time_tag"] = time_tag
    env.globals["check_mark"] = check_mark
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
