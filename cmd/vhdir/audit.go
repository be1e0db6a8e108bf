package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vhdir/vhdir/internal/audit"
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
	progress := func(int64) {}
	if isTerminal(stderr) && !*quiet {
		progress = func(n int64) { fmt.Fprintf(stderr, "\r%d records checked", n) }
	}
	rep, err := audit.VerifyAgainst(ctx, st, expect, progress)
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
