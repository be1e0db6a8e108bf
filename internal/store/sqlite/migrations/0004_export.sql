-- Bulk export ($export; store.ExportStore, sqlstore/export.go). Times are
-- Unix microseconds, UTC, as in 0001.

-- The export mark: the time of the latest export snapshot. Every write
-- transaction reads it right after BEGIN and stamps its versions no
-- earlier; a snapshot raises it while no writer is in flight (it holds
-- the write lock: BEGIN IMMEDIATE). So a write that the snapshot does not
-- see carries LastUpdated >= the snapshot's time, and the next export's
-- _since finds it even when node clocks differ.
CREATE TABLE export_mark (
    one  INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    mark BIGINT  NOT NULL
);
INSERT INTO export_mark (one, mark) VALUES (1, 0);

-- One row per $export request, shared by every node: any node answers the
-- status request, and a job whose node stopped (its lease ran out) is
-- claimed again by another. request and result are owned by package bulk
-- and kept as given.
CREATE TABLE export_jobs (
    id          TEXT    NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL,
    request     BLOB    NOT NULL,
    state       TEXT    NOT NULL, -- queued, running, done, failed
    created     BIGINT  NOT NULL,
    expires     BIGINT  NOT NULL,
    owner       TEXT    NOT NULL DEFAULT '', -- the node running it
    lease_until BIGINT  NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    TEXT    NOT NULL DEFAULT '',
    result      BLOB -- manifest or OperationOutcome, once ended
);
-- ClaimExportJob takes the oldest queued (or abandoned) job.
CREATE INDEX export_jobs_claim ON export_jobs (state, created);
-- PurgeExportJobs deletes by expiry.
CREATE INDEX export_jobs_expires ON export_jobs (expires);

-- The files a job wrote (NDJSON, one resource type each), kept in the
-- database so that any node serves them; their bytes are in chunks of
-- a few MiB, so that neither writing nor serving holds a file in memory.
CREATE TABLE export_files (
    job   TEXT    NOT NULL,
    n     INTEGER NOT NULL,
    type  TEXT    NOT NULL,
    kind  TEXT    NOT NULL, -- output, deleted, error
    count BIGINT  NOT NULL, -- lines
    bytes BIGINT  NOT NULL,
    PRIMARY KEY (job, n)
);
CREATE TABLE export_chunks (
    job   TEXT    NOT NULL,
    n     INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    data  BLOB    NOT NULL,
    PRIMARY KEY (job, n, chunk)
);
