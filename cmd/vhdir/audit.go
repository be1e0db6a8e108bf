package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/vhdir/vhdir/internal/audit"
	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "Usage: vhdir audit verify [--db URL] [--expect SEQ:HASH] [--quiet]")
		fmt.Fprintln(stderr, "\n  verify   walk the audit chain from the first record; exit 0 when intact, 1 naming the first record edited, deleted or reordered")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	fs := newFlags("audit verify", "audit verify [--db URL] [--expect SEQ:HASH]", stderr)
	db := fs.String("db", defaultDB, "database: sqlite:PATH or postgres://…")
	quiet := fs.Bool("quiet", false, "print nothing when the trail is intact")
	expectText := fs.String("expect", "", "SEQ:HASH noted from an earlier run (or the syslog repository): the chain must still hold that record, else records were cut from its end or rewritten")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var expect *audit.Checkpoint
	if *expectText != "" {
		cp, err := audit.ParseCheckpoint(*expectText)
		if err != nil {
			return fmt.Errorf("--expect: %w", err)
		}
		expect = &cp
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	as, err := audit.Chain(st)
	if err != nil {
		return err
	}
	progress := func(int64) {}
	if isTerminal(stderr) && !*quiet {
		progress = func(n int64) { fmt.Fprintf(stderr, "\r%d records checked", n) }
	}
	rep, err := audit.VerifyAgainst(ctx, as, expect, progress)
	if isTerminal(stderr) && !*quiet {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if rep.Problem != nil {
		fmt.Fprintf(stderr, "audit trail NOT intact: %v\n%d records before it are intact.\n", rep.Problem, rep.Records)
		return exitError{code: 1}
	}
	if !*quiet {
		fmt.Fprintf(stdout, "audit trail intact: %d records; head %d:%s\n", rep.Records, rep.Records, rep.Head)
		fmt.Fprintln(stdout, "(keep the head: a later `vhdir audit verify --expect` with it detects records cut from the end)")
	}
	return nil
}

// recordLoad commits the audit record of a bulk load run by the operator.
func (a *app) recordLoad(ctx context.Context, source string, sum *load.Summary) error {
	if sum.Total() == 0 && len(sum.Problems) == 0 {
		return nil
	}
	host, _ := os.Hostname()
	if err := a.audit.Log.Commit(ctx, audit.ForLoad(operatorName(), host, source, sum.Written, len(sum.Problems))); err != nil {
		return fmt.Errorf("loaded, but the audit record of the load could not be written: %w", err)
	}
	return nil
}

// asOperator returns ctx acting as the operator running a command on the
// database directly (vhdir load): Bundles pass the same authorization as
// a client's, with every write and read scope but no audit scope, and
// their Provenance names the operator.
func asOperator(ctx context.Context) context.Context {
	scopes, err := auth.ParseScopes("system/*.cruds")
	if err != nil {
		panic(err) // a constant
	}
	name := operatorName()
	return auth.WithPrincipal(ctx, &auth.Principal{ClientID: "operator:" + name, ClientName: "operator " + name + " (vhdir load)",
		Scope: "system/*.cruds", Grants: auth.NewGrants(scopes)})
}

// operatorName is the operating-system user running a command.
func operatorName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// cliAuditLog is the audit log of a command working on the database
// directly (client registration), recorded as this host.
func cliAuditLog(st store.Store, reg *search.Registry, clk clock.Clock) *audit.Log {
	eng := search.NewEngine(reg, "urn:vhdir:cli")
	host, _ := os.Hostname()
	return &audit.Log{Dir: &directory.Directory{Store: st, Clock: clk, Indexer: eng}, Clock: clk,
		Source: audit.Source{Site: strings.TrimSpace("cli " + host), FHIRBase: "urn:vhdir:cli", TimeSource: clk.Source()}}
}
