"""The per-recipient status record, under its historical import path (the record itself is in maild.core.record)."""

from __future__ import annotations

from maild.core.record import StatusRecord

__all__ = ["StatusRecord"]
