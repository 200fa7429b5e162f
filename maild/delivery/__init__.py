"""Delivery: copies from the spool to the upstream, in flow order.

scheduler (picks due recipients, records outcomes) -> copies (VERP sender,
Disposition-Notification-To, envelope parameters) -> transport (connection
pool, Maildir) -> client (one SMTP/LMTP session) over protocol (pure wire
format); outcome (pure: accepted, deferred with backoff, failed) and jobs
(the store reads and writes) complete it.
"""
