-- The audit chain is the audit store (sqlstore/audit.go): each link keeps
-- its record's bytes and the fields auditors search by (store.AuditFields);
-- its references are rows of audit_ref. AuditEvents are not resources:
-- reads, searches, histories and exports of them are answered from here.
-- Links chained before this migration have recorded = 0 until the store
-- fills their fields from their bodies when it opens (sqlstore.backfillAudit).
ALTER TABLE audit_chain ADD COLUMN recorded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_chain ADD COLUMN action TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN outcome TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN type_system TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN type_code TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN subtype_system TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN subtype_code TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN client TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN address TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN source TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN policy TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN profile TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN request_id TEXT COLLATE "C" NOT NULL DEFAULT '';
-- The first agent.who and the first entity.what reference, as Type/id or
-- the URL ('' for none): a record's usual references, in its own row.
ALTER TABLE audit_chain ADD COLUMN agent TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_chain ADD COLUMN entity TEXT COLLATE "C" NOT NULL DEFAULT '';

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
    type   TEXT COLLATE "C" NOT NULL,
    id     TEXT COLLATE "C" NOT NULL,
    url    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, entity, type, id, url)
);
CREATE INDEX audit_ref_target ON audit_ref (id, type, entity, seq);

-- The chain's last link at each export snapshot (mark: the snapshot's
-- time, as export_mark): an AuditEvent export _since a snapshot's time
-- holds exactly the links after it.
CREATE TABLE audit_export_marks (
    mark BIGINT NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL
);

DROP TABLE audit_indexed;

-- vhdir_audit_append below takes the lock and reads the head itself.
DROP FUNCTION vhdir_audit_head(BIGINT);

-- Appends records to the chain in one statement, so that a group commit
-- is one round trip (run alone, it is its own transaction): it takes the
-- chain's lock, reads the last link, hashes each record exactly as
-- store.AuditHash does (docs/format/audit-chain.md), inserts the links
-- with their fields and their other references (ref_items: the 1-based
-- position of the record each belongs to), and returns the links. Each statement
-- of a VOLATILE function takes a fresh snapshot under READ COMMITTED, so
-- the read sees every link committed while the lock was awaited.
-- (The body is on one line: migrations are split at lines ending in ";".)
CREATE FUNCTION vhdir_audit_append(lock_key BIGINT, ids TEXT[], bodies BYTEA[], recorded BIGINT[], actions TEXT[], outcomes TEXT[], type_systems TEXT[], type_codes TEXT[], subtype_systems TEXT[], subtype_codes TEXT[], clients TEXT[], addresses TEXT[], sources TEXT[], policies TEXT[], profiles TEXT[], request_ids TEXT[], agents TEXT[], entities TEXT[], ref_items INT[], ref_entities BOOLEAN[], ref_types TEXT[], ref_ids TEXT[], ref_urls TEXT[]) RETURNS TABLE (seq BIGINT, prev BYTEA, hash BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s BIGINT; h BYTEA; first_seq BIGINT; seqs BIGINT[] := '{}'; prevs BYTEA[] := '{}'; hashes BYTEA[] := '{}'; id_bytes BYTEA; BEGIN PERFORM pg_advisory_xact_lock(lock_key); SELECT c.seq, c.hash INTO s, h FROM audit_chain c ORDER BY c.seq DESC LIMIT 1; IF NOT FOUND THEN s := 0; h := '\x'::bytea; END IF; first_seq := s + 1; FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP s := s + 1; id_bytes := convert_to(ids[i], 'UTF8'); seqs := seqs || s; prevs := prevs || h; h := sha256(int8send(20) || convert_to('vhdir-audit-chain-v1', 'UTF8') || int8send(octet_length(h)) || h || int8send(s) || int8send(octet_length(id_bytes)) || id_bytes || int8send(octet_length(bodies[i])) || bodies[i]); hashes := hashes || h; END LOOP; INSERT INTO audit_chain (seq, res_id, prev, hash, body, recorded, action, outcome, type_system, type_code, subtype_system, subtype_code, client, address, source, policy, profile, request_id, agent, entity) SELECT * FROM unnest(seqs, ids, prevs, hashes, bodies, recorded, actions, outcomes, type_systems, type_codes, subtype_systems, subtype_codes, clients, addresses, sources, policies, profiles, request_ids, agents, entities); INSERT INTO audit_ref (seq, entity, type, id, url) SELECT first_seq + r.item - 1, r.entity, r.type, r.id, r.url FROM unnest(ref_items, ref_entities, ref_types, ref_ids, ref_urls) AS r(item, entity, type, id, url); RETURN QUERY SELECT * FROM unnest(seqs, prevs, hashes); END
$$;
