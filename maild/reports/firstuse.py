"""What the parser imports on its first use, imported before any message: for a process about to fork parse children.

`parse()` imports the bounce, auto-reply, SES and text-receipt detectors on their first call, flufl.bounce
(with the ~150 patterns its detectors compile) for the first bounce the structural scan finds nothing in, and
a few standard modules where a message first needs them. A process that forks several children to parse a list
of files (`receipts.parsestream`'s lanes) has each child pay those imports again; done once in the parent, they
are inherited through fork. Nothing here reads a message: a hostile file may only ever hang a child.
"""

from __future__ import annotations

from importlib import import_module

# The standard modules a parse imports where a message first needs them: html for an HTML part's text
# (reports.context.flatten_html), email.parser for a returned header block pasted as text
# (reports.candidates), hashlib for the fingerprint once core.digest has hashed OPENSSL_AFTER bytes (from
# then on, or at once when hashlib is already imported, it hashes with OpenSSL's).
STANDARD = ("html", "email.parser", "hashlib")


def load() -> None:
    """Import now what parse() would import on its first use (module docstring)."""
    from maild.reports import flufl_scan, load_detectors

    load_detectors()
    flufl_scan.prepare()
    for name in STANDARD:
        import_module(name)
