-- The inbound pipeline: Meta's webhooks, their items, and what guichet made of them.
-- Times: *_at are Unix seconds (Meta's unit, rule time); *_at_ms are guichet's own clock in ms.

-- The webhooks themselves live in their own file (`<name>-inbound.db`, see
-- migrations/sqlite-inbound), written by their own connection: acknowledging Meta never waits for
-- ingest, which writes here. Ingest reads them in order; this is how far it got.
CREATE TABLE inbound_progress (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id   INTEGER NOT NULL           -- every stored webhook up to this id is ingested
);

-- Failed ingestion attempts of the webhook ingest is stuck on.
CREATE TABLE inbound_attempts (
    event_id        INTEGER PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    note            TEXT
);

-- What ingest had to say about a webhook, when it had something to say: the parts it kept raw
-- without modelling them, or why it set the webhook aside as failed.
CREATE TABLE inbound_outcomes (
    event_id        INTEGER PRIMARY KEY,
    state           TEXT    NOT NULL CHECK (state IN ('done', 'failed')),
    note            TEXT,
    processed_at_ms INTEGER NOT NULL
);
CREATE INDEX inbound_outcomes_failed ON inbound_outcomes (event_id) WHERE state = 'failed';

CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY,
    portfolio      TEXT    NOT NULL,           -- business-scoped ids are unique per portfolio
    user_id        TEXT,                       -- business-scoped user id (BSUID)
    parent_user_id TEXT,
    wa_id          TEXT,
    phone          TEXT,                       -- E.164, when the wa_id is a phone number
    username       TEXT,
    profile_name   TEXT,
    seen_at        INTEGER,               -- Meta time of the newest item these fields came from
    marketing      TEXT,                       -- latest marketing preference: stop | resume | signup
    marketing_at   INTEGER,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_user_id ON contacts (portfolio, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_wa_id ON contacts (portfolio, wa_id) WHERE wa_id IS NOT NULL;

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    phone_number_id  TEXT    NOT NULL,
    contact_id       INTEGER NOT NULL REFERENCES contacts (id),
    status           TEXT    NOT NULL DEFAULT 'open',
    last_message_at  INTEGER NOT NULL DEFAULT 0, -- Meta's time of the newest message either way
    last_inbound_at  INTEGER,                  -- Meta's time of the newest customer message
    last_referral_at INTEGER,                  -- newest Click-to-WhatsApp entry
    unread_count     INTEGER NOT NULL DEFAULT 0,
    message_count    INTEGER NOT NULL DEFAULT 0,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    UNIQUE (phone_number_id, contact_id)
);
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    wamid           TEXT    UNIQUE,
    direction       TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound', 'echo')),
    kind            TEXT    NOT NULL,          -- Meta's `type`
    meta_at         INTEGER NOT NULL,          -- Meta's timestamp: the order messages are shown in
    received_at_ms  INTEGER NOT NULL,
    preview         TEXT,                      -- text or caption, for lists and search
    content         TEXT    NOT NULL,          -- guichet's typed view, JSON
    raw             TEXT,                      -- the message object exactly as Meta sent it
    context_wamid   TEXT,                      -- the message this one replies to
    referral        TEXT,                      -- Click-to-WhatsApp ad, JSON
    errors          TEXT,                      -- errors Meta attached to an inbound message, JSON
    delivery        TEXT,                      -- pending | sent | failed | delivered | read | played
    sent_at         INTEGER,
    delivered_at    INTEGER,
    read_at         INTEGER,
    played_at       INTEGER,
    failed_at       INTEGER,
    error_code      INTEGER,
    error_class     TEXT,
    error_details   TEXT,
    biz_opaque      TEXT
);
CREATE INDEX messages_in_conversation ON messages (conversation_id, meta_at, id);

-- Every status webhook, once per (wamid, status); the message's delivery columns are their merge.
CREATE TABLE message_statuses (
    id                INTEGER PRIMARY KEY,
    wamid             TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    meta_at           INTEGER NOT NULL,
    phone_number_id   TEXT    NOT NULL,
    recipient_id      TEXT,
    recipient_user_id TEXT,
    error_code        INTEGER,
    errors            TEXT,
    pricing_model     TEXT,
    pricing_type      TEXT,
    pricing_category  TEXT,
    billable          INTEGER,
    conversation      TEXT,
    biz_opaque        TEXT,
    received_at_ms    INTEGER NOT NULL,
    UNIQUE (wamid, status)
);

-- What happened, for the inbox (live), bots and the business's back-end.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    conversation_id INTEGER,
    message_id      INTEGER,
    payload         TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX events_conversation ON events (conversation_id, id);

CREATE TABLE templates (
    id                INTEGER PRIMARY KEY,
    waba_id           TEXT    NOT NULL,
    meta_id           TEXT,
    name              TEXT    NOT NULL,
    language          TEXT    NOT NULL,
    status            TEXT,
    category          TEXT,
    previous_category TEXT,
    quality           TEXT,
    reason            TEXT,
    status_at         INTEGER NOT NULL DEFAULT 0,  -- entry.time of the status last applied
    category_at       INTEGER NOT NULL DEFAULT 0,
    quality_at        INTEGER NOT NULL DEFAULT 0,
    updated_at_ms     INTEGER NOT NULL,
    UNIQUE (waba_id, name, language)
);

CREATE TABLE template_events (
    id             INTEGER PRIMARY KEY,
    waba_id        TEXT    NOT NULL,
    meta_id        TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    language       TEXT    NOT NULL,
    field          TEXT    NOT NULL,           -- status | quality | category
    value          TEXT    NOT NULL,
    detail         TEXT,
    meta_at        INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    UNIQUE (waba_id, meta_id, language, field, value, meta_at)
);

-- Marketing preferences and opt-ins, as evidence: never rewritten.
CREATE TABLE consent_events (
    id              INTEGER PRIMARY KEY,
    contact_id      INTEGER NOT NULL REFERENCES contacts (id),
    phone_number_id TEXT,
    category        TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    detail          TEXT,
    meta_at         INTEGER NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    UNIQUE (contact_id, category, value, meta_at)
);
