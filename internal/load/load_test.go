package load_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

func openBackends(t *testing.T) map[string]store.Store {
	t.Helper()
	out := map[string]store.Store{}
	for _, b := range testdb.All {
		st := b.Fresh(t)
		t.Cleanup(func() { st.Close() })
		out[b.Name] = st
	}
	return out
}

// config is what vhdir load runs with on st: the server built as serve
// builds it, in batches of 7. Profile issues are warnings: the fixtures are
// minimal resources that exercise loading.
func config(t testing.TB, st store.Store) load.Config {
	t.Helper()
	return configWith(t, st, profile.Warn)
}

// configWith is config under a --profile-validation mode.
func configWith(t testing.TB, st store.Store, mode profile.Mode) load.Config {
	t.Helper()
	srv, err := server.New(server.Config{BaseURL: "https://dir.example", Store: st, Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), ProfileValidation: mode})
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.LoadConfig()
	cfg.BatchSize = 7
	return cfg
}

// operator is the context of the operator running the loads.
var operator = server.AsOperator(context.Background(), "test", "load")

const fixtures = "../ig/examples" // the IG examples package ig embeds

func TestLoadIGExamples(t *testing.T) {
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("fixtures not found: %v", err)
	}
	for name, st := range openBackends(t) {
		t.Run(name, func(t *testing.T) {
			sum, err := load.Run(operator, config(t, st), []string{fixtures})
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Problems) != 0 || sum.Total() != 23 || sum.Files != 24 {
				t.Fatalf("load = %d written from %d files, problems %v; want the 23 examples from 24 files", sum.Total(), sum.Files, sum.Problems)
			}
			if sum.Written["Organization"] != 7 || sum.Written["Location"] != 4 {
				t.Errorf("per type = %v", sum.Written)
			}
			if sum.Unchanged != 2 {
				t.Errorf("unchanged = %d; want the 2 Bundle copies of hcs-ws and loc-ws", sum.Unchanged)
			}
			again, err := load.Run(operator, config(t, st), []string{fixtures})
			if err != nil || again.Total() != 0 || again.Unchanged != 25 {
				t.Errorf("second load = %d written, %d unchanged, %v; want 0 and 25", again.Total(), again.Unchanged, err)
			}
		})
	}
}

// TestLoadMessyInput: every bad resource is reported with its place and
// reason, the good ones around it are loaded.
func TestLoadMessyInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("a.ndjson", strings.Join([]string{
		`{"resourceType":"Organization","id":"n1","active":true}`,
		`{"resourceType":"Organization","id":"n2","active":"yes"}`,
		``,
		`{"resourceType":"Practitioner","id":"n3","extension":[{"url":"not a url","valueString":"x"}]}`,
		`{not json`,
		`{"resourceType":"Practitioner","id":"n4","active":true}`,
		`{"resourceType":"AuditEvent","id":"n5"}`,
	}, "\n"))
	write("b.json", `{"resourceType":"Bundle","type":"batch","entry":[
		{"resource":{"resourceType":"Location","status":"active"},"request":{"method":"POST","url":"Organization"}},
		{"resource":{"resourceType":"Location","id":"b2","status":"active","managingOrganization":{"reference":"https://elsewhere.example/fhir/Organization/1"}},"request":{"method":"PUT","url":"Location/b2"}}]}`)
	write("c.json", `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":{"resourceType":"Location","id":"t1","status":"active"},"request":{"method":"PUT","url":"Location/t1"}},
		{"resource":{"resourceType":"Location","id":"t2","status":"active"},"request":{"method":"PUT","url":"Location/t3"}}]}`)
	write("d.json", `{"resourceType":"Bundle","type":"collection","entry":[
		{"resource":{"resourceType":"Endpoint","id":"c1","status":"active","connectionType":{"code":"direct"},"payloadType":[{"text":"x"}],"address":"mailto:x@y.example"}},
		{"resource":{"resourceType":"Endpoint","id":"c2"}}]}`)
	write("e.json", `[1,2]`)
	write("ignored.txt", `not loaded`)
	for name, st := range openBackends(t) {
		t.Run(name, func(t *testing.T) {
			sum, err := load.Run(operator, config(t, st), []string{dir})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, p := range sum.Problems {
				got[fmt.Sprintf("%s:%d:%d", filepath.Base(p.File), p.Line, p.Entry)] = true
			}
			want := []string{"a.ndjson:2:-1", "a.ndjson:4:-1", "a.ndjson:5:-1", "a.ndjson:7:-1", "b.json:0:0", "c.json:0:-1", "d.json:0:1", "e.json:0:-1"}
			for _, w := range want {
				if !got[w] {
					t.Errorf("no problem reported at %s; problems: %v", w, sum.Problems)
				}
			}
			if len(sum.Problems) != len(want) {
				t.Errorf("%d problems; want %d: %v", len(sum.Problems), len(want), sum.Problems)
			}
			for _, p := range sum.Problems {
				if p.Reason == "" {
					t.Errorf("problem without a reason: %+v", p)
				}
			}
			for _, key := range [][2]string{{"Organization", "n1"}, {"Practitioner", "n4"}, {"Location", "b2"}, {"Endpoint", "c1"}} {
				if _, err := st.Read(context.Background(), key[0], key[1]); err != nil {
					t.Errorf("%s/%s not loaded: %v", key[0], key[1], err)
				}
			}
			if _, err := st.Read(context.Background(), "Location", "t1"); err == nil {
				t.Errorf("Location/t1 was stored although its transaction failed")
			}
			if sum.Files != 5 {
				t.Errorf("files = %d; want 5 (.json and .ndjson only)", sum.Files)
			}
		})
	}
}

func TestLoadBigNDJSONBatches(t *testing.T) {
	var b strings.Builder
	for i := range 1200 {
		fmt.Fprintf(&b, `{"resourceType":"Practitioner","id":"p%d","active":true,"name":[{"family":"F%d"}]}`+"\n", i, i%3)
	}
	// The same resource twice in one file: the later line wins, in order.
	b.WriteString(`{"resourceType":"Practitioner","id":"p5","active":false}` + "\n")
	for name, st := range openBackends(t) {
		t.Run(name, func(t *testing.T) {
			cfg := config(t, st)
			cfg.BatchSize = 100
			var progress int
			cfg.Progress = func(load.Progress) { progress++ }
			sum, err := load.RunFiles(operator, cfg, []load.File{{Name: "many.ndjson", Data: []byte(b.String())}})
			if err != nil || len(sum.Problems) != 0 || sum.Total() != 1201 {
				t.Fatalf("load = %d written, problems %v, err %v; want 1201", sum.Total(), sum.Problems, err)
			}
			v, err := st.Read(context.Background(), "Practitioner", "p5")
			if err != nil || v.VersionID != 2 || !strings.Contains(string(v.Body), `"active":false`) {
				t.Errorf("p5 = %v %s; want version 2 with active false", err, v.Body)
			}
			if progress == 0 {
				t.Errorf("no progress reported")
			}
		})
	}
}

// lenientFixture holds one resource per kind of repair, one that cannot be
// repaired (data.ndjson line 6), a batch Bundle with one repairable entry
// and a single repairable resource.
const lenientFixture = "testdata/lenient"

// TestLoadLenient loads the same files strictly, where every mismatched
// primitive is refused, and with Lenient, where the unambiguous ones are
// repaired, loaded and warned of, and the rest refused as before.
func TestLoadLenient(t *testing.T) {
	const unrepairable = "Practitioner.extension[0].value.ofType(integer): expected integer (a number), got a string"
	tests := []struct {
		lenient  bool
		problems []string
		warnings []string
		written  int
	}{
		{false, []string{
			"batch.json entry 0: 400 Bad Request: Bundle.entry[0].resource.identifier[0].value: expected string (a string), got a number",
			"data.ndjson:1 (Practitioner/p1): Practitioner.identifier[0].value: expected string (a string), got a number",
			"data.ndjson:2 (Organization/o1): Organization.type[0].coding[0].code: expected code (a string), got a boolean",
			"data.ndjson:3 (Location/l1): Location.position.latitude: expected decimal (a number), got a string",
			"data.ndjson:4 (Practitioner/p2): Practitioner.extension[0].value.ofType(integer): expected integer (a number), got a string",
			"data.ndjson:5 (Practitioner/p3): Practitioner.active: expected boolean (a boolean), got a string",
			"data.ndjson:6 (Practitioner/p4): " + unrepairable,
			"single.json (Practitioner/p6): Practitioner.active: expected boolean (a boolean), got a string",
		}, nil, 1}, // the batch's valid entry
		{true, []string{
			"data.ndjson:6 (Practitioner/p4): " + unrepairable,
		}, []string{
			"batch.json entry 0 (Practitioner/p5): repaired Practitioner.identifier[0].value: number 1234567801 → string",
			"data.ndjson:1 (Practitioner/p1): repaired Practitioner.identifier[0].value: number 1234567893 → string",
			"data.ndjson:2 (Organization/o1): repaired Organization.type[0].coding[0].code: boolean true → code",
			`data.ndjson:3 (Location/l1): repaired Location.position.latitude: string "38.50" → decimal`,
			`data.ndjson:4 (Practitioner/p2): repaired Practitioner.extension[0].value.ofType(integer): string "7" → integer`,
			`data.ndjson:5 (Practitioner/p3): repaired Practitioner.active: string "true" → boolean`,
			`single.json (Practitioner/p6): repaired Practitioner.active: string "false" → boolean`,
		}, 8},
	}
	for name, st := range openBackends(t) {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/lenient=%v", name, tt.lenient), func(t *testing.T) {
				cfg := config(t, st)
				cfg.Lenient = tt.lenient
				sum, err := load.Run(operator, cfg, []string{lenientFixture})
				if err != nil {
					t.Fatal(err)
				}
				var problems, warnings []string
				for _, p := range sum.Problems {
					problems = append(problems, strings.TrimPrefix(p.String(), lenientFixture+"/"))
				}
				for _, w := range sum.Warnings {
					warnings = append(warnings, strings.TrimPrefix(w.String(), lenientFixture+"/"))
				}
				if !slices.Equal(problems, tt.problems) {
					t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tt.problems, "\n"))
				}
				if !slices.Equal(warnings, tt.warnings) {
					t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.warnings, "\n"))
				}
				if sum.Total() != tt.written {
					t.Errorf("written = %d (%v); want %d", sum.Total(), sum.Written, tt.written)
				}
			})
		}
		t.Run(name+"/stored", func(t *testing.T) {
			for key, want := range map[[2]string]string{
				{"Practitioner", "p1"}: `"value":"1234567893"`,
				{"Organization", "o1"}: `"code":"true"`,
				{"Location", "l1"}:     `"latitude":38.50`,
				{"Practitioner", "p2"}: `"valueInteger":7`,
				{"Practitioner", "p3"}: `"active":true`,
				{"Practitioner", "p5"}: `"value":"1234567801"`,
				{"Practitioner", "p6"}: `"active":false`,
			} {
				v, err := st.Read(context.Background(), key[0], key[1])
				if err != nil {
					t.Errorf("%s/%s not stored: %v", key[0], key[1], err)
				} else if !strings.Contains(string(v.Body), want) {
					t.Errorf("%s/%s = %s; want it stored with %s", key[0], key[1], v.Body, want)
				}
			}
			if _, err := st.Read(context.Background(), "Practitioner", "p4"); err == nil {
				t.Errorf("Practitioner/p4 was stored although it cannot be repaired")
			}
		})
	}
}

// TestLoadBatchInvalidEntry: a batch file with one invalid resource loads
// the other entries and reports that one, by file and entry; the same
// entries as a transaction load nothing.
func TestLoadBatchInvalidEntry(t *testing.T) {
	entries := func(suffix string) string {
		return `[
		 {"resource":{"resourceType":"Practitioner","id":"good-` + suffix + `","active":true},"request":{"method":"PUT","url":"Practitioner/good-` + suffix + `"}},
		 {"resource":{"resourceType":"Practitioner","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":1234567893}]},"request":{"method":"POST","url":"Practitioner"}},
		 {"resource":{"resourceType":"Organization","id":"org-` + suffix + `","active":true},"request":{"method":"PUT","url":"Organization/org-` + suffix + `"}}]`
	}
	files := []load.File{
		{Name: "batch.json", Data: []byte(`{"resourceType":"Bundle","type":"batch","entry":` + entries("b") + `}`)},
		{Name: "transaction.json", Data: []byte(`{"resourceType":"Bundle","type":"transaction","entry":` + entries("t") + `}`)},
	}
	for name, st := range openBackends(t) {
		t.Run(name, func(t *testing.T) {
			sum, err := load.RunFiles(operator, config(t, st), files)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Total() != 2 || sum.Written["Practitioner"] != 1 || sum.Written["Organization"] != 1 {
				t.Errorf("written = %v; want the batch's two good entries", sum.Written)
			}
			if len(sum.Problems) != 2 {
				t.Fatalf("problems = %v; want the batch's entry 1 and the transaction", sum.Problems)
			}
			if p := sum.Problems[0]; p.File != "batch.json" || p.Entry != 1 || !strings.Contains(p.Reason, "400") || !strings.Contains(p.Reason, "expected string") {
				t.Errorf("batch problem = %v; want batch.json entry 1, 400, naming the problem", p)
			}
			if p := sum.Problems[1]; p.File != "transaction.json" || !strings.Contains(p.Reason, "nothing loaded") || !strings.Contains(p.Reason, "Bundle.entry[1].resource.identifier[0].value") {
				t.Errorf("transaction problem = %v; want transaction.json, nothing loaded, naming entry 1's element", p)
			}
			for _, key := range [][2]string{{"Practitioner", "good-b"}, {"Organization", "org-b"}} {
				if _, err := st.Read(context.Background(), key[0], key[1]); err != nil {
					t.Errorf("%s/%s not loaded: %v", key[0], key[1], err)
				}
			}
			for _, key := range [][2]string{{"Practitioner", "good-t"}, {"Organization", "org-t"}} {
				if _, err := st.Read(context.Background(), key[0], key[1]); err == nil {
					t.Errorf("%s/%s loaded although its transaction failed", key[0], key[1])
				}
			}
		})
	}
}
