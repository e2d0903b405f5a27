-- What every process of the web page must share: its keys (created once, by whichever
-- process comes first) and the login sessions (by the SHA-256 of the cookie, so a copy
-- of the database holds no usable session).
CREATE TABLE web_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE web_sessions (
    id_sha256  TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
