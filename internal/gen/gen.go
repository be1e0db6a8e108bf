package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// rtype is a resource type the generator writes. The order is the order to
// load the files in: what is referred to most comes first.
type rtype uint8

const (
	tOrganization rtype = iota
	tLocation
	tEndpoint
	tInsurancePlan
	tHealthcareService
	tPractitioner
	tPractitionerRole
	tOrganizationAffiliation
	tCareTeam
	tVerificationResult
	numTypes
)

var typeNames = [numTypes]string{
	"Organization", "Location", "Endpoint", "InsurancePlan", "HealthcareService",
	"Practitioner", "PractitionerRole", "OrganizationAffiliation", "CareTeam", "VerificationResult",
}

// profiles are the VhDir profiles the types conform to (a network
// Organization claims vhdir-network instead).
var profiles = [numTypes]string{
	"vhdir-organization", "vhdir-location", "vhdir-endpoint", "vhdir-insuranceplan", "vhdir-healthcareservice",
	"vhdir-practitioner", "vhdir-practitionerrole", "vhdir-organizationaffiliation", "vhdir-careteam", "vhdir-validation",
}

const profileNetwork = "vhdir-network"

// Types returns the resource types the generator writes, in the order to
// load their files.
func Types() []string { return typeNames[:] }

// Config is what to generate.
type Config struct {
	// Practitioners is the number of Practitioner resources; everything
	// else is scaled from it. At least 1.
	Practitioners int
	// Seed selects the directory: the same seed and size give byte-identical
	// files.
	Seed uint64
	// Dir is the folder Run writes <Type>.ndjson files into.
	Dir string
	// Progress, when set, is called about five times a second while
	// generating, and once at the end.
	Progress func(Progress)
}

func (c Config) validate() error {
	if c.Practitioners < 1 {
		return fmt.Errorf("practitioners must be at least 1, not %d", c.Practitioners)
	}
	if c.Practitioners > maxPractitioners {
		return fmt.Errorf("practitioners must be at most %d, not %d", maxPractitioners, c.Practitioners)
	}
	return nil
}

// maxPractitioners bounds the size: NPIs are made by an affine permutation
// of 10^8 numbers, and a US-scale directory has about 10^6 practitioners.
const maxPractitioners = 50_000_000

// Progress reports how far generation is.
type Progress struct {
	Practitioners, PractitionersTotal int
	Resources                         int64
	Bytes                             int64
	Elapsed                           time.Duration
}

// Summary is what was generated.
type Summary struct {
	Types      []TypeCount // in load order
	Restricted int64       // resources carrying a usage restriction
	Duration   time.Duration
}

// TypeCount is the size of one type's output.
type TypeCount struct {
	Type      string
	Resources int64
	Bytes     int64
}

// Total is the number of resources generated.
func (s *Summary) Total() int64 {
	var n int64
	for _, t := range s.Types {
		n += t.Resources
	}
	return n
}

// TotalBytes is the size of all files.
func (s *Summary) TotalBytes() int64 {
	var n int64
	for _, t := range s.Types {
		n += t.Bytes
	}
	return n
}

// Run generates the directory into cfg.Dir (created if needed), one
// <Type>.ndjson file per resource type; existing files are replaced.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Dir == "" {
		return nil, errors.New("no output folder")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	var files [numTypes]*os.File
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for t := range numTypes {
		f, err := os.Create(filepath.Join(cfg.Dir, typeNames[t]+".ndjson"))
		if err != nil {
			return nil, err
		}
		files[t] = f
	}
	sum, err := Generate(ctx, cfg, func(typ string) io.Writer {
		for t, name := range typeNames {
			if name == typ {
				return files[t]
			}
		}
		return io.Discard
	})
	if err != nil {
		return sum, err
	}
	for t, f := range files {
		files[t] = nil
		if err := f.Close(); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// Generate writes the directory as NDJSON, one resource per line, to the
// writer out returns for each resource type (called once per type, in
// load order). It streams: memory does not grow with cfg.Practitioners.
func Generate(ctx context.Context, cfg Config, out func(resourceType string) io.Writer) (*Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := newGen(cfg)
	for t := range numTypes {
		g.sinks[t].w = out(typeNames[t])
		g.sinks[t].buf = make([]byte, 0, sinkSize+64<<10)
	}
	g.start = time.Now()
	g.lastReport = g.start
	err := g.run(ctx)
	if err == nil {
		err = g.flushAll()
	}
	sum := &Summary{Restricted: g.restricted, Duration: time.Since(g.start)}
	for t := range numTypes {
		sum.Types = append(sum.Types, TypeCount{Type: typeNames[t], Resources: g.sinks[t].count, Bytes: g.sinks[t].bytes})
	}
	if cfg.Progress != nil {
		cfg.Progress(g.progress())
	}
	return sum, err
}

// sinkSize is how much of one type's output is buffered before it is
// written: large writes, and a bounded buffer per type.
const sinkSize = 256 << 10

// sink is one type's output: resources are appended to buf in place and
// buf is written out when it passes sinkSize.
type sink struct {
	w     io.Writer
	buf   []byte
	count int64
	bytes int64
}

// gen is the state of one run. Besides the counters and the random source
// it holds only the current market (a health system and its practices),
// which is bounded in size, so memory is the same for any number of
// practitioners.
type gen struct {
	cfg   Config
	r     *rand.Rand
	seed  uint64
	e     enc
	sinks [numTypes]sink
	cur   rtype
	err   error

	// Next sequence number per id prefix.
	nOrg, nLoc, nEp, nHcs, nPrac, nRole, nAff, nTeam, nVR int
	nNPI, nEIN                                            int // organization NPIs and EINs issued

	payers     int // payers are org-000001..org-P, their areas loc-..., endpoints ep-...
	restricted int64

	// restriction of the resource being written, and whom it permits.
	restr      restriction
	actor      id
	actorName  string
	restrAt    elem // the element an element-level restriction goes on
	restrDone  bool // the element-level extension has been placed
	boardsDone [numStates]bool

	m market // the market being generated; reused
	p person // the practitioner being generated; reused

	start, lastReport time.Time
}

func newGen(cfg Config) *gen {
	g := &gen{cfg: cfg, seed: cfg.Seed}
	g.r = rand.New(rand.NewPCG(cfg.Seed, 0x76686469722d6765)) // "vhdir-ge"
	return g
}

// run writes the shared organizations and the payers, then markets until
// the practitioners are all written.
func (g *gen) run(ctx context.Context) error {
	g.prologue()
	for g.nPrac < g.cfg.Practitioners && g.err == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.market()
		g.report()
	}
	return g.err
}

// prologue writes what every market refers to: the shared organizations
// and the payers (one per 2,000 practitioners, at least two), with their
// networks and plans.
func (g *gen) prologue() {
	g.fixedOrganizations()
	g.payers = max(2, g.cfg.Practitioners/2000)
	for p := range g.payers {
		g.payer(p)
	}
	g.nOrg, g.nLoc, g.nEp = g.payers, g.payers, g.payers
}

func (g *gen) report() {
	if g.cfg.Progress == nil {
		return
	}
	if now := time.Now(); now.Sub(g.lastReport) >= 200*time.Millisecond {
		g.lastReport = now
		g.cfg.Progress(g.progress())
	}
}

func (g *gen) progress() Progress {
	p := Progress{Practitioners: g.nPrac, PractitionersTotal: g.cfg.Practitioners, Elapsed: time.Since(g.start)}
	for t := range numTypes {
		p.Resources += g.sinks[t].count
		p.Bytes += g.sinks[t].bytes + int64(len(g.sinks[t].buf))
	}
	return p
}

// begin starts a resource of type t: {"resourceType":..,"id":..,"meta":..}.
// The resource is appended to t's sink in place.
func (g *gen) begin(t rtype, x id, profile string) *enc {
	g.cur = t
	e := &g.e
	e.b = g.sinks[t].buf
	e.b = append(e.b, `{"resourceType":"`...)
	e.b = append(e.b, typeNames[t]...)
	e.b = append(e.b, `","id":"`...)
	e.b = x.append(e.b)
	e.b = append(e.b, `","meta":{"profile":["`...)
	e.b = append(e.b, vhdirSD...)
	e.b = append(e.b, profile...)
	e.b = append(e.b, `"]}`...)
	e.more = true
	if g.restr != restrictNone {
		g.restricted++
		g.restrDone = false
		g.consent()
	}
	return e
}

// finish ends the resource begun last and writes the sink out when full.
func (g *gen) finish() {
	g.checkRestriction()
	e := &g.e
	e.b = append(e.b, '}', '\n')
	s := &g.sinks[g.cur]
	s.buf = e.b
	s.count++
	e.b = nil
	g.restr = restrictNone
	if len(s.buf) >= sinkSize {
		g.flush(s)
	}
}

func (g *gen) flush(s *sink) {
	if g.err == nil && len(s.buf) > 0 {
		_, g.err = s.w.Write(s.buf)
	}
	s.bytes += int64(len(s.buf))
	s.buf = s.buf[:0]
}

func (g *gen) flushAll() error {
	for t := range numTypes {
		g.flush(&g.sinks[t])
	}
	return g.err
}

// id is a resource id: prefix followed by n zero-padded to six digits, or
// just prefix when n is 0.
type id struct {
	p string
	n int
}

func (x id) append(b []byte) []byte {
	b = append(b, x.p...)
	if x.n > 0 {
		b = appendPad(b, x.n, 6)
	}
	return b
}

func (x id) String() string { return string(x.append(nil)) }

func (x id) zero() bool { return x.p == "" }

// Random helpers.

func (g *gen) intn(n int) int { return g.r.IntN(n) }

// between returns an int in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }
