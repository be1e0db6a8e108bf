-- Bulk export ($export; store.ExportStore, sqlstore/export.go). Times are
-- Unix microseconds, UTC, as in 0001; ids use COLLATE "C" as in 0002.

-- The export mark: the time of the latest export snapshot. Every write
-- transaction reads it right after BEGIN with SELECT … FOR KEY SHARE,
-- which holds a ROW SHARE lock on this table until it commits. A snapshot
-- takes LOCK TABLE … IN EXCLUSIVE MODE: it waits for the writers in
-- flight, and writers arriving meanwhile queue behind it (table locks are
-- granted in order; a row lock alone would let new FOR KEY SHARE readers
-- in ahead of it without end); it gives up after lock_timeout (a long
-- write in flight) and tries again later. It raises the mark, opens its
-- read-only view and commits; the queued writers then read the new mark.
-- So a write that the snapshot does not see carries LastUpdated >= the
-- snapshot's time, and the next export's _since finds it even when node
-- clocks differ. Plain SELECTs (pg_dump) take ACCESS SHARE and are not
-- held up.
CREATE TABLE export_mark (
    one  INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    mark BIGINT  NOT NULL
);
INSERT INTO export_mark (one, mark) VALUES (1, 0);

-- One row per $export request, shared by every node: any node answers the
-- status request, and a job whose node stopped (its lease ran out) is
-- claimed again by another (SELECT … FOR UPDATE SKIP LOCKED). request and
-- result are owned by package bulk and kept byte for byte.
CREATE TABLE export_jobs (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id   TEXT COLLATE "C" NOT NULL,
    request     BYTEA   NOT NULL,
    state       TEXT COLLATE "C" NOT NULL, -- queued, running, done, failed
    created     BIGINT  NOT NULL,
    expires     BIGINT  NOT NULL,
    owner       TEXT COLLATE "C" NOT NULL DEFAULT '', -- the node running it
    lease_until BIGINT  NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    TEXT    NOT NULL DEFAULT '',
    result      BYTEA -- manifest or OperationOutcome, once ended
);
-- ClaimExportJob takes the oldest queued (or abandoned) job.
CREATE INDEX export_jobs_claim ON export_jobs (state, created);
-- PurgeExportJobs deletes by expiry.
CREATE INDEX export_jobs_expires ON export_jobs (expires);

-- The files a job wrote (NDJSON, one resource type each), kept in the
-- database so that any node serves them; their bytes are in chunks of
-- a few MiB, so that neither writing nor serving holds a file in memory.
CREATE TABLE export_files (
    job   TEXT COLLATE "C" NOT NULL,
    n     INTEGER NOT NULL,
    type  TEXT COLLATE "C" NOT NULL,
    kind  TEXT COLLATE "C" NOT NULL, -- output, deleted, error
    count BIGINT  NOT NULL, -- lines
    bytes BIGINT  NOT NULL,
    PRIMARY KEY (job, n)
);
CREATE TABLE export_chunks (
    job   TEXT COLLATE "C" NOT NULL,
    n     INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    data  BYTEA   NOT NULL,
    PRIMARY KEY (job, n, chunk)
);
-- Chunks are stored without TOAST compression: pglz would spend more time
-- compressing an export than reading it (clients ask for gzip on the wire).
ALTER TABLE export_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
