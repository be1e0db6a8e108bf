// Package ig embeds the HL7 VhDir implementation guide (hl7.fhir.uv.vhdir
// STU1 1.0.0, FHIR 4.0.1): its conformance resources (SearchParameters,
// CapabilityStatement, StructureDefinitions, ValueSets, CodeSystems) and its
// example resources. The files are byte-for-byte copies of
// ../shared/fixtures (see TestFixturesInSync; `make ig-sync` refreshes them);
// nothing here is edited by hand. Corrections to IG defects are applied as
// data by the packages that use them, each with its reason.
package ig

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// Canonical is the IG's canonical base URL.
const Canonical = "http://hl7.org/fhir/uv/vhdir"

//go:embed conformance/*.json
var conformance embed.FS

//go:embed examples/*.json
var examples embed.FS

// File is one embedded file.
type File struct {
	Name string // base name, e.g. "practitioner-example-washington.json"
	Data []byte
}

// Conformance returns the conformance files whose names start with prefix
// (e.g. "searchparameter-"), sorted by name.
func Conformance(prefix string) []File { return files(conformance, "conformance", prefix) }

// Examples returns the IG's example resources (23 resources and one
// collection Bundle), sorted by name.
func Examples() []File { return files(examples, "examples", "") }

// SearchParameters returns the IG's SearchParameter resources, parsed.
func SearchParameters() ([]*jsontree.Object, error) {
	var out []*jsontree.Object
	for _, f := range Conformance("searchparameter-") {
		o, err := jsontree.ParseObject(f.Data)
		if err != nil {
			return nil, fmt.Errorf("ig: %s: %w", f.Name, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// CapabilityStatement returns the IG's server CapabilityStatement
// (vhdir-server), parsed.
func CapabilityStatement() (*jsontree.Object, error) {
	fs := Conformance("capabilitystatement-vhdir-server")
	if len(fs) != 1 {
		return nil, fmt.Errorf("ig: capabilitystatement-vhdir-server.json not embedded")
	}
	return jsontree.ParseObject(fs[0].Data)
}

func files(fsys embed.FS, dir, prefix string) []File {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic(err) // embedded at build time
	}
	var out []File
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, File{Name: e.Name(), Data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
