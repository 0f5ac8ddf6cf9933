-- The agent inbox: who holds a conversation and who answers it (a bot or people), its labels and
-- private notes, how far each agent has read, canned replies, and who wrote each message sent.
-- Times: *_ms are guichet's own clock in ms. Agents are rows of `users` (0003).

ALTER TABLE conversations ADD COLUMN assignee_id INTEGER;   -- the agent holding it; NULL: nobody
-- Who answers: bot | queued_for_human (the bot handed over, no agent took it yet) | human.
ALTER TABLE conversations ADD COLUMN handler TEXT NOT NULL DEFAULT 'human';
CREATE INDEX conversations_assignee ON conversations (assignee_id, last_message_at DESC);
CREATE INDEX conversations_status ON conversations (status, last_message_at DESC);

-- Who wrote an outbound message: agent (author_id is the user), bot, or api.
ALTER TABLE messages ADD COLUMN author_id INTEGER;
ALTER TABLE messages ADD COLUMN author_kind TEXT;
-- The overview reads messages and changes by time.
CREATE INDEX messages_by_time ON messages (meta_at);
CREATE INDEX events_by_kind ON events (kind, created_at_ms);

CREATE TABLE labels (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,     -- lower-case: "Urgent" and "urgent" are one label
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE conversation_labels (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    label_id        INTEGER NOT NULL REFERENCES labels (id),
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label_id, conversation_id);

-- Private notes: seen by agents only, never sent.
CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    author_id       INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, id);

-- How far each agent has read each conversation: what the unread markers are computed from.
CREATE TABLE conversation_reads (
    user_id              INTEGER NOT NULL,
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
    last_read_message_id INTEGER NOT NULL,
    read_at_ms           INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- Replies agents insert by shortcut; `{{name}}`-style placeholders are filled in the composer.
CREATE TABLE canned_replies (
    id            INTEGER PRIMARY KEY,
    shortcut      TEXT    NOT NULL UNIQUE,
    title         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
