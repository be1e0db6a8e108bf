package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/profile"
)

// generated is a directory generated into memory: each type's NDJSON.
type generated struct {
	files map[string][]byte
	sum   *Summary
}

func generate(t testing.TB, practitioners int, seed uint64) generated {
	t.Helper()
	d, err := generateErr(practitioners, seed)
	if err != nil {
		t.Fatalf("Generate(%d, %d) = %v", practitioners, seed, err)
	}
	return d
}

func generateErr(practitioners int, seed uint64) (generated, error) {
	bufs := map[string]*bytes.Buffer{}
	sum, err := Generate(context.Background(), Config{Practitioners: practitioners, Seed: seed}, func(typ string) io.Writer {
		b := &bytes.Buffer{}
		bufs[typ] = b
		return b
	})
	d := generated{files: map[string][]byte{}, sum: sum}
	for typ, b := range bufs {
		d.files[typ] = b.Bytes()
	}
	return d, err
}

// resource is one parsed line.
type resource struct {
	typ string
	obj *jsontree.Object
}

// parsed returns every resource of d, parsed and structurally validated by
// the server's own parser.
func (d generated) parsed() ([]resource, error) {
	var out []resource
	for _, typ := range Types() {
		for line := range bytes.Lines(d.files[typ]) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			r, err := fhir.ParseResource(line)
			if err != nil {
				return nil, fmt.Errorf("fhir.ParseResource(%s line) = %v\n%s", typ, err, line)
			}
			if r.Type != typ {
				return nil, fmt.Errorf("%s.ndjson holds a %s", typ, r.Type)
			}
			out = append(out, resource{typ: typ, obj: r.Obj})
		}
	}
	return out, nil
}

// sample is a directory of about five thousand resources, shared by the
// tests that inspect resources.
var sample struct {
	once sync.Once
	d    generated
	res  []resource
	err  error
}

func sampleResources(t *testing.T) []resource {
	t.Helper()
	sample.once.Do(func() {
		sample.d, sample.err = generateErr(1000, 42)
		if sample.err == nil {
			sample.res, sample.err = sample.d.parsed()
		}
	})
	if sample.err != nil {
		t.Fatal(sample.err)
	}
	return sample.res
}

// TestValidFHIR checks that every generated resource passes the server's
// structural R4 validation with no issue, and that ids are valid and
// unique.
func TestValidFHIR(t *testing.T) {
	res := sampleResources(t)
	if len(res) < 3000 {
		t.Fatalf("sample has %d resources; want a few thousand", len(res))
	}
	seen := map[string]bool{}
	for _, r := range res {
		id, _ := r.obj.String("id")
		if !fhir.ValidID(id) {
			t.Errorf("%s has invalid id %q", r.typ, id)
		}
		key := r.typ + "/" + id
		if seen[key] {
			t.Errorf("duplicate %s", key)
		}
		seen[key] = true
	}
	if got, want := int64(len(res)), sample.d.sum.Total(); got != want {
		t.Errorf("parsed %d resources; summary says %d", got, want)
	}
}

// TestProfileValid checks every generated resource with the server's
// profile validation (R4 invariants and bindings, the VhDir profiles): no
// errors, since vhdir load enforces them by default.
func TestProfileValid(t *testing.T) {
	v, err := profile.New()
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range sampleResources(t) {
		for _, is := range v.Validate(r.obj) {
			if is.Severity == fhir.SeverityError && failed < 20 {
				failed++
				id, _ := r.obj.String("id")
				t.Errorf("%s/%s: %s: %s", r.typ, id, is.Expression, is.Diagnostics)
			}
		}
	}
}

// TestDeterministic checks that the same seed and size give byte-identical
// files, through Run, and that another seed gives another directory.
func TestDeterministic(t *testing.T) {
	run := func(seed uint64) map[string][]byte {
		dir := t.TempDir()
		if _, err := Run(context.Background(), Config{Practitioners: 700, Seed: seed, Dir: dir}); err != nil {
			t.Fatalf("Run(seed %d) = %v", seed, err)
		}
		files := map[string][]byte{}
		for _, typ := range Types() {
			b, err := os.ReadFile(filepath.Join(dir, typ+".ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			files[typ] = b
		}
		return files
	}
	a, b, c := run(7), run(7), run(8)
	for _, typ := range Types() {
		if len(a[typ]) == 0 {
			t.Errorf("%s.ndjson is empty", typ)
		}
		if !bytes.Equal(a[typ], b[typ]) {
			t.Errorf("%s.ndjson differs between two runs with seed 7", typ)
		}
	}
	if bytes.Equal(a["Practitioner"], c["Practitioner"]) {
		t.Error("seeds 7 and 8 gave the same practitioners")
	}
}

// TestRatios checks the shape of a larger directory: about 1.5 roles per
// practitioner, about 1 % of directory resources restricted (half at the
// root, half on an element), and every type present.
func TestRatios(t *testing.T) {
	const n = 20000
	d := generate(t, n, 3)
	count := map[string]int{}
	for _, tc := range d.sum.Types {
		count[tc.Type] = int(tc.Resources)
		if got := bytes.Count(d.files[tc.Type], []byte("\n")); got != int(tc.Resources) {
			t.Errorf("%s: %d lines; summary says %d", tc.Type, got, tc.Resources)
		}
	}
	if count["Practitioner"] != n {
		t.Errorf("%d practitioners; want %d", count["Practitioner"], n)
	}
	if r := float64(count["PractitionerRole"]) / n; r < 1.45 || r > 1.55 {
		t.Errorf("%.3f roles per practitioner; want about 1.5", r)
	}
	for _, typ := range Types() {
		if count[typ] == 0 {
			t.Errorf("no %s generated", typ)
		}
	}
	if count["VerificationResult"] < n {
		t.Errorf("%d verification results for %d practitioners; want at least one licence check each", count["VerificationResult"], n)
	}
	eligible, restricted, root := 0, 0, 0
	on := map[string]int{} // element holding the usage-restriction: root, address, telecom, contact
	for _, typ := range Types() {
		if typ == "VerificationResult" { // no restriction slice in vhdir-validation
			continue
		}
		for line := range bytes.Lines(d.files[typ]) {
			eligible++
			if !bytes.Contains(line, []byte(`"contained":[`)) {
				continue
			}
			restricted++
			obj, err := jsontree.ParseObject(line)
			if err != nil {
				t.Fatal(err)
			}
			if hasExtension(obj, "usage-restriction") {
				root++
			}
			walk(obj, func(path string, o *jsontree.Object) {
				if u, _ := o.String("url"); u == vhdirSD+"usage-restriction" {
					parent := strings.TrimSuffix(path, ".extension")
					if !strings.Contains(parent, ".") {
						parent = "root"
					}
					on[parent[strings.LastIndexByte(parent, '.')+1:]]++
				}
			})
		}
	}
	if int64(restricted) != d.sum.Restricted {
		t.Errorf("%d resources with a contained Consent; summary says %d restricted", restricted, d.sum.Restricted)
	}
	if share := float64(restricted) / float64(eligible); share < 0.0085 || share > 0.0115 {
		t.Errorf("%.4f of %d resources restricted; want about 0.01", share, eligible)
	}
	if f := float64(root) / float64(restricted); f < 0.35 || f > 0.65 {
		t.Errorf("%d of %d restrictions at the root; want about half", root, restricted)
	}
	if on["root"] != root || on["address"] == 0 || on["telecom"] == 0 {
		t.Errorf("restrictions on elements: %v; want some on addresses and some on telecoms", on)
	}
	t.Logf("%d of %d resources restricted: %v", restricted, eligible, on)
	t.Logf("per 1000 practitioners:")
	for _, typ := range Types() {
		t.Logf("  %-24s %6.1f", typ, float64(count[typ])*1000/n)
	}
}

// TestReferencesResolve checks that every literal reference points to a
// generated resource, and every #id to a contained one.
func TestReferencesResolve(t *testing.T) {
	res := sampleResources(t)
	ids := map[string]bool{}
	for _, r := range res {
		id, _ := r.obj.String("id")
		ids[r.typ+"/"+id] = true
	}
	refs := 0
	for _, r := range res {
		contained := map[string]bool{}
		if arr, ok := r.obj.Get("contained"); ok {
			for _, c := range arr.([]any) {
				id, _ := c.(*jsontree.Object).String("id")
				contained[id] = true
			}
		}
		walk(r.obj, func(path string, o *jsontree.Object) {
			ref, ok := o.String("reference")
			if !ok {
				return
			}
			refs++
			if local, isLocal := strings.CutPrefix(ref, "#"); isLocal {
				if !contained[local] {
					t.Errorf("%s %s: %s finds no contained resource", r.typ, path, ref)
				}
				return
			}
			if !ids[ref] {
				t.Errorf("%s %s: %s does not resolve", r.typ, path, ref)
			}
		})
	}
	if refs < len(res) {
		t.Errorf("only %d references in %d resources", refs, len(res))
	}
}

// TestProfiles checks the mandatory elements and prohibitions of the
// VhDir profiles (vhdir-ig.md §3) on every resource, and the restriction
// shape (§5).
func TestProfiles(t *testing.T) {
	res := sampleResources(t)
	exts := map[string]int{}
	for _, r := range res {
		c := checker{t: t, r: r}
		c.profile()
		walk(r.obj, func(path string, o *jsontree.Object) {
			if u, ok := o.String("url"); ok {
				exts[strings.TrimPrefix(u, vhdirSD)]++
			}
			if strings.HasSuffix(path, ".identifier") || strings.HasSuffix(path, ".valueIdentifier") {
				c.identifierStatus(path, o)
			}
			if strings.HasSuffix(path, ".telecom") || r.typ == "Endpoint" && path == "Endpoint.contact" {
				c.has(o, path, "system", "value")
			}
		})
		switch r.typ {
		case "Practitioner":
			c.has(r.obj, "", "active", "name")
			c.each("name", func(o *jsontree.Object) { c.has(o, "name", "family", "given") })
			c.each("qualification", func(o *jsontree.Object) { c.has(o, "qualification", "code", "issuer") })
		case "PractitionerRole":
			c.has(r.obj, "", "active", "code")
		case "Organization":
			c.has(r.obj, "", "active", "name", "type")
			c.contactNames()
			if c.isProfile(profileNetwork) {
				c.has(r.obj, "", "partOf")
				c.hasNot(r.obj, "", "telecom")
			}
		case "Location":
			c.has(r.obj, "", "status")
			c.hasNot(r.obj, "", "operationalStatus", "mode")
		case "HealthcareService", "OrganizationAffiliation":
			c.has(r.obj, "", "active")
		case "CareTeam":
			c.has(r.obj, "", "status", "category")
			c.hasNot(r.obj, "", "subject", "encounter", "reasonCode", "reasonReference")
			c.each("participant", func(o *jsontree.Object) {
				c.hasNot(o, "participant", "onBehalfOf")
				m, _ := o.Object("member")
				ref, _ := m.String("reference")
				if !strings.HasPrefix(ref, "PractitionerRole/") && !strings.HasPrefix(ref, "Organization/") && !strings.HasPrefix(ref, "CareTeam/") {
					t.Errorf("CareTeam participant member %q: vhdir-careteam allows CareTeam, PractitionerRole or Organization", ref)
				}
			})
		case "Endpoint":
			c.has(r.obj, "", "status", "connectionType", "payloadType", "address")
		case "InsurancePlan":
			c.has(r.obj, "", "status", "ownedBy", "administeredBy")
			c.contactNames()
		case "VerificationResult":
			c.has(r.obj, "", "target", "need", "statusDate", "validationType", "validationProcess", "failureAction", "attestation")
			c.each("primarySource", func(o *jsontree.Object) { c.has(o, "primarySource", "type") })
			a, _ := r.obj.Object("attestation")
			c.has(a, "attestation", "who", "communicationMethod", "date")
			c.hasNot(r.obj, "", "contained")
		}
		if _, ok := r.obj.Get("contained"); ok {
			c.restriction()
		}
	}
	for _, want := range []string{
		"identifier-status", "newpatients", "practitioner-qualification", "qualification", "accessibility",
		"endpoint-usecase", "network-reference", "contactpoint-availabletime", "usage-restriction",
		"digitalcertificate", "endpoint-reference", "location-reference", "healthcareservice-reference",
		"careteam-alias", "communication-proficiency", "org-description", "org-alias-type", "insuranceplan-reference",
		"endpoint-rank", "ehr", "newpatientprofile", extGeolocation, extOrgPeriod, extBoundary,
	} {
		if exts[want] == 0 {
			t.Errorf("extension %s never used", want)
		}
	}
}

// checker checks one resource.
type checker struct {
	t *testing.T
	r resource
}

func (c checker) errorf(format string, args ...any) {
	c.t.Helper()
	id, _ := c.r.obj.String("id")
	c.t.Errorf("%s/%s: "+format, append([]any{c.r.typ, id}, args...)...)
}

// js renders a parsed JSON value for a message.
func js(v any) string { return string(jsontree.Marshal(v)) }

func (c checker) isProfile(p string) bool {
	meta, _ := c.r.obj.Object("meta")
	prof, _ := meta.Get("profile")
	list, _ := prof.([]any)
	return len(list) == 1 && list[0] == vhdirSD+p
}

func (c checker) profile() {
	c.t.Helper()
	want := map[string]string{}
	for i, typ := range typeNames {
		want[typ] = profiles[i]
	}
	if !c.isProfile(want[c.r.typ]) && !(c.r.typ == "Organization" && c.isProfile(profileNetwork)) {
		meta, _ := c.r.obj.Get("meta")
		c.errorf("meta is %s; want profile %s", js(meta), want[c.r.typ])
	}
}

func (c checker) has(o *jsontree.Object, path string, names ...string) {
	c.t.Helper()
	if o == nil {
		c.errorf("missing %s", path)
		return
	}
	for _, n := range names {
		v, ok := o.Get(n)
		if arr, isArr := v.([]any); !ok || isArr && len(arr) == 0 {
			c.errorf("missing mandatory %s", strings.TrimPrefix(path+"."+n, "."))
		}
	}
}

func (c checker) hasNot(o *jsontree.Object, path string, names ...string) {
	c.t.Helper()
	for _, n := range names {
		if _, ok := o.Get(n); ok {
			c.errorf("has prohibited %s", strings.TrimPrefix(path+"."+n, "."))
		}
	}
}

// each calls f on every object of the array member name of the resource.
func (c checker) each(name string, f func(*jsontree.Object)) {
	v, _ := c.r.obj.Get(name)
	arr, _ := v.([]any)
	for _, x := range arr {
		f(x.(*jsontree.Object))
	}
}

// contactNames checks contact.name.family 1..1 and given 1..* when a
// contact has a name.
func (c checker) contactNames() {
	c.each("contact", func(o *jsontree.Object) {
		if n, ok := o.Object("name"); ok {
			c.has(n, "contact.name", "family", "given")
		}
	})
}

// identifierStatus checks that an identifier carries identifier-status
// with a code of the required value set.
func (c checker) identifierStatus(path string, o *jsontree.Object) {
	c.t.Helper()
	status := ""
	v, _ := o.Get("extension")
	list, _ := v.([]any)
	for _, x := range list {
		e := x.(*jsontree.Object)
		if u, _ := e.String("url"); u == vhdirSD+"identifier-status" {
			status, _ = e.String("valueCode")
		}
	}
	if !slices.Contains([]string{"active", "inactive", "issued-in-error", "revoked", "pending", "unknown"}, status) {
		c.errorf("%s has identifier-status %q", path, status)
	}
	if sys, _ := o.String("system"); sys == sysNPI {
		if v, _ := o.String("value"); !validNPI(v) {
			c.errorf("%s has invalid NPI %q", path, v)
		}
	}
	if sys, _ := o.String("system"); sys == sysDEA {
		if v, _ := o.String("value"); !validDEA(v) {
			c.errorf("%s has invalid DEA number %q", path, v)
		}
	}
}

// restriction checks the contained Consent (vhdir-restriction) and that a
// usage-restriction extension refers to it.
func (c checker) restriction() {
	c.t.Helper()
	v, _ := c.r.obj.Get("contained")
	list := v.([]any)
	if len(list) != 1 {
		c.errorf("has %d contained resources", len(list))
		return
	}
	cons := list[0].(*jsontree.Object)
	if rt, _ := cons.String("resourceType"); rt != "Consent" {
		c.errorf("contains a %s", rt)
	}
	if id, _ := cons.String("id"); id != "restrict" {
		c.errorf("contained Consent has id %q", id)
	}
	if s, _ := cons.String("status"); s != "active" {
		c.errorf("Consent status %q", s)
	}
	c.hasNot(cons, "Consent", "identifier", "patient", "performer", "organization", "sourceAttachment", "sourceReference", "policyRule", "verification")
	if got := js(mustGet(cons, "scope")); !strings.Contains(got, `"system":"`+sysVhdirCS+`consent","code":"protect"`) {
		c.errorf("Consent scope %s", got)
	}
	if got := js(mustGet(cons, "category")); !strings.Contains(got, `"system":"http://loinc.org","code":"57016-8"`) {
		c.errorf("Consent category %s", got)
	}
	prov, _ := cons.Object("provision")
	if ty, _ := prov.String("type"); ty != "permit" {
		c.errorf("Consent provision.type %q", ty)
	}
	actors, _ := prov.Get("actor")
	al, _ := actors.([]any)
	if len(al) == 0 {
		c.errorf("Consent has no provision.actor")
	}
	for _, a := range al {
		ref, _ := a.(*jsontree.Object).Object("reference")
		if s, _ := ref.String("reference"); !strings.HasPrefix(s, "Organization/") {
			c.errorf("Consent actor reference %q", s)
		}
	}
	uses := 0
	walk(c.r.obj, func(path string, o *jsontree.Object) {
		if u, _ := o.String("url"); u != vhdirSD+"usage-restriction" {
			return
		}
		uses++
		vr, _ := o.Object("valueReference")
		if ref, _ := vr.String("reference"); ref != "#restrict" {
			c.errorf("%s: usage-restriction refers to %q", path, ref)
		}
		c.hasNot(vr, path+".valueReference", "identifier")
	})
	if uses != 1 {
		c.errorf("has %d usage-restriction extensions; want 1", uses)
	}
}

func mustGet(o *jsontree.Object, k string) any { v, _ := o.Get(k); return v }

func hasExtension(o *jsontree.Object, name string) bool {
	v, _ := o.Get("extension")
	list, _ := v.([]any)
	for _, x := range list {
		if u, _ := x.(*jsontree.Object).String("url"); u == vhdirSD+name {
			return true
		}
	}
	return false
}

// walk calls f on every object under o (o included) with its path, such
// as Practitioner.qualification.identifier (array indexes left out).
func walk(o *jsontree.Object, f func(path string, o *jsontree.Object)) {
	rt, _ := o.String("resourceType")
	var visit func(path string, v any)
	visit = func(path string, v any) {
		switch x := v.(type) {
		case *jsontree.Object:
			f(path, x)
			for _, m := range x.Members {
				visit(path+"."+m.Key, m.Value)
			}
		case []any:
			for _, item := range x {
				visit(path, item)
			}
		}
	}
	visit(rt, o)
}

// validDEA checks a DEA registration number's check digit.
func validDEA(s string) bool {
	if len(s) != 9 {
		return false
	}
	d := func(i int) int { return int(s[i+1] - '0') }
	for i := 2; i < 9; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return (d(1)+d(3)+d(5)+2*(d(2)+d(4)+d(6)))%10 == d(7)
}

func TestNPICheckDigit(t *testing.T) {
	tests := []struct {
		npi  string
		want bool
	}{
		{"1234567893", true}, // the example of the CMS NPI check digit paper
		{"1234567890", false},
		{"123456789", false},
		{"12345678a3", false},
	}
	for _, tt := range tests {
		if got := validNPI(tt.npi); got != tt.want {
			t.Errorf("validNPI(%q) = %v; want %v", tt.npi, got, tt.want)
		}
	}
	g := newGen(Config{Practitioners: 1, Seed: 9})
	seen := map[[10]byte]bool{}
	for n := 1; n <= 20000; n++ {
		for entity := 1; entity <= 2; entity++ {
			d := g.npi(entity, n)
			if !validNPI(string(d[:])) {
				t.Fatalf("npi(%d, %d) = %s fails the check digit", entity, n, d[:])
			}
			if seen[d] {
				t.Fatalf("npi(%d, %d) = %s repeats", entity, n, d[:])
			}
			seen[d] = true
		}
	}
}

// TestCities checks the embedded place table.
func TestCities(t *testing.T) {
	if len(cities) < 200 {
		t.Errorf("%d cities; want about 200", len(cities))
	}
	seen := map[string]bool{}
	for _, c := range cities {
		key := c.name + ", " + c.state
		if seen[key] {
			t.Errorf("%s twice", key)
		}
		seen[key] = true
		if len(c.zip) != 5 || len(c.area) != 3 || c.pop <= 0 {
			t.Errorf("%s: zip %q, area code %q, population %d", key, c.zip, c.area, c.pop)
		}
		// Continental US, Alaska and Hawaii.
		if c.lat < 18 || c.lat > 72 || c.lon < -170 || c.lon > -66 {
			t.Errorf("%s at %v, %v is outside the United States", key, c.lat, c.lon)
		}
	}
	for s := range numStates {
		if len(stateCities[s]) == 0 {
			t.Errorf("no city in %s", stateCodes[s])
		}
	}
}

// TestTables checks the code tables the generator indexes into.
func TestTables(t *testing.T) {
	if departments[deptEmergency].name != "Emergency Medicine" || departments[deptInternal].name != "Internal Medicine" {
		t.Errorf("deptEmergency, deptInternal name %q, %q", departments[deptEmergency].name, departments[deptInternal].name)
	}
	for _, svcs := range [][]service{departments[:], clinics[:]} {
		for _, s := range svcs {
			if len(s.mix) == 0 || s.spec.code == "" || s.typ.code == "" || s.category.code == "" {
				t.Errorf("service %q is incomplete", s.name)
			}
		}
	}
	for _, i := range slices.Concat(practiceClinics, systemClinics) {
		if i < 0 || i >= len(clinics) {
			t.Errorf("clinic index %d out of range", i)
		}
	}
	nucc := map[string]string{}
	for _, k := range kinds {
		if len(k.nucc.code) != 10 || k.nucc.code[9] != 'X' {
			t.Errorf("NUCC code %q is not a taxonomy code", k.nucc.code)
		}
		if d, dup := nucc[k.nucc.code]; dup {
			t.Errorf("NUCC code %s twice (%s, %s)", k.nucc.code, d, k.nucc.display)
		}
		nucc[k.nucc.code] = k.nucc.display
		if k.degree != "" && degrees[k.degree] == "" {
			t.Errorf("degree %q has no display", k.degree)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Generate(ctx, Config{Practitioners: 0}, func(string) io.Writer { return io.Discard }); err == nil {
		t.Error("Generate with 0 practitioners succeeded")
	}
	if _, err := Run(ctx, Config{Practitioners: 10}); err == nil {
		t.Error("Run without a folder succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cancelled, Config{Practitioners: 10000}, func(string) io.Writer { return io.Discard }); !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context = %v; want context.Canceled", err)
	}
}

// TestConstantMemory checks that the live heap while generating does not
// grow with the directory: it is measured after every market (the unit of
// generation) for a small and a 30 times larger directory. What stays is
// the per-type buffers and one market; everything else is garbage once
// written.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 60,000 practitioners")
	}
	var ms runtime.MemStats
	peak := func(n int) uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		g := newGen(Config{Practitioners: n, Seed: 5})
		for t := range numTypes {
			g.sinks[t].w = io.Discard
			g.sinks[t].buf = make([]byte, 0, sinkSize+64<<10)
		}
		g.prologue()
		var peak uint64
		for g.nPrac < n {
			g.market()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				peak = max(peak, ms.HeapAlloc-base)
			}
		}
		return peak
	}
	small, large := peak(2000), peak(60000)
	t.Logf("peak live heap: %d KB for 2,000 practitioners, %d KB for 60,000", small>>10, large>>10)
	if large > small+2<<20 {
		t.Errorf("live heap grew from %d KB to %d KB with the directory size", small>>10, large>>10)
	}
}

// BenchmarkGenerate measures generation of a 20,000-practitioner directory
// (about 100,000 resources): to io.Discard, and to files.
func BenchmarkGenerate(b *testing.B) {
	const n = 20000
	b.Run("discard", func(b *testing.B) {
		b.ReportAllocs()
		var total, size int64
		for b.Loop() {
			sum, err := Generate(context.Background(), Config{Practitioners: n, Seed: 1}, func(string) io.Writer { return io.Discard })
			if err != nil {
				b.Fatal(err)
			}
			total, size = total+sum.Total(), size+sum.TotalBytes()
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "resources/s")
		b.ReportMetric(float64(size)/b.Elapsed().Seconds()/1e6, "MB/s")
	})
	b.Run("files", func(b *testing.B) {
		dir := b.TempDir()
		var total int64
		for b.Loop() {
			sum, err := Run(context.Background(), Config{Practitioners: n, Seed: 1, Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			total += sum.Total()
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "resources/s")
	})
}
