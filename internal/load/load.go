// Package load reads FHIR resources from files and folders into the
// directory: Bundles (batch and transaction through the FHIR pipeline;
// collection, searchset and others entry by entry), NDJSON and single
// resources. It is built for volume: resources are parsed, validated and
// indexed on all cores while one transaction at a time writes a batch of
// them, in input order. Every problem is reported with its file and line or
// entry; one bad resource never stops the others. Lenient loads repair
// unambiguous primitive mismatches first (fhir.Repair), each a Warning.
package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// Config is what a load needs.
type Config struct {
	Directory *directory.Directory
	Indexer   directory.Indexer
	// Record records every batch (its Provenance, its audit record) in
	// the transaction that writes it.
	Record Recorder
	// Bundle runs a batch or transaction Bundle through the FHIR pipeline
	// and returns the response Bundle; nil refuses such Bundles.
	Bundle func(ctx context.Context, bundle *fhir.Resource) (*jsontree.Object, error)
	// Writable says whether clients may write a resource type.
	Writable func(typ string) bool
	// BatchSize is how many resources one transaction writes (default 2000).
	BatchSize int
	// Workers parse and index in parallel (default GOMAXPROCS).
	Workers int
	// Progress receives a progress line now and then (nil: none).
	Progress func(p Progress)
	// Lenient repairs the unambiguous primitive mismatches of every
	// resource (fhir.Repair) before it is validated, each repair a Warning.
	Lenient bool
	// MaxResourceNodes bounds the JSON values of each resource, as the
	// server bounds a resource sent to it (0: no bound). An NDJSON line is
	// stopped while it is parsed; a file is the operator's own and parsed
	// whole, then each resource in it is counted.
	MaxResourceNodes int
}

// Recorder records the batches of a load. The one who loads is the caller
// of ctx (the operator).
type Recorder interface {
	// Loaded runs inside the transaction that wrote changes (from source,
	// the files the batch came from): what it records commits with them or
	// not at all.
	Loaded(ctx context.Context, w *directory.Writer, source string, changes []*directory.Change) error
}

// Progress is a snapshot of a running load.
type Progress struct {
	BytesDone, BytesTotal int64
	Resources             int
	Failed                int
	Elapsed               time.Duration
}

// Problem is one resource or file that could not be loaded.
type Problem struct {
	File   string
	Line   int    // NDJSON line, 0 otherwise
	Entry  int    // Bundle entry, -1 otherwise
	Target string // Type/id when known
	Reason string
}

func (p Problem) String() string { return place(p.File, p.Line, p.Entry, p.Target) + ": " + p.Reason }

// Warning is a change made to a resource that was loaded: a repair of
// Config.Lenient.
type Warning struct {
	File    string
	Line    int    // NDJSON line, 0 otherwise
	Entry   int    // Bundle entry, -1 otherwise
	Target  string // Type/id when known
	Message string
}

func (w Warning) String() string { return place(w.File, w.Line, w.Entry, w.Target) + ": " + w.Message }

// place names where in the input a resource came from:
// data.ndjson:3 (Practitioner/p1), batch.json entry 0.
func place(file string, line, entry int, target string) string {
	where := file
	if line > 0 {
		where += fmt.Sprintf(":%d", line)
	}
	if entry >= 0 {
		where += fmt.Sprintf(" entry %d", entry)
	}
	if target != "" {
		where += " (" + target + ")"
	}
	return where
}

// Summary is the outcome of a load.
type Summary struct {
	Written   map[string]int // new versions by type
	Unchanged int            // resources identical to what was stored
	Problems  []Problem
	Warnings  []Warning // about resources loaded
	// Refused counts, per rule (fhir.Issue.Rule), the resources profile
	// validation refused for breaking it; Warned the resources stored with
	// an error (--profile-validation warn) or a warning from it.
	Refused, Warned map[string]int
	Files           int
	Duration        time.Duration
}

// Total returns the number of versions written.
func (s *Summary) Total() int {
	n := 0
	for _, c := range s.Written {
		n += c
	}
	return n
}

// item is one resource on its way to the database.
type item struct {
	file  string
	line  int
	entry int
	data  []byte           // raw JSON (NDJSON lines)
	obj   *jsontree.Object // parsed already (Bundle entries, whole files)
	res   *fhir.Resource
	idx   *store.Index
	err   error
	// repairs made to obj (Config.Lenient), warned of once it is loaded
	repairs []fhir.Repaired
	// issues are what profile validation found and did not refuse it for
	issues []fhir.Issue
}

func (it *item) problem(reason string) Problem {
	p := Problem{File: it.file, Line: it.line, Entry: it.entry, Reason: reason}
	if it.res != nil {
		p.Target = target(it.res.Type, it.res.ID)
	}
	return p
}

// target names a resource in a report: Type/id, or nothing without an id.
func target(typ, id string) string {
	if id == "" {
		return ""
	}
	return typ + "/" + id
}

// File is an in-memory file to load.
type File struct {
	Name string // ends in .json or .ndjson
	Data []byte
}

// Run loads every path (files, or folders searched for *.json and *.ndjson).
func Run(ctx context.Context, cfg Config, paths []string) (*Summary, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	files, total, err := expand(paths)
	if err != nil {
		return nil, err
	}
	l := newLoader(cfg, len(files), total)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return l.sum, err
		}
		if err := l.file(ctx, f); err != nil {
			return l.sum, err
		}
	}
	return l.finish(), nil
}

// RunFiles loads files held in memory (the embedded IG examples).
func RunFiles(ctx context.Context, cfg Config, files []File) (*Summary, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += int64(len(f.Data))
	}
	l := newLoader(cfg, len(files), total)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return l.sum, err
		}
		var err error
		if strings.HasSuffix(f.Name, ".ndjson") {
			err = l.ndjson(ctx, f.Name, bytes.NewReader(f.Data))
		} else {
			err = l.json(ctx, f.Name, f.Data)
		}
		if err != nil {
			return l.sum, err
		}
	}
	return l.finish(), nil
}

// check refuses a configuration without a required collaborator.
func (cfg *Config) check() error {
	if cfg.Directory == nil || cfg.Indexer == nil || cfg.Record == nil {
		return errors.New("load: Directory, Indexer and Record are required")
	}
	return nil
}

func newLoader(cfg Config, files int, total int64) *loader {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 2000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	return &loader{cfg: cfg, sum: &Summary{Written: map[string]int{}, Refused: map[string]int{}, Warned: map[string]int{}, Files: files}, start: time.Now(), total: total}
}

func (l *loader) finish() *Summary {
	l.report(true)
	l.sum.Duration = time.Since(l.start)
	return l.sum
}

type loader struct {
	cfg   Config
	sum   *Summary
	start time.Time
	total int64
	done  int64
	last  time.Time
}

// expand lists the files to load, sorted, and their total size.
func expand(paths []string) ([]string, int64, error) {
	var files []string
	var total int64
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", p, err)
		}
		if !info.IsDir() {
			files = append(files, p)
			total += info.Size()
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".ndjson")) {
				found = append(found, path)
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", p, err)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, total, nil
}

func (l *loader) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		l.problem(Problem{File: path, Entry: -1, Reason: err.Error()})
		return nil
	}
	defer f.Close()
	if strings.HasSuffix(path, ".ndjson") {
		return l.ndjson(ctx, path, f)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		l.problem(Problem{File: path, Entry: -1, Reason: err.Error()})
		return nil
	}
	return l.json(ctx, path, data)
}

// json loads a JSON file: a Bundle or a single resource.
func (l *loader) json(ctx context.Context, path string, data []byte) error {
	defer l.advance(int64(len(data)))
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM, as some exports carry
	obj, err := jsontree.ParseObject(data)
	if err != nil {
		l.problem(Problem{File: path, Entry: -1, Reason: err.Error()})
		return nil
	}
	if typ, _ := obj.String("resourceType"); typ != "Bundle" {
		return l.write(ctx, []*item{{file: path, entry: -1, obj: obj}})
	}
	switch btype, _ := obj.String("type"); btype {
	case "batch", "transaction":
		return l.bundle(ctx, path, obj, btype)
	default: // collection, searchset, history, document, message: store the entries
		var items []*item
		for i, e := range entries(obj) {
			res, ok := e.Object("resource")
			if !ok {
				l.problem(Problem{File: path, Entry: i, Reason: "entry has no resource"})
				continue
			}
			items = append(items, &item{file: path, entry: i, obj: res})
		}
		return l.write(ctx, items)
	}
}

func entries(bundle *jsontree.Object) []*jsontree.Object {
	raw, _ := bundle.Get("entry")
	arr, _ := raw.([]any)
	var out []*jsontree.Object
	for _, e := range arr {
		if o, ok := e.(*jsontree.Object); ok {
			out = append(out, o)
		}
	}
	return out
}

// maxLine bounds one NDJSON line (one resource).
const maxLine = 64 << 20

func (l *loader) ndjson(ctx context.Context, path string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var batch []*item
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		l.advance(int64(len(raw) + 1))
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		batch = append(batch, &item{file: path, line: line, entry: -1, data: bytes.Clone(raw)})
		if len(batch) >= l.cfg.BatchSize*4 {
			if err := l.write(ctx, batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if err := sc.Err(); err != nil {
		l.problem(Problem{File: path, Line: line + 1, Entry: -1, Reason: err.Error()})
	}
	return l.write(ctx, batch)
}

// write prepares items on all workers and writes them in order, one
// transaction per BatchSize items; preparing batch k+1 overlaps writing k.
func (l *loader) write(ctx context.Context, items []*item) error {
	prepared := make(chan []*item, 1)
	go func() {
		defer close(prepared)
		for start := 0; start < len(items); start += l.cfg.BatchSize {
			chunk := items[start:min(start+l.cfg.BatchSize, len(items))]
			l.prepare(chunk)
			select {
			case prepared <- chunk:
			case <-ctx.Done():
				return
			}
		}
	}()
	for chunk := range prepared {
		if err := l.commit(ctx, chunk); err != nil {
			for range prepared { // let the producer finish
			}
			return err
		}
	}
	return ctx.Err()
}

// prepare parses, validates and indexes items in parallel.
func (l *loader) prepare(items []*item) {
	var wg sync.WaitGroup
	next := make(chan *item)
	for range l.cfg.Workers {
		wg.Go(func() {
			for it := range next {
				l.prepareOne(it)
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
}

func (l *loader) prepareOne(it *item) {
	if l.cfg.Lenient {
		l.repair(it)
	}
	if it.obj == nil {
		res, err := fhir.ParseResourceWith(it.data, l.limits())
		if err != nil {
			it.err = l.nodeLimitError(err)
			if o, perr := l.limits().ParseObject(it.data); perr == nil {
				typ, _ := o.String("resourceType")
				id, _ := o.String("id")
				it.res = &fhir.Resource{Type: typ, ID: id} // to name it in the report
			}
			return
		}
		it.res = res
	} else {
		if max := l.cfg.MaxResourceNodes; max > 0 && jsontree.Count(it.obj) > max {
			it.err = l.nodeLimitError(&jsontree.LimitError{MaxNodes: max})
			typ, _ := it.obj.String("resourceType")
			id, _ := it.obj.String("id")
			it.res = &fhir.Resource{Type: typ, ID: id}
			return
		}
		if issues := fhir.Validate(it.obj); issues != nil {
			it.err = &fhir.Error{Status: http.StatusBadRequest, Issues: issues}
			typ, _ := it.obj.String("resourceType")
			id, _ := it.obj.String("id")
			it.res = &fhir.Resource{Type: typ, ID: id}
			return
		}
		typ, _ := it.obj.String("resourceType")
		id, _ := it.obj.String("id")
		it.res = &fhir.Resource{Type: typ, ID: id, Obj: it.obj}
	}
	if l.cfg.Writable != nil && !l.cfg.Writable(it.res.Type) {
		it.err = fmt.Errorf("%s is not a resource type this directory stores", it.res.Type)
		return
	}
	// Profile validation runs here, on every worker, rather than in the
	// transaction that writes the batch.
	if it.issues, it.err = l.cfg.Directory.Check(it.res); it.err != nil {
		return
	}
	it.idx, it.err = l.cfg.Indexer.Index(it.res)
}

// limits are the bounds an NDJSON line is parsed within.
func (l *loader) limits() jsontree.Limits {
	return jsontree.Limits{MaxNodes: l.cfg.MaxResourceNodes}
}

// nodeLimitError names the flag that raises the bound on a resource's
// values, when err is that bound's.
func (l *loader) nodeLimitError(err error) error {
	var le *jsontree.LimitError
	if !errors.As(err, &le) {
		return err
	}
	return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly,
		"the resource holds %s: the limit for one resource, set with --max-resource-nodes", le.Error()).Wrap(le)
}

// repair repairs the resource of it before it is validated
// (Config.Lenient). An NDJSON line is parsed here; one that is not JSON,
// or too large, is left for ParseResource to report.
func (l *loader) repair(it *item) {
	if it.obj == nil {
		obj, err := l.limits().ParseObject(it.data)
		if err != nil {
			return
		}
		it.obj = obj
	}
	it.repairs = fhir.Repair(it.obj)
}

// commit writes the good items of a chunk in one transaction. Should the
// transaction fail, each item is written alone so the failure is pinned on
// the resource that caused it.
func (l *loader) commit(ctx context.Context, chunk []*item) error {
	var good []*item
	for _, it := range chunk {
		if it.err != nil {
			l.problem(it.problem(reason(it.err)))
			var fe *fhir.Error
			if errors.As(it.err, &fe) && fe.Status == http.StatusUnprocessableEntity {
				l.tally(l.sum.Refused, fe.Issues, fhir.SeverityError)
			}
			continue
		}
		good = append(good, it)
	}
	if len(good) == 0 {
		return nil
	}
	batch := make([]directory.Item, len(good))
	for i, it := range good {
		batch[i] = directory.Item{Res: it.res, Index: it.idx, Checked: true, Issues: it.issues}
	}
	var loaded []*directory.Change // the batch's own, not what recording it adds
	_, err := l.cfg.Directory.Write(ctx, func(w *directory.Writer) error {
		changes, err := w.PutAll(ctx, batch)
		if err != nil {
			return err
		}
		loaded = changes
		return l.cfg.Record.Loaded(ctx, w, sources(good), changes)
	})
	if err == nil {
		l.count(loaded)
		for _, it := range good {
			l.repaired(it.file, it.line, it.entry, target(it.res.Type, it.res.ID), it.repairs)
			l.tally(l.sum.Warned, it.issues, fhir.SeverityError, fhir.SeverityWarning)
		}
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(good) == 1 {
		l.problem(good[0].problem(reason(err)))
		return nil
	}
	for _, it := range good {
		if err := l.commit(ctx, []*item{it}); err != nil {
			return err
		}
	}
	return nil
}

// sources names the files a batch came from, in order.
func sources(items []*item) string {
	var names []string
	for _, it := range items {
		if len(names) == 0 || names[len(names)-1] != it.file {
			names = append(names, it.file)
		}
	}
	return strings.Join(names, ", ")
}

func (l *loader) count(changes []*directory.Change) {
	for _, c := range changes {
		if c.Wrote() {
			l.sum.Written[c.Type]++
		} else {
			l.sum.Unchanged++
		}
	}
	l.report(false)
}

// bundle runs a batch or transaction through the FHIR pipeline. The
// Bundle's own structure is checked here; its entries' resources are
// checked as each entry runs, so a batch loads its good entries and
// reports the bad ones, while a transaction loads all or nothing.
func (l *loader) bundle(ctx context.Context, path string, obj *jsontree.Object, btype string) error {
	if l.cfg.Bundle == nil {
		l.problem(Problem{File: path, Entry: -1, Reason: btype + " Bundles are not supported here"})
		return nil
	}
	var repairs [][]fhir.Repaired
	if l.cfg.Lenient {
		repairs = fhir.RepairEntries(obj)
	}
	if issues := fhir.ValidateShell(obj); issues != nil {
		reasons := make([]string, len(issues))
		for i, is := range issues {
			reasons[i] = issueText(is)
		}
		l.problem(Problem{File: path, Entry: -1, Reason: btype + " Bundle is invalid, nothing loaded: " + strings.Join(reasons, "; ")})
		return nil
	}
	resp, err := l.cfg.Bundle(ctx, &fhir.Resource{Type: "Bundle", Obj: obj})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.problem(Problem{File: path, Entry: -1, Reason: btype + " failed, nothing loaded: " + reason(err)})
		return nil
	}
	requests := entries(obj)
	for i, e := range entries(resp) {
		r, _ := e.Object("response")
		status, _ := r.String("status")
		if strings.HasPrefix(status, "2") {
			if i < len(repairs) && i < len(requests) {
				res, _ := requests[i].Object("resource")
				typ, _ := res.String("resourceType")
				id, _ := res.String("id")
				l.repaired(path, 0, i, target(typ, id), repairs[i])
			}
			if loc, ok := r.String("location"); ok {
				l.sum.Written[typeOfLocation(loc)]++
			} else {
				l.sum.Unchanged++
			}
			continue
		}
		msg := status
		if oo, ok := r.Object("outcome"); ok {
			msg += ": " + outcomeText(oo)
		}
		l.problem(Problem{File: path, Entry: i, Reason: msg})
	}
	l.report(false)
	return nil
}

func typeOfLocation(loc string) string {
	parts := strings.Split(loc, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == "_history" && i >= 2 {
			return parts[i-2]
		}
	}
	if len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return "?"
}

func outcomeText(oo *jsontree.Object) string {
	var msgs []string
	raw, _ := oo.Get("issue")
	arr, _ := raw.([]any)
	for _, v := range arr {
		if is, ok := v.(*jsontree.Object); ok {
			msgs = append(msgs, issueLine(is))
		}
	}
	return strings.Join(msgs, "; ")
}

// issueLine is one OperationOutcome issue as a summary line: the element
// it names, when it names one, then what is wrong ("Bundle.entry[1]: " in
// front of the diagnostics is dropped when the element says it).
func issueLine(is *jsontree.Object) string {
	d, _ := is.String("diagnostics")
	exprs, _ := is.Get("expression")
	list, _ := exprs.([]any)
	if len(list) == 0 {
		return d
	}
	ex, _ := list[0].(string)
	if i := strings.Index(d, ": "); i > 0 && strings.HasPrefix(ex, d[:i]) {
		d = d[i+2:]
	}
	return ex + ": " + d
}

// reason renders an error for the summary: the client-safe FHIR issues.
func reason(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) && len(fe.Issues) > 0 {
		parts := make([]string, len(fe.Issues))
		for i, is := range fe.Issues {
			parts[i] = issueText(is)
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

func issueText(is fhir.Issue) string {
	if len(is.Expression) > 0 {
		return is.Expression[0] + ": " + is.Diagnostics
	}
	return is.Diagnostics
}

// tally counts a resource once for each rule its issues of these
// severities name.
func (l *loader) tally(into map[string]int, issues []fhir.Issue, severities ...string) {
	var seen []string
	for _, is := range issues {
		if is.Rule == "" || !slices.Contains(severities, is.Severity) || slices.Contains(seen, is.Rule) {
			continue
		}
		seen = append(seen, is.Rule)
		into[is.Rule]++
	}
}

func (l *loader) problem(p Problem) {
	l.sum.Problems = append(l.sum.Problems, p)
}

// repaired warns of the repairs made to a resource that was loaded.
func (l *loader) repaired(file string, line, entry int, target string, repairs []fhir.Repaired) {
	for _, r := range repairs {
		l.sum.Warnings = append(l.sum.Warnings, Warning{File: file, Line: line, Entry: entry, Target: target, Message: "repaired " + r.String()})
	}
}

func (l *loader) advance(n int64) {
	l.done += n
}

// report sends progress at most five times a second (and at the end).
func (l *loader) report(final bool) {
	if l.cfg.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(l.last) < 200*time.Millisecond {
		return
	}
	l.last = now
	l.cfg.Progress(Progress{BytesDone: l.done, BytesTotal: l.total, Resources: l.sum.Total() + l.sum.Unchanged,
		Failed: len(l.sum.Problems), Elapsed: now.Sub(l.start)})
}
