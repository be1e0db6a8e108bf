-- Usage restrictions (VhDir §Restricted Content; store.Restriction,
-- sqlstore/restrict.go). The store enforces them inside its queries; see
-- docs/implementation/database.md, "Usage restrictions".

-- guard is the version's root mask (store.Restriction.Root): the rules
-- that must all permit a viewer for the version to exist for it. 0 (every
-- row written before this migration) is unrestricted. restricted says the
-- body must be shaped per viewer (Restriction.Marked).
ALTER TABLE resources ADD COLUMN guard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE resource_history ADD COLUMN guard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE resource_history ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT false;

-- The permit keys of each rule of a version: bit is 1 << rule. Rows of
-- earlier versions stay (history checks them); a rule without keys has no
-- row (it permits only viewers that see everything).
CREATE TABLE restriction_keys (
    rid     INTEGER NOT NULL,
    version INTEGER NOT NULL,
    key     TEXT    NOT NULL,
    bit     INTEGER NOT NULL,
    PRIMARY KEY (rid, version, key, bit)
) WITHOUT ROWID;
-- "Is this viewer named anywhere?": a viewer named nowhere sees what a
-- viewer without keys sees, with the statements of one.
CREATE INDEX restriction_keys_key ON restriction_keys (key);

-- Groups of guarded index rows (values only viewers permitted by mask
-- see). Their rows live in the idx_* tables like any other, but their
-- groups are listed here and never in param_groups, so a query that does
-- not ask for guarded rows cannot meet them.
CREATE TABLE guarded_groups (
    param INTEGER NOT NULL,
    grp   INTEGER NOT NULL,
    mask  INTEGER NOT NULL,
    PRIMARY KEY (param, grp)
) WITHOUT ROWID;

-- Export files count the lines served with elements removed by usage
-- restrictions, for the download's AuditEvent.
ALTER TABLE export_files ADD COLUMN subsetted BIGINT NOT NULL DEFAULT 0;
