package profile

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/gen"
	"github.com/vhdir/vhdir/internal/jsontree"
)

// generated returns one generated resource per type (the first of each
// NDJSON file of a small `vhdir gen` directory): the benchmark's typical
// directory resources.
func generated(b *testing.B) map[string][]byte {
	b.Helper()
	files := map[string]*bytes.Buffer{}
	_, err := gen.Generate(context.Background(), gen.Config{Practitioners: 50, Seed: 1}, func(typ string) io.Writer {
		buf := &bytes.Buffer{}
		files[typ] = buf
		return buf
	})
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][]byte{}
	for typ, buf := range files {
		line, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
		out[typ] = line
	}
	return out
}

// BenchmarkValidate times profile validation of typical directory
// resources beside what every write pays anyway: parsing the JSON and the
// structural R4 check.
//
//	go test -run XXX -bench Validate -benchmem ./internal/profile/
func BenchmarkValidate(b *testing.B) {
	v := validator(b)
	res := generated(b)
	for _, typ := range []string{"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint"} {
		data := res[typ]
		if data == nil {
			b.Fatalf("no generated %s", typ)
		}
		obj, err := jsontree.ParseObject(data)
		if err != nil {
			b.Fatal(err)
		}
		if is := fhir.Validate(obj); is != nil {
			b.Fatalf("%s: %v", typ, is)
		}
		b.Run(typ+"/parse", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := jsontree.ParseObject(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(typ+"/structure", func(b *testing.B) {
			for b.Loop() {
				fhir.Validate(obj)
			}
		})
		b.Run(typ+"/profile", func(b *testing.B) {
			for b.Loop() {
				v.Validate(obj)
			}
		})
	}
}
