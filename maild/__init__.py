"""maild: tells a helpdesk, per reply and per recipient, whether mail was delivered, read, declined, delayed or bounced."""

__version__ = "0.1.0"
