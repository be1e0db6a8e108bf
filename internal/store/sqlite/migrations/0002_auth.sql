-- Authorization state shared by every process using the database: client
-- registrations, the assertion ids (jti) already used, and access tokens
-- (store.AuthStore, sqlstore/auth.go). Times are Unix microseconds, UTC,
-- as in 0001.
-- No foreign keys to auth_clients: clients are disabled, never deleted, and
-- using an assertion or checking a token must not read another table.

-- One row per registered client. The registration is JSON owned by package
-- auth, kept byte for byte. A rowid table: registrations (keys included)
-- can run to kilobytes, too wide for a WITHOUT ROWID b-tree.
CREATE TABLE auth_clients (
    id       TEXT    NOT NULL PRIMARY KEY,
    data     BLOB    NOT NULL,
    disabled BOOLEAN NOT NULL,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);

-- Assertion ids used per client, kept until the assertion expires so that
-- a replay is refused: the primary key settles two nodes racing on one jti
-- (INSERT … ON CONFLICT). Small rows, looked up by key only: WITHOUT ROWID.
CREATE TABLE auth_assertions (
    client_id TEXT    NOT NULL,
    jti       TEXT    NOT NULL,
    expires   INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) WITHOUT ROWID;
-- PurgeAuth deletes by expiry.
CREATE INDEX auth_assertions_expires ON auth_assertions (expires);

-- Issued access tokens, by SHA-256 of the token: a copy of the database
-- holds no usable token.
CREATE TABLE auth_tokens (
    hash      BLOB    NOT NULL PRIMARY KEY,
    client_id TEXT    NOT NULL,
    scope     TEXT    NOT NULL,
    issued_at INTEGER NOT NULL,
    expires   INTEGER NOT NULL
) WITHOUT ROWID;
-- PurgeAuth deletes by expiry.
CREATE INDEX auth_tokens_expires ON auth_tokens (expires);
