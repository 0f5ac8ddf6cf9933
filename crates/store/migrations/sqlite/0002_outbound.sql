-- Outbound: what the business sends, checked, queued, paced, sent once and priced.
-- Times: *_at are Unix seconds (Meta's unit, rule time); *_ms are guichet's own clock in ms.

-- A template as the last sync from Meta saw it: the parts preflight checks a send against.
ALTER TABLE templates ADD COLUMN components TEXT;          -- Meta's `components`, JSON
ALTER TABLE templates ADD COLUMN parameter_format TEXT;    -- POSITIONAL | NAMED
ALTER TABLE templates ADD COLUMN synced_at_ms INTEGER;

-- What preflight decided about an outbound message, for the rules of later sends.
ALTER TABLE messages ADD COLUMN category TEXT;             -- the priced category
ALTER TABLE messages ADD COLUMN business_initiated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_outbound ON messages (conversation_id, meta_at)
    WHERE direction = 'outbound';
CREATE INDEX messages_biz_opaque ON messages (biz_opaque) WHERE biz_opaque IS NOT NULL;

-- The outbox: one row per outbound message, written in the transaction that records the
-- message. `state`: queued (waiting for its turn), sending (handed to the Graph API: it may have
-- left), unknown (no answer came: reconciled from status webhooks before at most one resend),
-- sent (Meta accepted it), failed (Meta refused it, or it could not be sent).
CREATE TABLE outbox (
    message_id      INTEGER PRIMARY KEY REFERENCES messages (id),
    phone_number_id TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,          -- wa_id or business-scoped user id
    request         TEXT    NOT NULL,          -- the Graph API body, JSON
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'unknown', 'sent', 'failed')),
    not_before_ms   INTEGER NOT NULL,          -- not sent before (pacing, backoff, grace)
    attempts        INTEGER NOT NULL DEFAULT 0,
    resent          INTEGER NOT NULL DEFAULT 0, -- 1 once resent after an unknown outcome
    sent_ms         INTEGER,                   -- when the Graph API last got it
    last_error      TEXT,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (phone_number_id, not_before_ms, message_id)
    WHERE state IN ('queued', 'unknown');
CREATE INDEX outbox_in_flight ON outbox (phone_number_id) WHERE state = 'sending';
CREATE INDEX outbox_pair ON outbox (phone_number_id, recipient, not_before_ms);

-- Which node runs the send loop of a business number: one at a time, so that its pacing holds.
CREATE TABLE send_leases (
    phone_number_id TEXT    PRIMARY KEY,
    holder          TEXT    NOT NULL,
    until_ms        INTEGER NOT NULL
);

-- The cost ledger: every outbound message priced when queued, then billed from the `pricing`
-- of its status webhooks, which wins.
CREATE TABLE costs (
    message_id        INTEGER PRIMARY KEY REFERENCES messages (id),
    phone_number_id   TEXT    NOT NULL,
    market            TEXT    NOT NULL,
    sent_at           INTEGER NOT NULL,
    pricing_model     TEXT    NOT NULL,        -- CBP | PMP
    category          TEXT    NOT NULL,        -- predicted pricing category
    pricing_type      TEXT    NOT NULL,
    currency          TEXT,
    predicted_micros  INTEGER,                 -- NULL: free, or no rate known
    billed_model      TEXT,
    billed_category   TEXT,
    billed_type       TEXT,
    billable          INTEGER,
    billed_micros     INTEGER,
    billed_at         INTEGER
);
CREATE INDEX costs_by_time ON costs (sent_at);
CREATE INDEX messages_business_initiated ON messages (meta_at) WHERE business_initiated = 1;
-- A customer's conversations on every number (consent, marketing caps, reach).
CREATE INDEX conversations_contact ON conversations (contact_id);
