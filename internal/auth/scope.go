package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/vhdir/vhdir/internal/interaction"
)

// permLetters are the SMART v2 letters in their "cruds" order.
const permLetters = "cruds"

// The v1 permission words and the v2 sets they stand for.
const (
	permV1Read  = interaction.PermRead | interaction.PermSearch
	permV1Write = interaction.PermCreate | interaction.PermUpdate | interaction.PermDelete
)

// Limits on a scope parameter, so that a hostile request cannot make the
// token endpoint do unbounded work.
const (
	maxScopes     = 100
	maxScopeBytes = 4096
)

// auditEventType is the one type a "*" scope never covers: the audit log
// is readable only by clients explicitly registered for it.
const auditEventType = "AuditEvent"

// Scope is one parsed scope: context/type.perms[?query].
type Scope struct {
	Context string           // "system", "user" or "patient"
	Type    string           // a resource type or "*"
	Perms   interaction.Perm // never empty for a parsed scope
	Filter  url.Values       // v2 query constraint (nil when none)
	V1      bool             // written in v1 form (read, write, *)
}

// resultParams change what a search returns rather than which resources
// match, so a scope's query may not carry them.
var resultParams = map[string]bool{
	"_count": true, "_include": true, "_revinclude": true, "_sort": true,
	"_summary": true, "_elements": true, "_total": true, "_contained": true,
	"_containedType": true, "_format": true, "_pretty": true,
	"_since": true, "_at": true, "_maxresults": true, "_graph": true,
}

// ParseScope parses one SMART v1 or v2 resource scope. The error says
// what is wrong with it.
func ParseScope(s string) (Scope, error) {
	if err := checkScopeChars(s); err != nil {
		return Scope{}, err
	}
	// openid, fhirUser, offline_access, launch/patient and the like need
	// a user or an EHR launch, which backend services have neither of.
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok || ctx == "launch" {
		return Scope{}, fmt.Errorf("scope %s is not a resource scope: this server supports SMART Backend Services only (want system/Type.perms)", quote(s))
	}
	if ctx != "system" && ctx != "user" && ctx != "patient" {
		return Scope{}, fmt.Errorf("scope %s: context must be system, user or patient", quote(s))
	}
	typ, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return Scope{}, fmt.Errorf("scope %s: missing \".\" and permissions after the resource type", quote(s))
	}
	if !validType(typ) {
		return Scope{}, fmt.Errorf("scope %s: resource type must be \"*\" or a name like Practitioner", quote(s))
	}
	permStr, query, hasQuery := strings.Cut(rest, "?")
	sc := Scope{Context: ctx, Type: typ}
	var err error
	if sc.Perms, sc.V1, err = parsePerms(permStr); err != nil {
		return Scope{}, fmt.Errorf("scope %s: %w", quote(s), err)
	}
	if !hasQuery {
		return sc, nil
	}
	if sc.V1 {
		return Scope{}, fmt.Errorf("scope %s: a query is allowed only with v2 permissions (e.g. .rs)", quote(s))
	}
	if sc.Filter, err = parseFilter(query); err != nil {
		return Scope{}, fmt.Errorf("scope %s: %w", quote(s), err)
	}
	return sc, nil
}

// checkScopeChars enforces RFC 6749's scope-token characters (printable
// ASCII but space, '"' and '\'), which also keeps tabs and newlines out.
func checkScopeChars(s string) error {
	if s == "" {
		return errors.New("empty scope")
	}
	if len(s) > maxScopeBytes {
		return fmt.Errorf("scope longer than %d bytes", maxScopeBytes)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !scopeTokenChar(c) {
			return fmt.Errorf("scope %s: character %q at offset %d is not allowed (scopes are separated by single spaces)", quote(s), c, i)
		}
	}
	return nil
}

func scopeTokenChar(c byte) bool {
	return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'
}

// quote shortens what a client sent before echoing it in an error.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// validType accepts "*" or an identifier shaped like a FHIR resource
// type; whether the type exists is the caller's concern.
func validType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parsePerms reads v1 words or v2 letters; v2 letters must be a
// non-empty subsequence of "cruds".
func parsePerms(s string) (interaction.Perm, bool, error) {
	switch s {
	case "read":
		return permV1Read, true, nil
	case "write":
		return permV1Write, true, nil
	case "*":
		return interaction.PermAll, true, nil
	case "":
		return 0, false, errors.New("empty permissions")
	}
	var p interaction.Perm
	next := 0 // index in permLetters the next letter may start at
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(permLetters[next:], s[i])
		if j < 0 {
			return 0, false, fmt.Errorf("permissions %q must be read, write, * or letters of \"cruds\" in that order without repeats", s)
		}
		p |= 1 << (next + j)
		next += j + 1
	}
	return p, false, nil
}

// parseFilter parses a scope's query constraint.
func parseFilter(q string) (url.Values, error) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil, fmt.Errorf("bad query: %v", err)
	}
	if len(v) == 0 {
		return nil, errors.New("empty query")
	}
	for name, vals := range v {
		if name == "" {
			return nil, errors.New("query has a parameter without a name")
		}
		base, _, _ := strings.Cut(name, ":")
		if resultParams[base] {
			return nil, fmt.Errorf("query parameter %q changes the result, it does not constrain matches", name)
		}
		// An empty value constrains nothing on a FHIR search, so a
		// scope carrying one would look narrower than it is.
		if slices.Contains(vals, "") {
			return nil, fmt.Errorf("query parameter %q has an empty value", name)
		}
	}
	return v, nil
}

// ParseScopes parses a space-separated scope parameter. Runs of spaces
// separate scopes; an empty parameter gives nil and no error. Any malformed
// element fails the whole parameter.
func ParseScopes(s string) ([]Scope, error) {
	if len(s) > maxScopeBytes {
		return nil, fmt.Errorf("scope parameter longer than %d bytes", maxScopeBytes)
	}
	var out []Scope
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			continue
		}
		if len(out) == maxScopes {
			return nil, fmt.Errorf("more than %d scopes", maxScopes)
		}
		sc, err := ParseScope(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// String gives the canonical text of s: the v1 form when s was written
// in it and its permissions have a v1 word, else v2 letters in "cruds"
// order; a filter is written with sorted parameter names.
func (s Scope) String() string {
	perms := s.Perms.String()
	if s.V1 && s.Filter == nil {
		if w := v1Word(s.Perms); w != "" {
			perms = w
		}
	}
	t := s.Context + "/" + s.Type + "." + perms
	if len(s.Filter) > 0 {
		t += "?" + encodeFilter(s.Filter)
	}
	return t
}

// v1Word is the v1 spelling of p, or "" when it has none.
func v1Word(p interaction.Perm) string {
	switch p {
	case permV1Read:
		return "read"
	case permV1Write:
		return "write"
	case interaction.PermAll:
		return "*"
	}
	return ""
}

// encodeFilter is url.Values.Encode escaping only what the query syntax
// or a scope token needs, so that system/X.rs?code=http://a/b|c stays as
// readable as it was written.
func encodeFilter(v url.Values) string {
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		for _, val := range v[n] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeQuery(n))
			b.WriteByte('=')
			b.WriteString(escapeQuery(val))
		}
	}
	return b.String()
}

func escapeQuery(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if scopeTokenChar(c) && !strings.ContainsRune("%&+;=#", rune(c)) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// FormatScopes joins the canonical texts of ss with single spaces.
func FormatScopes(ss []Scope) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Mediate grants requested ∩ registered: the part of each requested scope
// that some registered scope allows. Only system scopes are grantable. The
// result has no duplicates or scopes another granted scope already covers,
// and is sorted by canonical text.
func Mediate(requested, registered []Scope) []Scope {
	var out []Scope
	for _, r := range requested {
		for _, g := range registered {
			if s, ok := intersect(r, g); ok {
				out = append(out, s)
			}
		}
	}
	return simplify(dropUnasked(out, requested))
}

// dropUnasked removes scopes on a type the client did not name that a
// granted wildcard scope covers anyway: asking system/*.rs of a client
// registered for system/*.rs and system/Practitioner.cruds grants
// system/*.rs, not also system/Practitioner.rs.
func dropUnasked(out, requested []Scope) []Scope {
	named := map[string]bool{}
	for _, r := range requested {
		named[r.Type] = true
	}
	all := slices.Clone(out) // DeleteFunc compacts out as it goes
	return slices.DeleteFunc(out, func(x Scope) bool {
		if x.Type == "*" || named[x.Type] || x.Type == auditEventType {
			return false
		}
		for _, y := range all {
			if y.Type == "*" && y.Context == x.Context && y.Filter == nil && x.Perms&^y.Perms == 0 {
				return true
			}
		}
		return false
	})
}

// intersect is what both r and g allow, if anything.
func intersect(r, g Scope) (Scope, bool) {
	if r.Context != "system" || g.Context != "system" {
		return Scope{}, false
	}
	typ, ok := intersectType(r.Type, g.Type)
	perms := r.Perms & g.Perms & interaction.PermAll
	if !ok || perms == 0 {
		return Scope{}, false
	}
	s := Scope{Context: r.Context, Type: typ, Perms: perms, Filter: mergeFilters(r.Filter, g.Filter)}
	// Answer in v1 when asked in v1 and the grant still has a v1 word.
	s.V1 = r.V1 && s.Filter == nil && v1Word(perms) != ""
	return s, true
}

// intersectType narrows a requested type by a registered one. A
// registered "*" does not reach AuditEvent, which must be named.
func intersectType(req, reg string) (string, bool) {
	switch {
	case req == reg:
		return req, true
	case req == "*" && reg != auditEventType:
		// A wildcard request never pulls in AuditEvent: the client must
		// name it (DESIGN.md: wildcards do not cover it).
		return reg, true
	case reg == "*" && req != auditEventType:
		return req, true
	}
	return "", false
}

// mergeFilters is the conjunction of two constraints: every parameter of
// both, with both values when a parameter appears on each side (the
// caller ANDs repeated parameters).
func mergeFilters(a, b url.Values) url.Values {
	if a == nil && b == nil {
		return nil
	}
	out := cloneValues(a)
	if out == nil {
		out = url.Values{}
	}
	for n, vals := range b {
		for _, v := range vals {
			if !slices.Contains(out[n], v) {
				out[n] = append(out[n], v)
			}
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for n, vals := range v {
		out[n] = slices.Clone(vals)
	}
	return out
}

// simplify drops duplicates and covered scopes, then sorts by text.
func simplify(ss []Scope) []Scope {
	seen := map[string]bool{}
	var uniq []Scope
	for _, s := range ss {
		if k := s.String(); !seen[k] {
			seen[k] = true
			uniq = append(uniq, s)
		}
	}
	var out []Scope
	for i, s := range uniq {
		if !coveredByOther(uniq, i) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// coveredByOther reports whether another scope of the same context and
// type, without a filter, grants at least what ss[i] does. Of two
// unfiltered scopes with equal perms (v1 and v2 spellings) the v1 one
// stays, since a client that wrote v1 should get v1 back.
func coveredByOther(ss []Scope, i int) bool {
	x := ss[i]
	for j, y := range ss {
		if j == i || y.Context != x.Context || y.Type != x.Type || y.Filter != nil || x.Perms&^y.Perms != 0 {
			continue
		}
		if y.Perms != x.Perms || x.Filter != nil || (y.V1 && !x.V1) {
			return true
		}
	}
	return false
}

// Grants answers the resource server's questions for one access token.
// Only system scopes count: a backend client has no user or patient
// whose context could narrow user/ or patient/ scopes.
type Grants struct {
	byType map[string][]grant // by resource type or "*"
}

type grant struct {
	perms  interaction.Perm
	filter url.Values // nil: unrestricted
}

// NewGrants indexes the scopes of one access token.
func NewGrants(ss []Scope) *Grants {
	g := &Grants{byType: map[string][]grant{}}
	for _, s := range ss {
		if s.Context != "system" || s.Perms&interaction.PermAll == 0 {
			continue
		}
		g.byType[s.Type] = append(g.byType[s.Type], grant{s.Perms & interaction.PermAll, cloneValues(s.Filter)})
	}
	return g
}

// applicable lists the grants that can apply to typ: its own and, except
// for AuditEvent, the wildcard ones.
func (g *Grants) applicable(typ string) []grant {
	own := g.byType[typ]
	if typ == auditEventType {
		return own
	}
	return append(slices.Clip(own), g.byType["*"]...)
}

// Allows reports whether every letter of p is allowed on typ, possibly by
// different scopes, with or without filters. An empty p is refused so a
// caller's mistake fails closed.
func (g *Grants) Allows(typ string, p interaction.Perm) bool {
	if p == 0 || p&^interaction.PermAll != 0 {
		return false
	}
	var have interaction.Perm
	for _, gr := range g.applicable(typ) {
		have |= gr.perms
	}
	return p&^have == 0
}

// Filters says how p on typ is constrained. unrestricted: every letter of
// p is granted by some scope without a filter. Otherwise filters are the
// constraints of the filtered scopes that grant the letters not granted
// unrestricted; a resource matching any one of them (OR) is allowed. With
// several letters this is exact when one scope grants them all and
// otherwise errs on the side of fewer filters; ask one letter at a time
// for exact answers.
func (g *Grants) Filters(typ string, p interaction.Perm) (filters []url.Values, unrestricted bool) {
	if p == 0 || p&^interaction.PermAll != 0 {
		return nil, false
	}
	gs := g.applicable(typ)
	var free interaction.Perm
	for _, gr := range gs {
		if gr.filter == nil {
			free |= gr.perms
		}
	}
	need := p &^ free
	if need == 0 {
		return nil, true
	}
	for _, gr := range gs {
		if gr.filter != nil && need&^gr.perms == 0 {
			filters = append(filters, cloneValues(gr.filter))
		}
	}
	return filters, false
}

// Readable reports whether resources of typ may be returned at all; it is
// used to drop included resources the token cannot see.
func (g *Grants) Readable(typ string) bool {
	return g.Allows(typ, interaction.PermRead) || g.Allows(typ, interaction.PermSearch)
}
