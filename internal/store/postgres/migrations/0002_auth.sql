-- Authorization state shared by every node: client registrations, the
-- assertion ids (jti) already used, and access tokens (store.AuthStore,
-- sqlstore/auth.go). Times are Unix microseconds, UTC, as in 0001.
-- Ids use COLLATE "C" so that Clients lists them in byte order, as SQLite
-- does, whatever the database's locale.
-- No foreign keys to auth_clients: clients are disabled, never deleted, and
-- using an assertion or checking a token must not read another table.

-- One row per registered client. The registration is JSON owned by package
-- auth, kept byte for byte (BYTEA, not JSONB, which would reformat it).
CREATE TABLE auth_clients (
    id       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    data     BYTEA   NOT NULL,
    disabled BOOLEAN NOT NULL,
    created  BIGINT  NOT NULL,
    updated  BIGINT  NOT NULL
);

-- Assertion ids used per client, kept until the assertion expires so that
-- a replay is refused: the primary key settles nodes racing on one jti
-- (INSERT … ON CONFLICT waits for the other insert and sees its row).
CREATE TABLE auth_assertions (
    client_id TEXT COLLATE "C" NOT NULL,
    jti       TEXT COLLATE "C" NOT NULL,
    expires   BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
-- PurgeAuth deletes by expiry.
CREATE INDEX auth_assertions_expires ON auth_assertions (expires);

-- Issued access tokens, by SHA-256 of the token: a copy of the database
-- holds no usable token.
CREATE TABLE auth_tokens (
    hash      BYTEA  NOT NULL PRIMARY KEY,
    client_id TEXT COLLATE "C" NOT NULL,
    scope     TEXT   NOT NULL,
    issued_at BIGINT NOT NULL,
    expires   BIGINT NOT NULL
);
-- PurgeAuth deletes by expiry.
CREATE INDEX auth_tokens_expires ON auth_tokens (expires);
