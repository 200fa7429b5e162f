"""Helpdesk presets: per product, where its outgoing replies carry the ticket, the department and what not to track.

A preset is data (`builtin.TABLES`, or an operator's `[tracking.presets.NAME]`
table of the same shape), turned into a `Preset` by `loader`, and applied to a
message's headers by the pure functions in `match`.
"""
