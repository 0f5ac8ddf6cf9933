-- Accounts of the agent UI: users, their sessions, login throttling and the log of sign-ins.
-- Times are guichet's own clock, in ms.

-- `username_key` is the username lower-cased by guichet (the same on every backend): usernames
-- are unique without regard to case. `password_hash` is an Argon2id PHC string.
CREATE TABLE users (
    id                     INTEGER PRIMARY KEY,
    username               TEXT    NOT NULL,
    username_key           TEXT    NOT NULL UNIQUE,
    display_name           TEXT    NOT NULL,
    role                   TEXT    NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash          TEXT    NOT NULL,
    created_at_ms          INTEGER NOT NULL,
    password_changed_at_ms INTEGER NOT NULL,
    disabled_at_ms         INTEGER              -- set while the user may not sign in
);

-- A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored, so that a
-- copy of the database does not let anyone in. `csrf_token` is the session's anti-forgery token,
-- sent back by its pages' forms and scripts.
CREATE TABLE user_sessions (
    id              INTEGER PRIMARY KEY,
    token_sha256    BLOB    NOT NULL UNIQUE,
    csrf_token      TEXT    NOT NULL,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    created_at_ms   INTEGER NOT NULL,
    last_seen_at_ms INTEGER NOT NULL,          -- written at most once a minute
    expires_at_ms   INTEGER NOT NULL,          -- the absolute timeout
    user_agent      TEXT,
    client_addr     TEXT,
    ended_at_ms     INTEGER,
    end_reason      TEXT                       -- logout, idle, expired, evicted, password_changed, disabled, ended
);
CREATE INDEX user_sessions_open ON user_sessions (user_id, last_seen_at_ms) WHERE ended_at_ms IS NULL;

-- Failed sign-ins per submitted username (lower-cased), whether or not such a user exists.
CREATE TABLE login_throttle (
    username_key     TEXT    PRIMARY KEY,
    failures         INTEGER NOT NULL,
    last_attempt_ms  INTEGER NOT NULL,
    blocked_until_ms INTEGER NOT NULL
);

-- Every sign-in attempt and its outcome (never a password).
CREATE TABLE login_attempts (
    id           INTEGER PRIMARY KEY,
    username_key TEXT    NOT NULL,
    user_id      INTEGER,
    outcome      TEXT    NOT NULL,             -- success, wrong_password, unknown_user, disabled, throttled
    client_addr  TEXT,
    user_agent   TEXT,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX login_attempts_at ON login_attempts (at_ms);
