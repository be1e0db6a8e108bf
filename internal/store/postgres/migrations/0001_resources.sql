-- Resources, their history and their search-index rows.
-- See docs/implementation/database.md for what each table and index is for.
-- Text columns that are compared by range use COLLATE "C" so that byte order
-- (= code point order) holds whatever the database's locale.

CREATE SEQUENCE version_seq;

-- One row per resource: the current version, its body served as stored.
CREATE TABLE resources (
    rid          BIGSERIAL PRIMARY KEY,
    type         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    version      BIGINT  NOT NULL,
    seq          BIGINT  NOT NULL,
    last_updated BIGINT  NOT NULL, -- Unix microseconds, UTC
    deleted      BOOLEAN NOT NULL,
    idx_tables   BIGINT  NOT NULL, -- bit set of idx_* tables holding rows
    body         BYTEA
);
CREATE UNIQUE INDEX resources_key ON resources (type, id);
CREATE INDEX resources_type ON resources (type, rid); -- rows of a type in rid order
CREATE INDEX resources_seq ON resources (seq);
CREATE INDEX resources_updated ON resources (type, last_updated);

-- Every earlier version; the current one moves here when replaced.
CREATE TABLE resource_history (
    rid          BIGINT  NOT NULL,
    type         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    version      BIGINT  NOT NULL,
    seq          BIGINT  NOT NULL,
    last_updated BIGINT  NOT NULL,
    deleted      BOOLEAN NOT NULL,
    body         BYTEA,
    PRIMARY KEY (rid, version)
);
CREATE INDEX resource_history_seq ON resource_history (seq);
CREATE INDEX resource_history_type_seq ON resource_history (type, seq);

-- Parameter groups: index rows are factorized, one row per distinct value
-- of a resource, tagged with the group (set) of parameters having it; this
-- maps each parameter to its groups (see sqlstore/index.go).
CREATE TABLE param_groups (
    param BIGINT NOT NULL,
    grp   BIGINT NOT NULL,
    PRIMARY KEY (param, grp)
);

-- Search index rows of current versions. Value indexes INCLUDE rid so that
-- lookups are index-only; the (rid, grp) index serves deletes and
-- :missing. :exact string matches use the norm index and check exact.
CREATE TABLE idx_string (rid BIGINT NOT NULL, grp BIGINT NOT NULL, norm TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_string_norm ON idx_string (grp, norm) INCLUDE (rid, exact);
CREATE INDEX idx_string_rid ON idx_string (rid, grp);

CREATE TABLE idx_token (rid BIGINT NOT NULL, grp BIGINT NOT NULL, system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_token_code ON idx_token (grp, code, system) INCLUDE (rid);
CREATE INDEX idx_token_rid ON idx_token (rid, grp);

CREATE TABLE idx_ref (rid BIGINT NOT NULL, grp BIGINT NOT NULL, type TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, url TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_ref_target ON idx_ref (grp, id, type) INCLUDE (rid);
CREATE INDEX idx_ref_rid ON idx_ref (rid, grp);

CREATE TABLE idx_date (rid BIGINT NOT NULL, grp BIGINT NOT NULL, lo BIGINT NOT NULL, hi BIGINT NOT NULL);
CREATE INDEX idx_date_lo ON idx_date (grp, lo, hi) INCLUDE (rid);
CREATE INDEX idx_date_rid ON idx_date (rid, grp);

CREATE TABLE idx_number (rid BIGINT NOT NULL, grp BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, lo DOUBLE PRECISION NOT NULL, hi DOUBLE PRECISION NOT NULL);
CREATE INDEX idx_number_value ON idx_number (grp, value) INCLUDE (rid);
CREATE INDEX idx_number_rid ON idx_number (rid, grp);

CREATE TABLE idx_quantity (rid BIGINT NOT NULL, grp BIGINT NOT NULL, system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, value DOUBLE PRECISION NOT NULL, lo DOUBLE PRECISION NOT NULL, hi DOUBLE PRECISION NOT NULL);
CREATE INDEX idx_quantity_value ON idx_quantity (grp, value) INCLUDE (rid);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, grp);

CREATE TABLE idx_uri (rid BIGINT NOT NULL, grp BIGINT NOT NULL, uri TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_uri_uri ON idx_uri (grp, uri) INCLUDE (rid);
CREATE INDEX idx_uri_rid ON idx_uri (rid, grp);

CREATE TABLE idx_coord (rid BIGINT NOT NULL, grp BIGINT NOT NULL, lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL);
CREATE INDEX idx_coord_lat ON idx_coord (grp, lat, lon) INCLUDE (rid);
CREATE INDEX idx_coord_rid ON idx_coord (rid, grp);
