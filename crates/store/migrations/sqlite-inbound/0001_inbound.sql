-- The inbound journal of the SQLite backend: every webhook body whose signature checked, exactly
-- as received, appended (and fsynced) before Meta gets its 200. A file of its own with a writer of
-- its own, so that acknowledging Meta never waits behind ingest. Never rewritten.
--
-- No unique index on the body hash: each append would then dirty a random index page, which
-- costs more than the append itself. guichet remembers the hashes of the latest bodies instead
-- (reloaded from here at start): an exact replay of one of them is answered `duplicate` and not
-- stored; an older one is stored again, and ingest finds all its items already there.
CREATE TABLE inbound_events (
    id              INTEGER PRIMARY KEY,
    body_sha256     BLOB    NOT NULL,          -- exact replays are recognised by it (see below)
    body            BLOB    NOT NULL,
    app             TEXT    NOT NULL,          -- the configured Meta app whose secret matched
    received_at_ms  INTEGER NOT NULL
);
