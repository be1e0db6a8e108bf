package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/gen"
)

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", "gen [flags]", stderr)
	practitioners := fs.Int("practitioners", 1000, "number of practitioners; organizations, roles, locations, plans and the rest scale with it (about 5 resources per practitioner)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and size give byte-identical files")
	out := fs.String("out", "vhdir-gen", "folder to write <Type>.ndjson files into (created if missing; existing files are replaced)")
	progress := fs.String("progress", "auto", "progress line: auto (on a terminal), on or off")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vhdir gen: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	switch *progress {
	case "auto", "on", "off":
	default:
		fmt.Fprintf(stderr, "vhdir gen: --progress must be auto, on or off, not %q\n", *progress)
		return errUsage
	}
	cfg := gen.Config{Practitioners: *practitioners, Seed: *seed, Dir: *out}
	show := *progress == "on" || *progress == "auto" && isTerminal(stderr)
	if show {
		cfg.Progress = func(p gen.Progress) { drawGenProgress(stderr, p) }
	}
	fmt.Fprintf(stderr, "vhdir gen: %d practitioners, seed %d, into %s\n", *practitioners, *seed, *out)
	sum, err := gen.Run(ctx, cfg)
	if show {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	printGenSummary(stdout, sum, *out)
	return nil
}

// drawGenProgress redraws one progress line: bar, share of practitioners,
// resources, rate and bytes written.
func drawGenProgress(w io.Writer, p gen.Progress) {
	const width = 30
	frac := 1.0
	if p.PractitionersTotal > 0 {
		frac = min(1, float64(p.Practitioners)/float64(p.PractitionersTotal))
	}
	filled := int(frac * width)
	rate := float64(p.Resources) / max(p.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %d resources  %.0f/s  %d MB ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, p.Resources, rate, p.Bytes>>20)
}

func printGenSummary(w io.Writer, sum *gen.Summary, dir string) {
	secs := max(sum.Duration.Seconds(), 1e-3)
	fmt.Fprintf(w, "generated %d resources (%d MB) in %s: %.0f resources/s, %d restricted\n",
		sum.Total(), sum.TotalBytes()>>20, sum.Duration.Round(time.Millisecond), float64(sum.Total())/secs, sum.Restricted)
	files := make([]string, 0, len(sum.Types))
	for _, t := range sum.Types {
		fmt.Fprintf(w, "  %-24s %d\n", t.Type, t.Resources)
		files = append(files, filepath.Join(dir, t.Type+".ndjson"))
	}
	fmt.Fprintf(w, "load in this order with: vhdir load %s\n", strings.Join(files, " "))
}
