"""Receipts ingest: the sources (IMAP, Maildir, LMTP, pipe) and the one path from a report to its events."""
