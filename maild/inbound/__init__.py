"""Inbound sources: where customers' answers arrive (IMAP, Maildir, an LMTP hop), read only, turned into `replied` events."""
