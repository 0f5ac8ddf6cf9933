-- Bots: the queue of customer messages a bot must answer, where each conversation stands in its
-- flow, every scope-guard decision (the proof of what the bot does), and the handoffs to humans.
-- Times: *_ms are guichet's own clock in ms.

-- When the handler last changed: the idle hand-back rule counts from it.
ALTER TABLE conversations ADD COLUMN handler_at_ms INTEGER NOT NULL DEFAULT 0;

-- One row per customer message a bot-held conversation received, queued in the transaction
-- that records the message. A conversation's jobs run one at a time, in order: only the oldest
-- queued job of a conversation can be claimed. A claim is a lease (`locked_by` until
-- `locked_until_ms`). state: queued | done | failed (given up: `last_error` says why).
CREATE TABLE bot_jobs (
    id                 INTEGER PRIMARY KEY,
    conversation_id    INTEGER NOT NULL REFERENCES conversations (id),
    message_id         INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'done', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    locked_until_ms    INTEGER,
    locked_by          TEXT,
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL
);
CREATE INDEX bot_jobs_due ON bot_jobs (next_attempt_at_ms, id) WHERE state = 'queued';
CREATE INDEX bot_jobs_conversation ON bot_jobs (conversation_id, id) WHERE state = 'queued';

-- Where a conversation stands in its bot's flow: the step it waits at and the variables (JSON).
-- Removed when the bot starts over (a new conversation, a hand-back, after a resolve).
CREATE TABLE bot_sessions (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations (id),
    flow            TEXT    NOT NULL,            -- the flow's name
    flow_version    TEXT    NOT NULL,            -- its version (and its intents' fingerprint)
    state           TEXT    NOT NULL,            -- JSON
    updated_at_ms   INTEGER NOT NULL
);

-- Every scope-guard decision on a customer's free text.
-- decision: in_scope | out_of_scope. outcome: answered (the flow went on or answered from its
-- FAQ) | deflected (out of scope: refused politely, a human offered) | handed_over.
CREATE TABLE guard_decisions (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    phone_number_id TEXT    NOT NULL,
    flow            TEXT    NOT NULL,
    flow_version    TEXT    NOT NULL,
    tier            TEXT    NOT NULL CHECK (tier IN ('fast', 'embedding')),
    decision        TEXT    NOT NULL CHECK (decision IN ('in_scope', 'out_of_scope')),
    intent          TEXT,                        -- the intent (in scope) or the nearest one
    score           REAL    NOT NULL,
    threshold       REAL    NOT NULL,
    general_request INTEGER NOT NULL CHECK (general_request IN (0, 1)),
    outcome         TEXT    NOT NULL CHECK (outcome IN ('answered', 'deflected', 'handed_over')),
    decided_at_ms   INTEGER NOT NULL
);
CREATE INDEX guard_decisions_by_time ON guard_decisions (decided_at_ms);

-- Every time a conversation went from the bot to the queue for a human, and why:
-- customer_asks_human | bot_hands_over.
CREATE TABLE bot_handoffs (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    phone_number_id TEXT    NOT NULL,
    flow            TEXT    NOT NULL,
    cause           TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL
);
CREATE INDEX bot_handoffs_by_time ON bot_handoffs (at_ms);
