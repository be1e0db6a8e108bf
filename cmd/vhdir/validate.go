package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/rest"
)

// validateHelp follows the flags in vhdir validate --help.
const validateHelp = `
Checks each resource as vhdir serve does on a write, with no database and no
server: first its JSON and R4 structure, then, when that found nothing, R4's
invariants and bindings and the VhDir profiles (its type's, those it claims in
meta.profile, and --profile). Any R4 resource type can be checked.

PATH is a file or a folder; a folder is searched for *.json and *.ndjson files,
in name order. A .ndjson file holds one resource per line (blank lines are
skipped). Any other file holds one resource or a Bundle of any type: the
Bundle's own elements are checked, then each entry's resource on its own,
named by its entry number (0 is the first).

Output, one line per issue (information only with --verbose):
  PATH[:LINE][ entry N] (Type/id): SEVERITY EXPRESSION: DIAGNOSTICS
then a summary: N resources in M files: E with errors, W with warnings
(W counts resources with warnings and no error). A file that cannot be read,
or malformed JSON, counts as one resource with an error, at the line at fault.

With --json, stdout instead holds one JSON object per line for each resource
with issues to show:
  {"file":"PATH","line":LINE,"entry":N,"resource":"Type/id","outcome":{OperationOutcome}}
line (NDJSON line or line of malformed JSON), entry (Bundle entry) and resource
appear only when known; each issue carries its FHIRPath in expression. The
summary goes to stderr.

Exit status: 0 no errors (warnings allowed); 1 a resource with errors, or an
input that cannot be read or parsed; 2 usage (no PATH, an unknown flag or
--profile).
`

// maxValidateLine bounds one NDJSON line; a longer one is reported and
// skipped, and the file read on.
const maxValidateLine = 64 << 20

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate [flags] PATH...", stderr)
	var profiles profileList
	fs.Var(&profiles, "profile", "also check the resources of a profile's type against this profile URL; repeat it, or separate URLs with commas, for several")
	asJSON := fs.Bool("json", false, "print one JSON object per resource with issues (its location and an OperationOutcome), one per line, instead of text")
	verbose := fs.Bool("verbose", false, "print information issues too (codes of systems with no local content, rules not checked), not only errors and warnings")
	maxNodes := fs.Int("max-resource-nodes", rest.DefaultMaxResourceNodes, "most JSON values (objects, arrays, strings, numbers, true, false, null) in one resource, as vhdir serve allows")
	workers := fs.Int("workers", 0, "parallel parse and validate workers (default: one per CPU)")
	flagsUsage, usageShown := fs.Usage, false
	fs.Usage = func() {
		usageShown = true
		flagsUsage()
		fmt.Fprint(stderr, validateHelp)
	}
	usageError := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "vhdir validate: "+format+"\n", a...)
		return errUsage
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		if usageShown { // the flag package has said what is wrong
			return errUsage
		}
		return usageError("%v", err)
	}
	if *maxNodes < 1 {
		return usageError("--max-resource-nodes must be at least 1")
	}
	if *workers < 0 {
		return usageError("--workers must not be negative")
	}
	if *workers == 0 {
		*workers = runtime.GOMAXPROCS(0)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "vhdir validate: name at least one file or folder")
		fs.Usage()
		return errUsage
	}
	v, err := profile.New()
	if err != nil {
		return err
	}
	c := &checker{v: v, extra: map[string][]string{}, limits: jsontree.Limits{MaxNodes: *maxNodes}}
	for _, url := range profiles {
		typ, ok := v.ProfileType(url)
		switch {
		case !v.Known(url):
			return usageError("--profile %s is not a known profile; known: %s", url, strings.Join(v.Profiles(), ", "))
		case !ok:
			return usageError("--profile %s is an extension, not a profile of a resource", url)
		}
		c.extra[typ] = append(c.extra[typ], url)
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	var files, resources, withErrors, withWarnings int
	show := func(is fhir.Issue) bool { return *verbose || is.Severity != fhir.SeverityInformation }
	err = runOrdered(ctx, *workers, func(emit func(task) bool) {
		files = c.inputs(fs.Args(), emit)
	}, func(f finding) {
		resources++
		switch {
		case profile.HasErrors(f.issues):
			withErrors++
		case slices.ContainsFunc(f.issues, func(is fhir.Issue) bool { return is.Severity == fhir.SeverityWarning }):
			withWarnings++
		}
		shown := slices.DeleteFunc(slices.Clone(f.issues), func(is fhir.Issue) bool { return !show(is) })
		if len(shown) == 0 {
			return
		}
		if *asJSON {
			out.Write(jsontree.Marshal(f.object(shown)))
			out.WriteByte('\n')
			return
		}
		for _, is := range shown {
			fmt.Fprintf(out, "%s: %s\n", f.place(), issueLine(is))
		}
	})
	summary := fmt.Sprintf("%d resources in %d files: %d with errors, %d with warnings\n", resources, files, withErrors, withWarnings)
	if *asJSON {
		fmt.Fprint(stderr, summary)
	} else {
		out.WriteString(summary)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if withErrors > 0 {
		return exitError{code: 1}
	}
	return nil
}

// profileList is --profile: profile URLs, the flag repeated or the URLs
// separated by commas (as VHDIR_PROFILE holds them).
type profileList []string

func (p *profileList) String() string { return strings.Join(*p, ",") }

func (p *profileList) Set(v string) error {
	for url := range strings.SplitSeq(v, ",") {
		if url = strings.TrimSpace(url); url != "" {
			*p = append(*p, url)
		}
	}
	return nil
}

// finding is what validate reports about one resource, or about an input
// that holds none it can read.
type finding struct {
	file   string
	line   int    // NDJSON line, or the line of malformed JSON; 0 otherwise
	entry  int    // Bundle entry, -1 otherwise
	target string // Type/id, or Type; "" when unknown
	issues []fhir.Issue
}

// place names where the resource came from: data.ndjson:3 (Practitioner/p1),
// bundle.json entry 2 (Location/l1).
func (f finding) place() string {
	s := f.file
	if f.line > 0 {
		s += ":" + strconv.Itoa(f.line)
	}
	if f.entry >= 0 {
		s += " entry " + strconv.Itoa(f.entry)
	}
	if f.target != "" {
		s += " (" + f.target + ")"
	}
	return s
}

// object is the --json form of f holding the issues shown.
func (f finding) object(issues []fhir.Issue) *jsontree.Object {
	o := &jsontree.Object{}
	o.Set("file", f.file)
	if f.line > 0 {
		o.Set("line", jsontree.Number(strconv.Itoa(f.line)))
	}
	if f.entry >= 0 {
		o.Set("entry", jsontree.Number(strconv.Itoa(f.entry)))
	}
	if f.target != "" {
		o.Set("resource", f.target)
	}
	o.Set("outcome", fhir.OutcomeOf(issues...))
	return o
}

// issueLine is one issue as text: SEVERITY EXPRESSION: DIAGNOSTICS.
func issueLine(is fhir.Issue) string {
	s := is.Severity
	if len(is.Expression) > 0 {
		s += " " + strings.Join(is.Expression, ", ")
	}
	return s + ": " + is.Diagnostics
}

// target names a resource: Type/id, Type without an id.
func target(obj *jsontree.Object) string {
	typ, _ := obj.String("resourceType")
	if typ == "" {
		return ""
	}
	if id, ok := obj.String("id"); ok && id != "" {
		return typ + "/" + id
	}
	return typ
}

// checker checks resources; safe for concurrent use.
type checker struct {
	v      *profile.Validator
	extra  map[string][]string // --profile URLs by the resource type they constrain
	limits jsontree.Limits     // the bound on one resource's JSON values
}

// Information issues that say why rules were not checked.
var (
	profileNotChecked = fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
		Diagnostics: "R4 invariants and bindings and the profiles were not checked: the structure errors come first"}
	bundleNotChecked = fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
		Diagnostics: "the Bundle's own R4 invariants and bindings were not checked: the Bundle or an entry's resource has structure errors, or an entry's resource is over --max-resource-nodes"}
)

// resource checks one resource: R4 structure, then, only when that found no
// issue, R4's invariants and bindings and the profiles. A batch or
// transaction entry's resource (batchEntry >= 0) is checked as vhdir serve
// checks it within its Bundle: its references may be conditional
// (Type?criteria). Issues name paths from the resource's type either way.
func (c *checker) resource(obj *jsontree.Object, batchEntry int) (issues []fhir.Issue) {
	defer func() {
		if r := recover(); r != nil {
			issues = []fhir.Issue{internalError(r)}
		}
	}()
	if jsontree.Count(obj) > c.limits.MaxNodes {
		return []fhir.Issue{c.tooLarge()}
	}
	typ, _ := obj.String("resourceType")
	if batchEntry >= 0 {
		issues = fromEntry(fhir.ValidateEntry(batchEntry, obj), typ)
	} else {
		issues = fhir.Validate(obj)
	}
	if len(issues) > 0 {
		return append(issues, profileNotChecked)
	}
	return c.v.Validate(obj, c.extra[typ]...)
}

// bundleItself checks a Bundle's own elements: its structure issues, less
// those inside the entries' resources in apart (each checked and reported
// on its own), then, only when the Bundle and every entry's resource pass
// the structure check, its R4 rules beyond structure (bdl-1 to bdl-12) and
// profiles without its entries' resources (ValidateShell).
func (c *checker) bundleItself(b *jsontree.Object, batch bool, apart map[int]bool) (issues []fhir.Issue) {
	defer func() {
		if r := recover(); r != nil {
			issues = []fhir.Issue{internalError(r)}
		}
	}()
	var whole []fhir.Issue
	if batch {
		whole = fhir.ValidateShell(b)
		raw, _ := b.Get("entry")
		arr, _ := raw.([]any)
		for i, e := range arr {
			eo, ok := e.(*jsontree.Object)
			if !ok {
				continue
			}
			if res, ok := eo.Get("resource"); ok {
				whole = append(whole, fhir.ValidateEntry(i, res)...)
			}
		}
	} else {
		whole = fhir.Validate(b)
	}
	own := outsideEntries(whole, apart)
	if len(whole) > 0 || c.entryTooLarge(b, apart) {
		return append(own, bundleNotChecked)
	}
	return c.v.ValidateShell(b, c.extra["Bundle"]...)
}

// entryTooLarge reports whether the resource of an entry in apart holds
// more values than the bound on one resource: it is not checked, so neither
// is the Bundle as a whole.
func (c *checker) entryTooLarge(b *jsontree.Object, apart map[int]bool) bool {
	raw, _ := b.Get("entry")
	arr, _ := raw.([]any)
	for i := range apart {
		if res, _ := arr[i].(*jsontree.Object).Get("resource"); jsontree.Count(res) > c.limits.MaxNodes {
			return true
		}
	}
	return false
}

func (c *checker) tooLarge() fhir.Issue {
	return fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueTooCostly,
		Diagnostics: fmt.Sprintf("the resource holds more than %d JSON values (objects, arrays, strings, numbers, true, false and null, each counted): the limit for one resource, set with --max-resource-nodes", c.limits.MaxNodes)}
}

func internalError(r any) fhir.Issue {
	return fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueException,
		Diagnostics: fmt.Sprintf("internal error while checking this resource, please report it: %v", r)}
}

// entryOf splits a FHIRPath inside a Bundle entry's resource,
// Bundle.entry[3].resource.name[0], into the entry (3) and the path within
// the resource (.name[0]).
func entryOf(expr string) (entry int, rest string, ok bool) {
	s, ok := strings.CutPrefix(expr, "Bundle.entry[")
	if !ok {
		return 0, "", false
	}
	n, s, ok := strings.Cut(s, "]")
	if !ok {
		return 0, "", false
	}
	entry, err := strconv.Atoi(n)
	if err != nil {
		return 0, "", false
	}
	rest, ok = strings.CutPrefix(s, ".resource")
	if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
		return 0, "", false
	}
	return entry, rest, true
}

// fromEntry rewrites the paths of fhir.ValidateEntry's issues,
// Bundle.entry[i].resource.x, to start at the resource's type (Type.x).
func fromEntry(issues []fhir.Issue, typ string) []fhir.Issue {
	if typ == "" {
		return issues
	}
	for i := range issues {
		exprs := slices.Clone(issues[i].Expression)
		for j, e := range exprs {
			if _, rest, ok := entryOf(e); ok {
				exprs[j] = typ + rest
			}
		}
		issues[i].Expression = exprs
	}
	return issues
}

// outsideEntries drops the issues that lie inside the resources of the
// entries in apart.
func outsideEntries(issues []fhir.Issue, apart map[int]bool) []fhir.Issue {
	return slices.DeleteFunc(slices.Clone(issues), func(is fhir.Issue) bool {
		if len(is.Expression) == 0 {
			return false
		}
		for _, e := range is.Expression {
			if i, _, ok := entryOf(e); !ok || !apart[i] {
				return false
			}
		}
		return true
	})
}

// task checks what one piece of input holds, in order.
type task func() []finding

// inputs walks paths in order (a folder's *.json and *.ndjson files sorted),
// emitting the checks of what they hold, and returns the number of files.
// It stops when emit does.
func (c *checker) inputs(paths []string, emit func(task) bool) (files int) {
	fixed := func(f finding) task { return func() []finding { return []finding{f} } }
	readError := func(path string, err error) task {
		return fixed(finding{file: path, entry: -1, issues: []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: err.Error()}}})
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			files++
			if !emit(readError(p, err)) {
				return files
			}
			continue
		}
		if !info.IsDir() {
			files++
			if !c.file(p, emit, readError) {
				return files
			}
			continue
		}
		type found struct {
			path string
			err  error
		}
		var list []found
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				list = append(list, found{path, err})
				if d != nil && d.IsDir() && path != p {
					return fs.SkipDir
				}
			case !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".ndjson")):
				list = append(list, found{path: path})
			}
			return nil
		})
		slices.SortStableFunc(list, func(a, b found) int { return strings.Compare(a.path, b.path) })
		for _, f := range list {
			files++
			ok := true
			if f.err != nil {
				ok = emit(readError(f.path, f.err))
			} else {
				ok = c.file(f.path, emit, readError)
			}
			if !ok {
				return files
			}
		}
	}
	return files
}

// file emits the checks of one file; false when emit stopped.
func (c *checker) file(path string, emit func(task) bool, readError func(string, error) task) bool {
	if strings.HasSuffix(path, ".ndjson") {
		return c.ndjson(path, emit)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return emit(readError(path, err))
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM, as some exports carry
	obj, err := jsontree.ParseObject(data)
	if err != nil {
		f := parseFinding(path, 0, err, c)
		return emit(func() []finding { return []finding{f} })
	}
	for _, t := range c.resourceTasks(path, 0, obj) {
		if !emit(t) {
			return false
		}
	}
	return true
}

// ndjson emits a check per line of an NDJSON file, read as a stream.
func (c *checker) ndjson(path string, emit func(task) bool) bool {
	f, err := os.Open(path)
	if err != nil {
		return emit(func() []finding {
			return []finding{{file: path, entry: -1, issues: []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: err.Error()}}}}
		})
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(r, maxValidateLine)
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		var t task
		switch {
		case tooLong:
			t = func() []finding {
				return []finding{{file: path, line: n, entry: -1, issues: []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueTooLong,
					Diagnostics: fmt.Sprintf("the line is longer than %d MiB; it was skipped", maxValidateLine>>20)}}}}
			}
		case len(bytes.TrimSpace(line)) > 0:
			t = func() []finding { return c.line(path, n, line) }
		}
		if t != nil && !emit(t) {
			return false
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return emit(func() []finding {
				return []finding{{file: path, line: n + 1, entry: -1, issues: []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: err.Error()}}}}
			})
		}
	}
}

// readLine reads one line (without its end) of at most max bytes into a
// fresh slice. A longer line is read to its end and dropped: tooLong.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > max+1 { // +1: the '\n'
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		return line, tooLong, err
	}
}

// line checks the resource on line n of an NDJSON file.
func (c *checker) line(path string, n int, data []byte) []finding {
	obj, err := c.limits.ParseObject(data)
	if err != nil {
		return []finding{parseFinding(path, n, err, c)}
	}
	var out []finding
	for _, t := range c.resourceTasks(path, n, obj) {
		out = append(out, t()...)
	}
	return out
}

// parseFinding reports malformed JSON (or a resource over the bound on its
// values) at the line at fault: line n of an NDJSON file, or a line of a
// JSON file (n = 0).
func parseFinding(path string, n int, err error, c *checker) finding {
	f := finding{file: path, line: n, entry: -1}
	var se *jsontree.SyntaxError
	switch {
	case errors.As(err, &se) && n > 0:
		f.issues = []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: fmt.Sprintf("invalid JSON at column %d: %s", se.Column, se.Msg)}}
	case errors.As(err, &se):
		f.line = se.Line
		f.issues = []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: se.Error()}}
	case errors.As(err, new(*jsontree.LimitError)):
		f.issues = []fhir.Issue{c.tooLarge()}
	default:
		f.issues = []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: err.Error()}}
	}
	return f
}

// resourceTasks returns the checks of a parsed resource from path (line n
// of it, n > 0, for NDJSON): one, or for a Bundle its own elements and then
// each entry's resource.
func (c *checker) resourceTasks(path string, n int, obj *jsontree.Object) []task {
	if typ, _ := obj.String("resourceType"); typ != "Bundle" {
		return []task{func() []finding {
			return []finding{{file: path, line: n, entry: -1, target: target(obj), issues: c.resource(obj, -1)}}
		}}
	}
	btype, _ := obj.String("type")
	batch := btype == "batch" || btype == "transaction"
	raw, _ := obj.Get("entry")
	arr, _ := raw.([]any)
	apart := map[int]bool{}
	var entries []task
	for i, e := range arr {
		eo, _ := e.(*jsontree.Object)
		if eo == nil {
			continue
		}
		res, ok := eo.Object("resource")
		if !ok {
			continue // no resource (a delete), or not an object: the Bundle's own issue
		}
		apart[i] = true
		batchEntry := -1
		if batch {
			batchEntry = i
		}
		entries = append(entries, func() []finding {
			return []finding{{file: path, line: n, entry: i, target: target(res), issues: c.resource(res, batchEntry)}}
		})
	}
	own := func() []finding {
		return []finding{{file: path, line: n, entry: -1, target: target(obj), issues: c.bundleItself(obj, batch, apart)}}
	}
	return append([]task{own}, entries...)
}

// runOrdered runs the tasks produce emits on workers goroutines and hands
// their findings to consume in the order emitted. At most a few tasks per
// worker are in flight, so memory stays bounded however long the input.
// emit returns false once ctx is done.
func runOrdered(ctx context.Context, workers int, produce func(emit func(task) bool), consume func(finding)) error {
	type slot struct {
		run  task
		done chan []finding
	}
	order := make(chan slot, 4*workers)
	work := make(chan slot)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for s := range work {
				s.done <- s.run()
			}
		})
	}
	go func() {
		defer close(order)
		defer close(work)
		produce(func(t task) bool {
			s := slot{t, make(chan []finding, 1)}
			select {
			case order <- s:
			case <-ctx.Done():
				return false
			}
			work <- s // a worker is always about to take it
			return true
		})
	}()
	for s := range order {
		for _, f := range <-s.done {
			consume(f)
		}
	}
	wg.Wait()
	return ctx.Err()
}
