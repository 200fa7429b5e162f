"""Write-back: what maild learns about a reply's recipients, written where the helpdesk's agents work.

`outbox` persists what is to be written (one row per target, recipient and
state, so at most once), `requests` turns a row into the HTTP calls of one
product (pure), `dispatcher` runs them with retries in the daemon.
"""
