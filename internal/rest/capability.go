package rest

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
	"github.com/vhdir/vhdir/internal/search"
)

// capabilities serves /metadata.
func (s *Server) capabilities() (*interaction.Response, error) {
	cs, err := s.CapabilityStatement()
	if err != nil {
		return nil, err
	}
	// Readable cross-origin (SMART 2.2): the CORS middleware sees to it.
	return newResponse(http.StatusOK, cs), nil
}

// CapabilityStatement describes what this server really does, built from
// the same tables the handlers use: the served types and their writability,
// the search registry's parameters, and the IG's profiles.
func (s *Server) CapabilityStatement() (*jsontree.Object, error) {
	igCS, err := ig.CapabilityStatement()
	if err != nil {
		return nil, err
	}
	profiles := igProfiles(igCS)
	cs := obj(
		"resourceType", "CapabilityStatement",
		"status", "active",
		"date", fhir.FormatInstant(s.cfg.Clock.Now()),
		"publisher", "vhdir",
		"kind", "instance",
		"instantiates", []any{ig.Canonical + "/CapabilityStatement/vhdir-server"},
		"software", obj("name", "vhdir", "version", s.cfg.Version),
		"implementation", obj("description", "vhdir Validated Healthcare Directory", "url", s.fhirBase),
		"fhirVersion", r4.Version,
		"format", []any{"application/fhir+json", "json"},
		"implementationGuide", []any{ig.Canonical + "/ImplementationGuide/hl7.fhir.uv.vhdir"},
	)
	var resources []any
	reg := s.cfg.Search.Registry()
	for _, typ := range reg.Types() {
		resources = append(resources, s.resourceCapability(typ, reg, profiles[typ]))
	}
	rest := obj("mode", "server", "resource", resources,
		"interaction", codes("transaction", "batch", "search-system", "history-system"),
		"searchParam", []any{
			searchParamEntry("_id", "http://hl7.org/fhir/SearchParameter/Resource-id", "token"),
			searchParamEntry("_lastUpdated", "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", "date"),
		},
	)
	if sec := s.cfg.Security; sec != nil {
		rest.Set("security", securityCapability(sec, s.cfg.CORS.Enabled()))
	}
	if len(s.cfg.Operations) > 0 {
		var ops []any
		for _, op := range s.cfg.Operations {
			ops = append(ops, obj("name", op.Name, "definition", op.Definition))
		}
		rest.Set("operation", ops)
	}
	if len(s.cfg.Instantiates) > 0 {
		inst, _ := cs.Get("instantiates")
		list, _ := inst.([]any)
		for _, c := range s.cfg.Instantiates {
			list = append(list, c)
		}
		cs.Set("instantiates", list)
	}
	cs.Set("rest", []any{rest})
	return cs, nil
}

// securityCapability is rest.security for SMART Backend Services: the
// service code and the OAuth endpoints (the oauth-uris extension SMART 1
// defined, which clients still read), and whether browser clients of any
// origin may call the API (cors).
func securityCapability(sec *Security, cors bool) *jsontree.Object {
	uris := []any{obj("url", "token", "valueUri", sec.TokenURL)}
	if sec.IntrospectURL != "" {
		uris = append(uris, obj("url", "introspect", "valueUri", sec.IntrospectURL))
	}
	return obj(
		"extension", []any{obj("url", "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension", uris)},
		"cors", cors,
		"service", []any{obj("coding", []any{obj("system", "http://terminology.hl7.org/CodeSystem/restful-security-service", "code", "SMART-on-FHIR")},
			"text", "SMART Backend Services: OAuth2 client_credentials with a signed JWT assertion (private_key_jwt, RS384 or ES384)")},
		"description", "Clients are registered systems that authenticate with SMART Backend Services; discovery at .well-known/smart-configuration.",
	)
}

func (s *Server) resourceCapability(typ string, reg *search.Registry, prof igProfile) *jsontree.Object {
	interactions := []string{"read", "vread", "history-instance", "history-type", "search-type"}
	if s.writable[typ] {
		interactions = append(interactions, "create", "update", "delete")
	}
	r := obj("type", typ, "profile", "http://hl7.org/fhir/StructureDefinition/"+typ)
	if len(prof.supported) > 0 {
		r.Set("supportedProfile", prof.supported)
	}
	r.Set("interaction", codes(interactions...))
	r.Set("versioning", "versioned-update")
	r.Set("readHistory", true)
	if s.writable[typ] {
		r.Set("updateCreate", true)
		r.Set("conditionalCreate", true)
		r.Set("conditionalUpdate", true)
		r.Set("conditionalDelete", "single")
	}
	r.Set("conditionalRead", "full-support")
	r.Set("referencePolicy", []any{"literal", "local"})
	inc, rev := includes(typ, reg)
	r.Set("searchInclude", inc)
	r.Set("searchRevInclude", rev)
	var params []any
	for _, p := range reg.Params(typ) {
		params = append(params, searchParamEntry(p.Code, p.URL, string(p.Type)))
	}
	params = append(params,
		searchParamEntry("_id", "http://hl7.org/fhir/SearchParameter/Resource-id", "token"),
		searchParamEntry("_lastUpdated", "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", "date"))
	r.Set("searchParam", params)
	r.Set("operation", []any{obj("name", "validate", "definition", validateDefinition)})
	return r
}

// includes lists the _include values of typ (its reference parameters)
// and the _revinclude values that reach it (reference parameters of any
// served type whose targets include typ), plus the wildcards.
func includes(typ string, reg *search.Registry) (inc, rev []any) {
	inc = []any{"*"}
	for _, p := range reg.Params(typ) {
		if p.Type == search.TypeReference {
			inc = append(inc, typ+":"+p.Code)
		}
	}
	rev = []any{"*"}
	for _, src := range reg.Types() {
		for _, p := range reg.Params(src) {
			if p.Type == search.TypeReference && (len(p.Targets) == 0 || slices.Contains(p.Targets, typ)) {
				rev = append(rev, src+":"+p.Code)
			}
		}
	}
	return inc, rev
}

type igProfile struct {
	supported []any
}

// igProfiles reads each type's VhDir profiles from the IG's statement.
func igProfiles(cs *jsontree.Object) map[string]igProfile {
	out := map[string]igProfile{}
	rests, _ := cs.Get("rest")
	for _, rv := range asArray(rests) {
		rest, _ := rv.(*jsontree.Object)
		if rest == nil {
			continue
		}
		res, _ := rest.Get("resource")
		for _, e := range asArray(res) {
			o, _ := e.(*jsontree.Object)
			if o == nil {
				continue
			}
			typ, _ := o.String("type")
			var p igProfile
			if prof, ok := o.String("profile"); ok {
				p.supported = append(p.supported, prof)
			}
			sp, _ := o.Get("supportedProfile")
			for _, v := range asArray(sp) {
				if s, ok := v.(string); ok && !contains(p.supported, s) {
					p.supported = append(p.supported, s)
				}
			}
			out[typ] = p
		}
	}
	return out
}

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}

func contains(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func searchParamEntry(name, def, typ string) *jsontree.Object {
	return obj("name", name, "definition", def, "type", typ)
}

func codes(cs ...string) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = obj("code", c)
	}
	return out
}

// obj builds an object from alternating keys and values.
func obj(kv ...any) *jsontree.Object {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("obj: odd argument count %d", len(kv)))
	}
	o := &jsontree.Object{Members: make([]jsontree.Member, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		o.Members = append(o.Members, jsontree.Member{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}
