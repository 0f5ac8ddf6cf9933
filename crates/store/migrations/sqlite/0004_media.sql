-- Customers' media: every image, video, audio, document or sticker a message carries, downloaded
-- from Meta once and kept by guichet. The table is also the download queue.
-- Times: *_ms are guichet's own clock in ms.
--
-- `state`: queued (waiting for its download, or for its next attempt), stored (the file is in
-- guichet's media folder under `storage_key`), failed (given up: `last_error` says why and what
-- to do). A claim is a lease: `locked_by` holds the row until `locked_until_ms`, so that a node
-- that died mid-download leaves it to the next one.
CREATE TABLE media (
    id                 INTEGER PRIMARY KEY,         -- guichet's id, the one its API and UI use
    message_id         INTEGER NOT NULL REFERENCES messages (id),
    meta_media_id      TEXT    NOT NULL,            -- Meta's id: GET /{media-id} gives a URL
    phone_number_id    TEXT    NOT NULL,            -- the business number whose token fetches it
    kind               TEXT    NOT NULL,            -- image | video | audio | document | sticker
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'stored', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    locked_until_ms    INTEGER,
    locked_by          TEXT,
    declared_mime      TEXT,                        -- Meta's `mime_type`: the sender's label
    declared_sha256    TEXT,                        -- Meta's `sha256`, base64
    sniffed_mime       TEXT,                        -- the type the bytes' magic numbers show
    has_markup         INTEGER NOT NULL DEFAULT 0 CHECK (has_markup IN (0, 1)), -- 1: HTML/SVG markup found in the bytes
    size_bytes         INTEGER,
    filename           TEXT,                        -- the customer's name for it: display only
    storage_key        TEXT,                        -- guichet's own name for the file
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    stored_at_ms       INTEGER,
    UNIQUE (message_id, meta_media_id)
);
CREATE INDEX media_due ON media (next_attempt_at_ms, id) WHERE state = 'queued';
