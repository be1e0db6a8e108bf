-- The audit chain is the audit store (sqlstore/audit.go): each link keeps
-- its record's bytes and the fields auditors search by (store.AuditFields);
-- its references are rows of audit_ref. AuditEvents are not resources:
-- reads, searches, histories and exports of them are answered from here.
-- Links chained before this migration have recorded = 0 until the store
-- fills their fields from their bodies when it opens (sqlstore.backfillAudit).
ALTER TABLE audit_chain ADD COLUMN recorded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_chain ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN type_system TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN type_code TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN subtype_system TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN subtype_code TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN profile TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
-- The first agent.who and the first entity.what reference, as Type/id or
-- the URL ('' for none): a record's usual references, in its own row.
ALTER TABLE audit_chain ADD COLUMN agent TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN entity TEXT NOT NULL DEFAULT '';

-- What auditors look records up by: the id, the time, the client, the
-- organization and the resource. The other fields have a handful of
-- values each (action, outcome, type) and are filtered on the rows these
-- ranges find.
CREATE INDEX audit_chain_res_id ON audit_chain (res_id);
CREATE INDEX audit_chain_recorded ON audit_chain (recorded, seq);
CREATE INDEX audit_chain_client ON audit_chain (client, seq);
CREATE INDEX audit_chain_agent ON audit_chain (agent, seq);
CREATE INDEX audit_chain_entity ON audit_chain (entity, seq);

-- The other agent.who (entity false) and entity.what (entity true)
-- references of a record, if it has more than one of a kind: a local
-- Type/id, or a url.
CREATE TABLE audit_ref (
    seq    BIGINT  NOT NULL,
    entity BOOLEAN NOT NULL,
    type   TEXT NOT NULL,
    id     TEXT NOT NULL,
    url    TEXT NOT NULL,
    PRIMARY KEY (seq, entity, type, id, url)
) WITHOUT ROWID;
CREATE INDEX audit_ref_target ON audit_ref (id, type, entity, seq);

-- The chain's last link at each export snapshot (mark: the snapshot's
-- time, as export_mark): an AuditEvent export _since a snapshot's time
-- holds exactly the links after it.
CREATE TABLE audit_export_marks (
    mark BIGINT NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL
);

DROP TABLE audit_indexed;
