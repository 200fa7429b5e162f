"""maild's stdlib-only core: the vocabulary every part speaks, importing nothing else of maild.

* ``events``  - recipient kinds, event kinds, what an event's report was (``EventSource``) and how it
  arrived (``Via``), and the sets of event kinds the status rules group;
* ``states``  - recipient, reply and delivery states and their sets (one place for "still to deliver");
* ``reasons`` - the typed reason table: one row per failure reason, hard or soft, in a helpdesk's words;
* ``reason_rules`` - how a status code, an SMTP command and a diagnostic text decide a reason;
* ``urls``    - typed URLs of upstreams and sources, parsed once by the configuration;
* ``backoff`` - the one exponential backoff; ``secretfile`` - the one way to create a secret file;
* ``prefilter`` - literal pre-checks derived from regexes (a speed helper for the rule tables);
  ``lazyre`` - regexes compiled on first use, so a module's tables cost nothing at import;
* ``sqldb``   - the shape of the database handle a store job takes (sqlite_utils' or a command's sqlite3 one).

Everything here is pure or touches only the file it is asked to; a test holds the core to importing
nothing of maild (see docs/architecture.md).
"""
