-- The audit chain (store.AuditHash, sqlstore/audit.go): one link per
-- AuditEvent, in commit order. The AuditEvent itself is an ordinary row of
-- resources. seq is assigned by the appender under a lock (not a sequence)
-- so that links are gap-free: a gap is a deleted record.
CREATE TABLE audit_chain (
    seq    BIGINT NOT NULL PRIMARY KEY,
    res_id TEXT COLLATE "C" NOT NULL,
    prev   BYTEA  NOT NULL,
    hash   BYTEA  NOT NULL
);

-- AuditEvents are stored without index rows, so that the commit every
-- request waits for stays small; an indexer adds their rows afterwards in
-- large batches (audit.Indexer). seq is the last chain link indexed.
CREATE TABLE audit_indexed (
    one INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    seq BIGINT  NOT NULL
);
INSERT INTO audit_indexed (one, seq) VALUES (1, 0);
