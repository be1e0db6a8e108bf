-- Resources, their history and their search-index rows.
-- See docs/implementation/database.md for what each table and index is for.

-- Write sequence: one writer at a time in SQLite, so a counter row gives a
-- gap-free, commit-ordered sequence.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('seq', 0);

-- One row per resource: the current version, its body served as stored.
CREATE TABLE resources (
    rid          INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    last_updated INTEGER NOT NULL, -- Unix microseconds, UTC
    deleted      BOOLEAN NOT NULL,
    idx_tables   INTEGER NOT NULL, -- bit set of idx_* tables holding rows
    body         BLOB
);
CREATE UNIQUE INDEX resources_key ON resources (type, id);
CREATE INDEX resources_type ON resources (type); -- rows of a type in rid order (SQLite appends rowid)
CREATE INDEX resources_seq ON resources (seq);
CREATE INDEX resources_updated ON resources (type, last_updated);

-- Every earlier version; the current one moves here when replaced.
CREATE TABLE resource_history (
    rid          INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    deleted      BOOLEAN NOT NULL,
    body         BLOB,
    PRIMARY KEY (rid, version)
) WITHOUT ROWID;
CREATE INDEX resource_history_seq ON resource_history (seq);
CREATE INDEX resource_history_type_seq ON resource_history (type, seq);

-- Parameter groups: index rows are factorized, one row per distinct value
-- of a resource, tagged with the group (set) of parameters having it; this
-- maps each parameter to its groups (see sqlstore/index.go).
CREATE TABLE param_groups (
    param INTEGER NOT NULL,
    grp   INTEGER NOT NULL,
    PRIMARY KEY (param, grp)
) WITHOUT ROWID;

-- Search index rows of current versions. Each table is clustered on
-- (rid, grp, value…) (WITHOUT ROWID): deletes and :missing read its
-- primary key, and its one secondary index, on (grp, value…), ends with
-- the primary key's columns, so lookups are index-only. One secondary index
-- per table keeps bulk loads fast.
CREATE TABLE idx_string (rid INTEGER NOT NULL, grp INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
    PRIMARY KEY (rid, grp, exact)) WITHOUT ROWID;
CREATE INDEX idx_string_norm ON idx_string (grp, norm);

CREATE TABLE idx_token (rid INTEGER NOT NULL, grp INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY (rid, grp, system, code)) WITHOUT ROWID;
CREATE INDEX idx_token_code ON idx_token (grp, code, system);

CREATE TABLE idx_ref (rid INTEGER NOT NULL, grp INTEGER NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL,
    PRIMARY KEY (rid, grp, type, id, url)) WITHOUT ROWID;
CREATE INDEX idx_ref_target ON idx_ref (grp, id, type);

CREATE TABLE idx_date (rid INTEGER NOT NULL, grp INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (rid, grp, lo, hi)) WITHOUT ROWID;
CREATE INDEX idx_date_lo ON idx_date (grp, lo, hi);

CREATE TABLE idx_number (rid INTEGER NOT NULL, grp INTEGER NOT NULL, value REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (rid, grp, value, lo, hi)) WITHOUT ROWID;
CREATE INDEX idx_number_value ON idx_number (grp, value);

CREATE TABLE idx_quantity (rid INTEGER NOT NULL, grp INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, value REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (rid, grp, system, code, value, lo, hi)) WITHOUT ROWID;
CREATE INDEX idx_quantity_value ON idx_quantity (grp, value);

CREATE TABLE idx_uri (rid INTEGER NOT NULL, grp INTEGER NOT NULL, uri TEXT NOT NULL,
    PRIMARY KEY (rid, grp, uri)) WITHOUT ROWID;
CREATE INDEX idx_uri_uri ON idx_uri (grp, uri);

CREATE TABLE idx_coord (rid INTEGER NOT NULL, grp INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    PRIMARY KEY (rid, grp, lat, lon)) WITHOUT ROWID;
CREATE INDEX idx_coord_lat ON idx_coord (grp, lat, lon);
