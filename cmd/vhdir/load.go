package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/rest"
	"github.com/vhdir/vhdir/internal/server"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "load [flags] PATH...", stderr)
	db := fs.String("db", defaultDB, "database: sqlite:PATH (embedded) or postgres://user@host:port/db")
	baseURL := fs.String("base-url", "https://127.0.0.1:8443", "the server's public base URL: absolute references to it are stored as local ones")
	keepGoing := fs.Bool("keep-going", false, "exit 0 even when some resources could not be loaded")
	batch := fs.Int("batch-size", 2000, "resources written per database transaction")
	workers := fs.Int("workers", 0, "parallel parse, validate and index workers (default: one per CPU)")
	progress := fs.String("progress", "auto", "progress bar: auto (on a terminal), on or off")
	maxEntries := fs.Int("max-bundle-entries", rest.DefaultMaxBundleEntries, "most entries in one batch or transaction Bundle file; a larger one is refused whole, nothing of it loaded (a transaction holds the database's write lock, and its memory, until it commits)")
	lenient := fs.Bool("lenient", false, "repair unambiguous primitive type mismatches (a number where a string belongs, \"1.50\" where a decimal belongs), each printed as a warning")
	profiles := profileMode(profile.Enforce)
	fs.Var(&profiles, "profile-validation", profileValidationUsage)
	maxNodes := fs.Int("max-resource-nodes", rest.DefaultMaxResourceNodes, "most JSON values (objects, arrays, strings, numbers, true, false, null) in one resource, as vhdir serve allows")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *maxNodes < 1 {
		return errors.New("--max-resource-nodes must be at least 1")
	}
	if *maxEntries < 1 {
		return fmt.Errorf("--max-bundle-entries %d: must be at least 1", *maxEntries)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "vhdir load: name at least one file or folder")
		fs.Usage()
		return errUsage
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(server.Config{BaseURL: *baseURL, Store: st, Clock: clock.System{}, MaxBodyBytes: 1 << 62, MaxResourceNodes: *maxNodes, MaxBundleEntries: *maxEntries,
		ProfileValidation: profile.Mode(profiles),
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	cfg := srv.LoadConfig()
	cfg.BatchSize, cfg.Workers, cfg.Lenient = *batch, *workers, *lenient
	show := *progress == "on" || *progress == "auto" && isTerminal(stderr)
	if show {
		cfg.Progress = func(p load.Progress) { drawProgress(stderr, p) }
	}
	ctx = server.AsOperator(ctx, operatorName(), "load")
	sum, err := load.Run(ctx, cfg, fs.Args())
	if show {
		fmt.Fprintln(stderr)
	}
	if sum != nil {
		printSummary(stdout, sum)
		if aerr := srv.RecordLoad(ctx, strings.Join(fs.Args(), " "), sum); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
	if err != nil {
		return err
	}
	if len(sum.Problems) > 0 && !*keepGoing {
		return exitError{code: 1}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// drawProgress redraws one progress line: bar, share of bytes, resources,
// rate and failures.
func drawProgress(w io.Writer, p load.Progress) {
	const width = 30
	frac := 1.0
	if p.BytesTotal > 0 {
		frac = min(1, float64(p.BytesDone)/float64(p.BytesTotal))
	}
	filled := int(frac * width)
	rate := float64(p.Resources) / max(p.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %d resources  %.0f/s  %d failed ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, p.Resources, rate, p.Failed)
}

func printSummary(w io.Writer, sum *load.Summary) {
	types := make([]string, 0, len(sum.Written))
	for t := range sum.Written {
		types = append(types, t)
	}
	slices.Sort(types)
	secs := max(sum.Duration.Seconds(), 1e-3)
	fmt.Fprintf(w, "loaded %d files in %s: %d resources written (%.0f/s), %d unchanged, %d failed\n",
		sum.Files, sum.Duration.Round(time.Millisecond), sum.Total(), float64(sum.Total())/secs, sum.Unchanged, len(sum.Problems))
	for _, t := range types {
		fmt.Fprintf(w, "  %-24s %d\n", t, sum.Written[t])
	}
	printRules(w, "refused by profile validation, per rule:", sum.Refused)
	printRules(w, "stored with profile issues, per rule:", sum.Warned)
	if len(sum.Warnings) > 0 {
		fmt.Fprintf(w, "warnings:\n")
		for _, x := range sum.Warnings {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
	if len(sum.Problems) > 0 {
		fmt.Fprintf(w, "problems:\n")
		for _, p := range sum.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}

// printRules lists resources per rule, most frequent first.
func printRules(w io.Writer, title string, counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	rules := make([]string, 0, len(counts))
	for r := range counts {
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b string) int {
		if d := counts[b] - counts[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	fmt.Fprintln(w, title)
	for _, r := range rules {
		fmt.Fprintf(w, "  %-48s %d\n", r, counts[r])
	}
}
