package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"

	"modernc.org/sqlite"
)

// The audit chain lives in a file of its own beside the database, PATH-audit,
// attached to every data connection as the schema "audit". Its tables
// exist there only, so the shared SQL names them unqualified. The records
// of requests that change nothing are appended by a connection of their
// own (the file opened as its main database): they neither wait for a
// long write nor change the data file, whose readers would drop their
// page caches at every change. A write appends its records from its own
// transaction, which spans both files (see sqlstore/auditfile.go).

// auditCacheKiB is the audit file's page cache on each connection, in KiB
// (negative: a size): records are appended at the right edge of its
// B-trees, so few pages are hot.
const auditCacheKiB = -16384

// auditPath is the audit file of the database at path.
func auditPath(path string) string { return path + "-audit" }

// attachConnector opens connections to dsn with the audit file attached.
type attachConnector struct {
	dsn, audit string
	readOnly   bool
}

func (c attachConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// Connect opens a connection and attaches the audit file, with the same
// durability as the database (synchronous=FULL applies per schema).
func (c attachConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Driver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	stmts := []string{"ATTACH DATABASE ?1 AS audit", "PRAGMA audit.synchronous = FULL", fmt.Sprintf("PRAGMA audit.cache_size = %d", auditCacheKiB),
		"PRAGMA audit.mmap_size = 2147418112"}
	if !c.readOnly {
		stmts = append(stmts, "PRAGMA audit.journal_mode = WAL")
	}
	exec := conn.(driver.ExecerContext)
	for i, q := range stmts {
		var args []driver.NamedValue
		if i == 0 {
			args = []driver.NamedValue{{Ordinal: 1, Value: "file:" + (&url.URL{Path: c.audit}).EscapedPath()}}
		}
		if _, err := exec.ExecContext(ctx, q, args); err != nil {
			conn.Close()
			return nil, fmt.Errorf("sqlite: attach the audit file %s: %s: %w", c.audit, q, err)
		}
	}
	return conn, nil
}

// openAttached opens a pool on the database at path with its audit file
// attached.
func openAttached(path string, readOnly bool) *sql.DB {
	return sql.OpenDB(attachConnector{dsn: dsn(path, readOnly, dataCacheKiB(readOnly)), audit: auditPath(path), readOnly: readOnly})
}

// OpenRaw opens a plain database/sql pool on the database at path, its
// audit file attached, for tests that work behind the store's back.
func OpenRaw(path string) *sql.DB { return openAttached(path, false) }

// auditSchema creates the audit file's tables: those migrations 0003, 0006
// and 0008 made in the database before the chain had a file of its own,
// with the indexes of migration 0010.
var auditSchema = []string{
	`CREATE TABLE IF NOT EXISTS audit.audit_chain (
    seq            INTEGER PRIMARY KEY,
    res_id         TEXT   NOT NULL,
    prev           BLOB   NOT NULL,
    hash           BLOB   NOT NULL,
    body           BLOB,
    recorded       BIGINT NOT NULL DEFAULT 0,
    action         TEXT   NOT NULL DEFAULT '',
    outcome        TEXT   NOT NULL DEFAULT '',
    type_system    TEXT   NOT NULL DEFAULT '',
    type_code      TEXT   NOT NULL DEFAULT '',
    subtype_system TEXT   NOT NULL DEFAULT '',
    subtype_code   TEXT   NOT NULL DEFAULT '',
    client         TEXT   NOT NULL DEFAULT '',
    address        TEXT   NOT NULL DEFAULT '',
    source         TEXT   NOT NULL DEFAULT '',
    policy         TEXT   NOT NULL DEFAULT '',
    profile        TEXT   NOT NULL DEFAULT '',
    request_id     TEXT   NOT NULL DEFAULT '',
    agent          TEXT   NOT NULL DEFAULT '',
    entity         TEXT   NOT NULL DEFAULT ''
)`,
	`CREATE INDEX IF NOT EXISTS audit.audit_chain_res_id ON audit_chain (res_id)`,
	`CREATE INDEX IF NOT EXISTS audit.audit_chain_recorded ON audit_chain (recorded, seq)`,
	`CREATE INDEX IF NOT EXISTS audit.audit_chain_client ON audit_chain (client, recorded, seq)`,
	`CREATE INDEX IF NOT EXISTS audit.audit_chain_agent ON audit_chain (agent, recorded, seq)`,
	`CREATE INDEX IF NOT EXISTS audit.audit_chain_entity ON audit_chain (entity, recorded, seq)`,
	`CREATE TABLE IF NOT EXISTS audit.audit_ref (
    seq    BIGINT  NOT NULL,
    entity BOOLEAN NOT NULL,
    type   TEXT NOT NULL,
    id     TEXT NOT NULL,
    url    TEXT NOT NULL,
    PRIMARY KEY (seq, entity, type, id, url)
) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS audit.audit_ref_target ON audit_ref (id, type, entity, seq)`,
	`CREATE TABLE IF NOT EXISTS audit.audit_export_marks (
    mark BIGINT NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL
)`,
}

// chainColumns are audit_chain's columns, in both files.
const chainColumns = `seq, res_id, prev, hash, body, recorded, action, outcome, type_system, type_code, subtype_system, subtype_code, ` +
	`client, address, source, policy, profile, request_id, agent, entity`

// moveAuditToItsFile creates the audit file's tables and copies into them
// the chain the database holds, in one transaction of the audit file
// alone: migration 0009 then drops the database's copy. Run again after a
// crash between the two, it copies only what is missing.
func moveAuditToItsFile(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmts := append([]string{}, auditSchema...)
	stmts = append(stmts,
		`INSERT INTO audit.audit_chain (`+chainColumns+`) SELECT `+chainColumns+` FROM main.audit_chain WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit.audit_chain) ORDER BY seq`,
		`INSERT OR IGNORE INTO audit.audit_ref (seq, entity, type, id, url) SELECT seq, entity, type, id, url FROM main.audit_ref`,
		`INSERT OR IGNORE INTO audit.audit_export_marks (mark, seq) SELECT mark, seq FROM main.audit_export_marks`)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("move the audit chain to its file: %w", err)
		}
	}
	return tx.Commit()
}
