package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/ig"
)

const (
	vhdirPractitioner = "http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-practitioner"
	// goodPractitioner meets R4 and vhdir-practitioner; it has warnings
	// only (dom-6: no narrative).
	goodPractitioner  = `{"resourceType":"Practitioner","id":"good","active":true,"name":[{"family":"Smith","given":["Ann"]}]}`
	robotPractitioner = `{"resourceType":"Practitioner","id":"robot","active":true,"name":[{"family":"Smith","given":["Ann"]}],"gender":"robot"}`
)

// exampleData returns the IG example file named name.
func exampleData(name string) string {
	for _, f := range ig.Examples() {
		if f.Name == name {
			return string(f.Data)
		}
	}
	panic("no IG example " + name)
}

// writeFiles writes files (slash-separated path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runValidateIn runs vhdir validate with args in dir (relative paths in args
// name its files) and returns the exit status, stdout and stderr.
func runValidateIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"validate"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestValidateExamples(t *testing.T) {
	dir := t.TempDir()
	for _, f := range ig.Examples() {
		writeFiles(t, dir, map[string]string{f.Name: string(f.Data)})
	}
	for _, f := range ig.Examples() {
		t.Run(f.Name, func(t *testing.T) {
			code, out, errs := runValidateIn(t, dir, f.Name)
			if code != 0 || strings.Contains(out, ": error ") || !strings.Contains(out, "0 with errors") {
				t.Errorf("vhdir validate %s = %d; want 0\nstdout:\n%s\nstderr:\n%s", f.Name, code, out, errs)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		env   map[string]string
		code  int
		want  []string // in stdout
		not   []string // not in stdout
		// wantErr is in stderr.
		wantErr []string
	}{
		{
			name:  "warnings only",
			files: map[string]string{"p.json": goodPractitioner},
			args:  []string{"p.json"},
			code:  0,
			want:  []string{"p.json (Practitioner/good): warning Practitioner: dom-6", "1 resources in 1 files: 0 with errors, 1 with warnings"},
		},
		{
			name: "NDJSON in a folder",
			files: map[string]string{
				"dir/file.ndjson": goodPractitioner + "\n" + robotPractitioner + "\n\n" + goodPractitioner + "\n",
				"dir/notes.txt":   "not looked at",
			},
			args: []string{"dir"},
			code: 1,
			want: []string{
				"dir/file.ndjson:2 (Practitioner/robot): error Practitioner.gender: ",
				"administrative-gender",
				"dir/file.ndjson:4 (Practitioner/good): warning", // blank line 3 skipped, still counted
				"3 resources in 1 files: 1 with errors, 2 with warnings",
			},
			not: []string{"file.ndjson:1 (Practitioner/good): error", "notes.txt"},
		},
		{
			name: "Bundle entry",
			files: map[string]string{"b.json": `{"resourceType":"Bundle","id":"b1","type":"collection","entry":[
				{"resource":` + goodPractitioner + `},
				{"resource":` + robotPractitioner + `}]}`},
			args: []string{"b.json"},
			code: 1,
			want: []string{"b.json entry 1 (Practitioner/robot): error Practitioner.gender: ", "3 resources in 1 files: 1 with errors, 1 with warnings"},
			not:  []string{"entry 0 (Practitioner/good): error", "(Bundle/b1): error"},
		},
		{
			name: "Bundle's own elements",
			files: map[string]string{"b.json": `{"resourceType":"Bundle","id":"b1","type":"collection","entry":[
				{"resource":` + goodPractitioner + `}, 5]}`},
			args: []string{"b.json"},
			code: 1,
			want: []string{"b.json (Bundle/b1): error Bundle.entry[1]: "},
			not:  []string{"entry 0 (Practitioner/good): error"},
		},
		{
			name: "transaction entry with a conditional reference",
			files: map[string]string{"t.json": `{"resourceType":"Bundle","type":"transaction","entry":[
				{"resource":{"resourceType":"Practitioner","active":true,"name":[{"family":"Smith","given":["Ann"]}],
				  "qualification":[{"code":{"text":"MD"},"issuer":{"reference":"Organization?identifier=x|1"}}]},
				 "request":{"method":"POST","url":"Practitioner"}},
				{"request":{"method":"DELETE","url":"Practitioner/old"}},
				{"resource":` + robotPractitioner + `,"request":{"method":"PUT","url":"Practitioner/robot"}}]}`},
			args: []string{"t.json"},
			code: 1,
			want: []string{"t.json entry 2 (Practitioner/robot): error Practitioner.gender: "},
			not:  []string{"entry 0 (Practitioner): error", "entry 1"},
		},
		{
			name:  "malformed NDJSON line",
			files: map[string]string{"bad.ndjson": goodPractitioner + "\n" + goodPractitioner + "\n" + `{"resourceType": "Practitioner", oops}` + "\n" + goodPractitioner},
			args:  []string{"bad.ndjson"},
			code:  1,
			want:  []string{"bad.ndjson:3: error: invalid JSON at column 34", "bad.ndjson:4 (Practitioner/good): warning"},
		},
		{
			name:  "malformed JSON file",
			files: map[string]string{"c.json": "{\n  \"resourceType\": \"Practitioner\",\n  \"id\": \"x\" x\n}\n"},
			args:  []string{"c.json"},
			code:  1,
			want:  []string{"c.json:3: error: invalid JSON at line 3 column 13"},
		},
		{
			name:  "unreadable path",
			files: map[string]string{},
			args:  []string{"missing.json"},
			code:  1,
			want:  []string{"missing.json: error: ", "1 resources in 1 files: 1 with errors"},
		},
		{
			name:  "Observation, a type vhdir does not serve",
			files: map[string]string{"o.json": `{"resourceType":"Observation","id":"o1","status":"bogus","code":{"text":"pulse"}}`},
			args:  []string{"o.json"},
			code:  1,
			want:  []string{"o.json (Observation/o1): error Observation.status: ", "observation-status"},
		},
		{
			name:  "Patient, a type vhdir does not serve",
			files: map[string]string{"pt.ndjson": `{"resourceType":"Patient","id":"pt1","gender":"robot"}`},
			args:  []string{"pt.ndjson"},
			code:  1,
			want:  []string{"pt.ndjson:1 (Patient/pt1): error Patient.gender: ", "administrative-gender"},
		},
		{
			name:  "structure errors first",
			files: map[string]string{"pt.json": `{"resourceType":"Patient","id":"pt1","gender":"robot","colour":"blue"}`},
			args:  []string{"pt.json"},
			code:  1,
			want:  []string{`pt.json (Patient/pt1): error Patient: unknown element "colour"`},
			not:   []string{"Patient.gender", "not checked"}, // information: --verbose only
		},
		{
			name:  "structure errors first, verbose",
			files: map[string]string{"pt.json": `{"resourceType":"Patient","id":"pt1","gender":"robot","colour":"blue"}`},
			args:  []string{"--verbose", "pt.json"},
			code:  1,
			want:  []string{"pt.json (Patient/pt1): information: R4 invariants and bindings and the profiles were not checked"},
		},
		{
			name:  "over --max-resource-nodes",
			files: map[string]string{"p.ndjson": goodPractitioner + "\n"},
			args:  []string{"--max-resource-nodes", "5", "p.ndjson"},
			code:  1,
			want:  []string{"p.ndjson:1: error: the resource holds more than 5 JSON values", "--max-resource-nodes"},
		},
		{
			name:  "--profile",
			files: map[string]string{"p.json": `{"resourceType":"Practitioner","id":"idle","meta":{"profile":["http://hl7.org/fhir/StructureDefinition/Practitioner"]},"name":[{"family":"Smith","given":["Ann"]}]}`},
			args:  []string{"--profile", vhdirPractitioner, "p.json"},
			code:  1,
			want:  []string{"p.json (Practitioner/idle): error Practitioner: Practitioner.active: minimum required = 1"},
		},
		{
			name:  "--profile beyond the type's own",
			files: map[string]string{"org.json": exampleData("org-example-homeland.json")},
			args:  []string{"--profile", "http://hl7.org/fhir/uv/vhdir/StructureDefinition/vhdir-network", "org.json"},
			code:  1,
			want:  []string{"org.json (Organization/homeland): error Organization: Organization.partOf: minimum required = 1", "(vhdir-network)"},
		},
		{
			name:  "--profile from VHDIR_PROFILE, only for its type",
			files: map[string]string{"o.json": `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"pulse"}}`},
			args:  []string{"o.json"},
			env:   map[string]string{"VHDIR_PROFILE": vhdirPractitioner},
			code:  0,
			want:  []string{"0 with errors"},
			not:   []string{": error "},
		},
		{
			name:    "unknown --profile",
			files:   map[string]string{"p.json": goodPractitioner},
			args:    []string{"--profile", "http://example.org/StructureDefinition/nope", "p.json"},
			code:    2,
			wantErr: []string{"--profile http://example.org/StructureDefinition/nope is not a known profile"},
		},
		{
			name:    "--profile of an extension",
			files:   map[string]string{"p.json": goodPractitioner},
			args:    []string{"--profile", "http://hl7.org/fhir/uv/vhdir/StructureDefinition/ehr", "p.json"},
			code:    2,
			wantErr: []string{"is an extension"},
		},
		{
			name:    "no PATH",
			code:    2,
			wantErr: []string{"name at least one file or folder", "Usage: vhdir validate"},
		},
		{
			name:    "unknown flag",
			args:    []string{"--bogus", "p.json"},
			code:    2,
			wantErr: []string{"-bogus"},
		},
		{
			name:    "bad environment twin",
			args:    []string{"p.json"},
			env:     map[string]string{"VHDIR_MAX_RESOURCE_NODES": "many"},
			code:    2,
			wantErr: []string{"VHDIR_MAX_RESOURCE_NODES"},
		},
		{
			name:    "help",
			args:    []string{"--help"},
			code:    0,
			wantErr: []string{"Usage: vhdir validate [flags] PATH...", "--profile", "PATH[:LINE][ entry N] (Type/id): SEVERITY EXPRESSION: DIAGNOSTICS", "Exit status"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errs := runValidateIn(t, dir, tt.args...)
			if code != tt.code {
				t.Errorf("vhdir validate %s = %d; want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("vhdir validate %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("vhdir validate %s: stdout has %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("vhdir validate %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), w, errs)
				}
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.ndjson": goodPractitioner + "\n" + robotPractitioner + "\n{oops\n",
		"b.json":   `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + robotPractitioner + `}]}`,
	})
	code, out, errs := runValidateIn(t, dir, "--json", ".")
	if code != 1 {
		t.Errorf("vhdir validate --json = %d; want 1\nstderr:\n%s", code, errs)
	}
	if !strings.Contains(errs, "5 resources in 2 files: 3 with errors, 1 with warnings") {
		t.Errorf("stderr lacks the summary:\n%s", errs)
	}
	type record struct {
		File     string
		Line     int
		Entry    *int
		Resource string
		Outcome  struct {
			ResourceType string
			Issue        []struct {
				Severity, Code, Diagnostics string
				Expression                  []string
			}
		}
	}
	var got []record
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line %d %q: %v", i+1, l, err)
		}
		if r.Outcome.ResourceType != "OperationOutcome" || len(r.Outcome.Issue) == 0 {
			t.Errorf("stdout line %d %q: no OperationOutcome with issues", i+1, l)
		}
		got = append(got, r)
	}
	// Every resource has an issue (dom-6 at least), the good one too; the
	// Bundle itself has none and no record.
	where := func(r record) string {
		s := fmt.Sprintf("%s:%d", r.File, r.Line)
		if r.Entry != nil {
			s += " entry " + strconv.Itoa(*r.Entry)
		}
		return s + " " + r.Resource
	}
	wantWhere := []string{"a.ndjson:1 Practitioner/good", "a.ndjson:2 Practitioner/robot", "a.ndjson:3 ", "b.json:0 entry 0 Practitioner/robot"}
	var gotWhere []string
	for _, r := range got {
		gotWhere = append(gotWhere, where(r))
	}
	if strings.Join(gotWhere, "|") != strings.Join(wantWhere, "|") {
		t.Fatalf("records at %q; want %q\n%s", gotWhere, wantWhere, out)
	}
	hasGender := func(r record) bool {
		for _, is := range r.Outcome.Issue {
			if is.Severity == "error" && len(is.Expression) == 1 && is.Expression[0] == "Practitioner.gender" && strings.Contains(is.Diagnostics, "administrative-gender") {
				return true
			}
		}
		return false
	}
	if !hasGender(got[1]) || !hasGender(got[3]) {
		t.Errorf("the robots' outcomes lack the gender error at Practitioner.gender:\n%s", out)
	}
	if got[2].Outcome.Issue[0].Severity != "error" || !strings.Contains(got[2].Outcome.Issue[0].Diagnostics, "invalid JSON") {
		t.Errorf("line 3's outcome %+v; want the invalid JSON error", got[2].Outcome)
	}
}

// TestValidateOrder: with several workers, the output follows the input.
func TestValidateOrder(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	var want []int
	for i := 1; i <= 300; i++ {
		if i%7 == 0 {
			lines = append(lines, strings.Replace(robotPractitioner, `"robot"`, fmt.Sprintf(`"r%d"`, i), 1))
			want = append(want, i)
		} else {
			lines = append(lines, goodPractitioner)
		}
	}
	writeFiles(t, dir, map[string]string{"many.ndjson": strings.Join(lines, "\n")})
	code, out, errs := runValidateIn(t, dir, "--workers", "8", "many.ndjson")
	if code != 1 {
		t.Fatalf("vhdir validate = %d; want 1\nstderr:\n%s", code, errs)
	}
	re := regexp.MustCompile(`(?m)^many\.ndjson:(\d+) \(Practitioner/r(\d+)\): error Practitioner\.gender`)
	var got []int
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		line, _ := strconv.Atoi(m[1])
		id, _ := strconv.Atoi(m[2])
		if line != id {
			t.Errorf("line %d reported for Practitioner/r%d", line, id)
		}
		got = append(got, line)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("errors at lines %v; want %v", got, want)
	}
	if !strings.HasSuffix(out, "300 resources in 1 files: 42 with errors, 258 with warnings\n") {
		t.Errorf("summary: %q", out[max(0, len(out)-100):])
	}
}

// TestValidateReadLine: a line longer than the bound is dropped whole and
// the lines after it are read, across reads of the buffer.
func TestValidateReadLine(t *testing.T) {
	in := "short\n" + strings.Repeat("x", 100) + "\n" + strings.Repeat("y", 40) + "\nlast"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	type line struct {
		text    string
		tooLong bool
		err     error
	}
	var got []line
	for {
		l, tooLong, err := readLine(r, 40)
		got = append(got, line{string(l), tooLong, err})
		if err != nil {
			break
		}
	}
	want := []line{{"short", false, nil}, {"", true, nil}, {strings.Repeat("y", 40), false, nil}, {"last", false, io.EOF}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("readLine = %v; want %v", got, want)
	}
}

// TestValidateCancel: an interrupted run stops and says so.
func TestValidateCancel(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"p.ndjson": strings.Repeat(goodPractitioner+"\n", 1000)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs bytes.Buffer
	code := run(ctx, []string{"validate", filepath.Join(dir, "p.ndjson")}, io.Discard, &errs)
	if code != 1 || !strings.Contains(errs.String(), "context canceled") {
		t.Errorf("vhdir validate, cancelled = %d, %q; want 1, context canceled", code, errs.String())
	}
}
