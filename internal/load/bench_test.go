package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/testdb"
)

// directoryNDJSON makes n resources shaped like a provider directory, as
// NDJSON: for every 10, 1 Organization, 1 Location, 4 Practitioners and 4
// PractitionerRoles pointing at them, with NPIs, names, addresses, phones,
// NUCC specialties and the IG's identifier-status and newpatients
// extensions. Deterministic for a seed.
func directoryNDJSON(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	families := []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez", "Martínez", "Hernández", "López", "Nguyen", "Kim", "Patel"}
	givens := []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "José", "Zoë"}
	cities := [][3]string{{"Boston", "MA", "02118"}, {"Denver", "CO", "80202"}, {"Austin", "TX", "78701"}, {"Seattle", "WA", "98101"}, {"Atlanta", "GA", "30303"}}
	specialties := [][2]string{{"207RC0000X", "Cardiovascular Disease"}, {"207Q00000X", "Family Medicine"}, {"208D00000X", "General Practice"}, {"207R00000X", "Internal Medicine"}, {"2084P0800X", "Psychiatry"}}
	const status = `"extension":[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/identifier-status","valueCode":"active"}]`
	var b strings.Builder
	for i := 0; i < n; i++ {
		group := i / 10
		c := cities[group%len(cities)]
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, `{"resourceType":"Organization","id":"org-%d","identifier":[{%s,"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"active":true,"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"prov"}]}],"name":"%s %s Medical Group %d","telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"line":["%d Main St"],"city":"%s","state":"%s","postalCode":"%s","country":"USA"}]}`+"\n",
				group, status, 1000000000+group, c[0], families[group%len(families)], group, group%10000, 1+group%900, c[0], c[1], c[2])
		case 1:
			fmt.Fprintf(&b, `{"resourceType":"Location","id":"loc-%d","identifier":[{%s,"system":"http://example.org/location","value":"L%d"}],"status":"active","name":"%s Clinic %d","address":{"line":["%d Elm St"],"city":"%s","state":"%s","postalCode":"%s"},"position":{"longitude":%.6f,"latitude":%.6f},"managingOrganization":{"reference":"Organization/org-%d"}}`+"\n",
				group, status, group, c[0], group, 1+group%700, c[0], c[1], c[2], -120+r.Float64()*40, 30+r.Float64()*15, group)
		case 2, 3, 4, 5:
			fmt.Fprintf(&b, `{"resourceType":"Practitioner","id":"prac-%d","identifier":[{%s,"system":"http://hl7.org/fhir/sid/us-npi","value":"%d"}],"active":true,"name":[{"use":"official","family":"%s","given":["%s"],"text":"%s %s"}],"telecom":[{"system":"phone","value":"555-%04d","use":"work"}],"address":[{"city":"%s","state":"%s","postalCode":"%s"}],"gender":"%s","qualification":[{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0360","code":"MD"}]},"issuer":{"display":"State Board"}}]}`+"\n",
				i, status, 1500000000+i, families[r.IntN(len(families))], givens[r.IntN(len(givens))], givens[i%len(givens)], families[i%len(families)], i%10000, c[0], c[1], c[2], []string{"male", "female"}[i%2])
		default:
			s := specialties[r.IntN(len(specialties))]
			fmt.Fprintf(&b, `{"resourceType":"PractitionerRole","id":"role-%d","extension":[{"url":"http://hl7.org/fhir/uv/vhdir/StructureDefinition/newpatients","extension":[{"url":"acceptingPatients","valueBoolean":%v}]}],"identifier":[{%s,"system":"http://example.org/role","value":"R%d"}],"active":true,"practitioner":{"reference":"Practitioner/prac-%d"},"organization":{"reference":"Organization/org-%d"},"code":[{"coding":[{"system":"http://hl7.org/fhir/uv/vhdir/CodeSystem/providerrole","code":"ph"}]}],"specialty":[{"coding":[{"system":"http://nucc.org/provider-taxonomy","code":"%s","display":"%s"}]}],"location":[{"reference":"Location/loc-%d"}],"telecom":[{"system":"phone","value":"555-%04d"}]}`+"\n",
				i, r.IntN(2) == 0, status, i, i-4, group, s[0], s[1], group, i%10000)
		}
	}
	return []byte(b.String())
}

// batchSize is the resources per transaction the benchmark loads with.
var batchSize = 2000

// BenchmarkLoad loads 100,000 resources (NDJSON) into a fresh database
// per iteration and reports resources per second. Run with -benchtime 1x.
func BenchmarkLoad(b *testing.B) {
	const n = 100_000
	data := directoryNDJSON(n, 42)
	inputs := []struct {
		name  string
		files []load.File
	}{
		{"ndjson", []load.File{{Name: "dir.ndjson", Data: data}}},
		// The same resources as transaction Bundles of 500 PUTs, each run
		// through the FHIR transaction interaction (what a client posting
		// Bundles to /fhir gets, minus HTTP).
		{"transaction", transactionBundles(data, 500)},
	}
	for _, be := range testdb.All {
		for _, in := range inputs {
			b.Run(be.Name+"/"+in.name, func(b *testing.B) { benchLoad(b, func(b *testing.B) store.Store { return be.Fresh(b) }, in.files, n) })
		}
	}
}

// transactionBundles wraps NDJSON lines into transaction Bundles of size
// entries (PUT Type/id).
func transactionBundles(ndjson []byte, size int) []load.File {
	var files []load.File
	var entries []string
	flush := func() {
		if len(entries) > 0 {
			body := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
			files = append(files, load.File{Name: fmt.Sprintf("tx-%04d.json", len(files)), Data: []byte(body)})
			entries = entries[:0]
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(ndjson)), "\n") {
		var head struct{ ResourceType, ID string }
		_ = json.Unmarshal([]byte(line), &head)
		entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"%s/%s"}}`, line, head.ResourceType, head.ID))
		if len(entries) == size {
			flush()
		}
	}
	flush()
	return files
}

func benchLoad(b *testing.B, open func(*testing.B) store.Store, files []load.File, n int) {
	var total float64
	for b.Loop() {
		b.StopTimer()
		st := open(b)
		cfg := config(b, st)
		cfg.BatchSize = batchSize
		b.StartTimer()
		sum, err := load.RunFiles(operator, cfg, files)
		if err != nil || len(sum.Problems) > 0 || sum.Total() != n {
			b.Fatalf("load: %v, %d written, problems %v", err, sum.Total(), sum.Problems[:min(3, len(sum.Problems))])
		}
		total += sum.Duration.Seconds()
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total, "resources/s")
}

// BenchmarkLoadValidation loads the generated directory of 20,000
// practitioners (100,939 resources, `vhdir gen`'s) into a fresh SQLite
// database under --profile-validation off and enforce, alternately, and
// reports resources per second: what validating every resource costs a
// load. Run with -benchtime 1x -count 3.
func BenchmarkLoadValidation(b *testing.B) {
	files := generatedDirectory(b, 20000)
	for _, mode := range []profile.Mode{profile.Off, profile.Enforce} {
		b.Run(mode.String(), func(b *testing.B) {
			var total float64
			n := 0
			for b.Loop() {
				b.StopTimer()
				st := testdb.All[0].Fresh(b)
				cfg := configWith(b, st, mode)
				cfg.BatchSize = batchSize
				b.StartTimer()
				sum, err := load.RunFiles(operator, cfg, files)
				if err != nil || len(sum.Problems) > 0 {
					b.Fatalf("load: %v, problems %v", err, sum.Problems[:min(3, len(sum.Problems))])
				}
				total += sum.Duration.Seconds()
				n += sum.Total()
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)/total, "resources/s")
		})
	}
}

// generatedDirectory is `vhdir gen --practitioners n` in memory, one file
// per type in the order it loads.
func generatedDirectory(b *testing.B, practitioners int) []load.File {
	b.Helper()
	bufs := map[string]*bytes.Buffer{}
	if _, err := gen.Generate(context.Background(), gen.Config{Practitioners: practitioners, Seed: 1}, func(typ string) io.Writer {
		bufs[typ] = &bytes.Buffer{}
		return bufs[typ]
	}); err != nil {
		b.Fatal(err)
	}
	var files []load.File
	for _, typ := range gen.Types() {
		if buf := bufs[typ]; buf != nil {
			files = append(files, load.File{Name: typ + ".ndjson", Data: buf.Bytes()})
		}
	}
	return files
}
