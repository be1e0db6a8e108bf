package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// Links chained before the audit store kept fields (migration 0008) have
// recorded = 0, and their bodies either staged in the link or stored as
// AuditEvent resources. Open fills them in batches, each in one
// transaction under the chain's lock (nodes opening together share the
// work): it moves the body into the link, stores its fields and
// references, and then removes the AuditEvent resources with their index
// rows. A link whose body is gone or unreadable gets recorded = -1 and no
// fields: it is still served and verified as stored (verify names it).

const backfillBatch = 500

// backfillAudit fills every legacy link, then removes legacy resources,
// telling log how far it is: on a large trail it takes minutes, once.
func (db *DB) backfillAudit(ctx context.Context, log *slog.Logger) error {
	var legacy int64
	if err := db.write.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_chain WHERE recorded = 0`).Scan(&legacy); err != nil {
		return fmt.Errorf("audit store: count records chained before it: %w", err)
	}
	if legacy > 0 {
		log.Info("audit store: filling the searched fields of records chained by an earlier version (once; nothing is served meanwhile)", "records", legacy)
	}
	began, said := time.Now(), time.Now()
	var filled int64
	for {
		n, err := db.backfillBatch(ctx)
		if err != nil {
			return fmt.Errorf("audit store: fill records chained before it: %w", err)
		}
		if n == 0 {
			break
		}
		if filled += int64(n); time.Since(said) > 10*time.Second {
			log.Info("audit store: filling", "done", filled, "of", legacy)
			said = time.Now()
		}
	}
	var removed int64
	for {
		n, err := db.dropLegacyAuditResources(ctx)
		if err != nil {
			return fmt.Errorf("audit store: remove AuditEvent resources: %w", err)
		}
		if n == 0 {
			break
		}
		if removed += int64(n); time.Since(said) > 10*time.Second {
			log.Info("audit store: removing the AuditEvent resources of an earlier version", "done", removed)
			said = time.Now()
		}
	}
	if legacy > 0 || removed > 0 {
		log.Info("audit store: records of an earlier version filled", "records", filled, "resources_removed", removed, "took", time.Since(began).Round(time.Millisecond).String())
	}
	return nil
}

type legacyLink struct {
	seq  int64
	body []byte
}

// backfillBatch fills up to backfillBatch links and returns how many.
func (db *DB) backfillBatch(ctx context.Context) (int, error) {
	n := 0
	err := db.update(ctx, false, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.Lock(ctx, auditLockKey); err != nil {
			return err
		}
		links, err := t.legacyLinks(ctx)
		if err != nil {
			return err
		}
		n = len(links)
		var refs []any
		for _, l := range links {
			f, err := store.AuditFieldsOf(l.body)
			recorded := int64(-1)
			if err == nil && l.body != nil {
				recorded = f.Recorded.UnixMicro()
				f = f.Storable()
				_, _, others := store.SplitAuditRefs(f.Refs)
				refs = appendRefArgs(refs, l.seq, others)
			} else {
				f = store.AuditFields{}
			}
			if err := t.fillLink(ctx, l, recorded, f); err != nil {
				return err
			}
		}
		return t.insertRefs(ctx, refs)
	})
	return n, err
}

// legacyLinks reads unfilled links with their bodies: staged in the link,
// else the AuditEvent resource's.
func (t *tx) legacyLinks(ctx context.Context) ([]legacyLink, error) {
	rows, err := t.tx.QueryContext(ctx, fmt.Sprintf(`SELECT c.seq, COALESCE(c.body, r.body) FROM audit_chain c `+
		`LEFT JOIN resources r ON r.type = 'AuditEvent' AND r.id = c.res_id WHERE c.recorded = 0 ORDER BY c.seq LIMIT %d`, backfillBatch))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []legacyLink
	for rows.Next() {
		var l legacyLink
		if err := rows.Scan(&l.seq, &l.body); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (t *tx) fillLink(ctx context.Context, l legacyLink, recorded int64, f store.AuditFields) error {
	p := t.db.d.Placeholder
	cols := []string{"body", "recorded", "action", "outcome", "type_system", "type_code", "subtype_system", "subtype_code",
		"client", "address", "source", "policy", "profile", "request_id", "agent", "entity"}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = c + " = " + p(i+1)
	}
	q := fmt.Sprintf("UPDATE audit_chain SET %s WHERE seq = %s", strings.Join(sets, ", "), p(len(cols)+1))
	agent, entity, _ := store.SplitAuditRefs(f.Refs)
	_, err := t.tx.ExecContext(ctx, q, l.body, recorded, f.Action, f.Outcome, f.Type.System, f.Type.Code, f.Subtype.System, f.Subtype.Code,
		f.Client, f.Address, f.Source, f.Policy, f.Profile, f.RequestID, agent, entity, l.seq)
	return err
}

// dropLegacyAuditResources removes up to backfillBatch AuditEvent
// resources, their earlier versions and index rows, a statement per table
// for the batch; it returns how many.
func (db *DB) dropLegacyAuditResources(ctx context.Context) (int, error) {
	n := 0
	err := db.update(ctx, false, func(stx store.Tx) error {
		t := stx.(*tx)
		rows, err := t.tx.QueryContext(ctx, fmt.Sprintf(`SELECT rid FROM resources WHERE type = 'AuditEvent' LIMIT %d`, backfillBatch))
		if err != nil {
			return err
		}
		var rids []any
		for rows.Next() {
			var rid int64
			if err := rows.Scan(&rid); err != nil {
				rows.Close()
				return err
			}
			rids = append(rids, rid)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		n = len(rids)
		if n == 0 {
			return nil
		}
		ph := make([]string, n)
		for i := range ph {
			ph[i] = t.db.d.Placeholder(i + 1)
		}
		in := " WHERE rid IN (" + strings.Join(ph, ", ") + ")"
		tables := []string{"resource_history", "resources"}
		for _, tab := range indexTables {
			tables = append(tables, tab.name)
		}
		for _, table := range tables {
			if _, err := t.tx.ExecContext(ctx, "DELETE FROM "+table+in, rids...); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		return nil
	})
	return n, err
}
