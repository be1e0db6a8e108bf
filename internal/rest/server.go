package rest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// Config is what a Server needs. New validates it: every collaborator is
// required, so that a wiring mistake fails at start instead of opening the
// data.
type Config struct {
	// BaseURL is the public base URL clients use (https://host:port); the
	// FHIR base is BaseURL + "/fhir".
	BaseURL   string
	Store     store.Store
	Directory *directory.Directory
	Search    *search.Engine
	// Validator answers $validate: R4 and the VhDir profiles, whatever
	// --profile-validation does to writes.
	Validator *profile.Validator
	Clock     clock.Clock
	Logger    *slog.Logger
	// MaxBodyBytes limits request bodies (413 beyond).
	MaxBodyBytes int64
	// BodyBudget bounds the bytes of large request bodies handled at once
	// (see bodyBudget).
	BodyBudget int64
	// MaxResourceNodes bounds the JSON values of one resource, sent alone
	// or in a Bundle (413 beyond; see DefaultMaxResourceNodes). A Bundle
	// as a whole may hold one value per 16 bytes of MaxBodyBytes.
	MaxResourceNodes int
	// MaxBundleEntries is the most entries a batch or transaction Bundle
	// may have (413 beyond, before any entry runs): a transaction holds
	// the database's write lock, and its memory, for all of its entries.
	MaxBundleEntries int
	// HSTS adds Strict-Transport-Security (serving over TLS).
	HSTS bool
	// Version is vhdir's version, shown in the CapabilityStatement.
	Version string

	// Authorizer decides what each caller's token grants, and Viewers
	// who it is for usage restrictions: together they make the access
	// decision every interaction runs under (interaction.Decide).
	Authorizer interaction.Authorizer
	Viewers    interaction.ViewerResolver
	// Auditor records every interaction (see Auditor).
	Auditor Auditor

	// Security, when set, is described in the CapabilityStatement's
	// rest.security, with whether CORS allows any origin.
	Security *Security
	// CORS is the cross-origin policy the middleware stack applies (nil:
	// none), as the CapabilityStatement declares it.
	CORS *CORS
	// Operations are system-level operations served by other handlers
	// (bulk export), listed in the CapabilityStatement with Instantiates,
	// the capability statements they conform to.
	Operations   []Operation
	Instantiates []string
}

// Auditor records what the pipeline does. The server cannot run without
// one: package audit's Recorder is the production auditor.
type Auditor interface {
	// Written runs inside a write's transaction, after the interactions'
	// own writes and their Provenance, so that the records it adds commit
	// with them or not at all. An error rolls the writes back. A
	// transaction has one write; a batch's run of entries one per entry.
	Written(ctx context.Context, w *directory.Writer, writes iter.Seq2[*interaction.Request, []*directory.Change]) error
	// Executed learns the outcome of every interaction that Execute ran or
	// refused, a Bundle's entries included. A write that succeeded has
	// already passed through Written.
	Executed(ctx context.Context, req *interaction.Request, resp *interaction.Response, err error)
}

// written is one interaction's changes, as the audit trail records them.
type written struct {
	req     *interaction.Request
	changes []*directory.Change
}

// each yields writes in order, as Auditor.Written takes them.
func each(writes []written) iter.Seq2[*interaction.Request, []*directory.Change] {
	return func(yield func(*interaction.Request, []*directory.Change) bool) {
		for _, w := range writes {
			if !yield(w.req, w.changes) {
				return
			}
		}
	}
}

// Operation is a FHIR operation the server offers.
type Operation struct {
	Name, Definition string
}

// Security names the authorization server's endpoints.
type Security struct {
	TokenURL, IntrospectURL string
}

// Server serves the FHIR REST API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	fhirBase string
	writable map[string]bool
	limits   nodeLimits
	bodies   *bodyBudget
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil, cfg.Directory == nil, cfg.Search == nil, cfg.Clock == nil, cfg.Validator == nil:
		return nil, errors.New("rest: Store, Directory, Search, Clock and Validator are required")
	case cfg.Authorizer == nil, cfg.Viewers == nil, cfg.Auditor == nil:
		return nil, errors.New("rest: Authorizer, Viewers and Auditor are required")
	case cfg.BaseURL == "":
		return nil, errors.New("rest: BaseURL is required")
	case cfg.MaxBodyBytes <= 0:
		return nil, errors.New("rest: MaxBodyBytes must be positive")
	case cfg.MaxResourceNodes <= 0, cfg.BodyBudget <= 0:
		return nil, errors.New("rest: MaxResourceNodes and BodyBudget must be positive")
	case cfg.MaxBundleEntries <= 0:
		return nil, errors.New("rest: MaxBundleEntries must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, fhirBase: strings.TrimSuffix(cfg.BaseURL, "/") + "/fhir", writable: map[string]bool{},
		limits: newNodeLimits(cfg.MaxResourceNodes, cfg.MaxBodyBytes), bodies: newBodyBudget(cfg.BodyBudget, cfg.MaxBodyBytes)}
	for _, t := range cfg.Search.Registry().Types() {
		s.writable[t] = !serverKept[t]
	}
	return s, nil
}

// serverKept are types only the server writes: clients read them.
var serverKept = map[string]bool{"AuditEvent": true, "Provenance": true}

// FHIRBase returns the FHIR base URL.
func (s *Server) FHIRBase() string { return s.fhirBase }

// Routes registers the FHIR API on mux. Each route names its interaction,
// so that a request refused while it is parsed is still reported as what
// it tried to be (Auditor.Executed).
func (s *Server) Routes(mux *http.ServeMux) {
	route := func(pattern string, in interaction.Kind, parse func(*http.Request) (*interaction.Request, error)) {
		mux.Handle(pattern, s.handle(in, parse))
	}
	route("GET /fhir/metadata", interaction.Capabilities, s.parseCapabilities)
	route("GET /fhir", interaction.SearchSystem, s.parseSearchSystem)
	route("GET /fhir/{$}", interaction.SearchSystem, s.parseSearchSystem)
	route("POST /fhir", interaction.Transaction, s.parseBundle)
	route("POST /fhir/{$}", interaction.Transaction, s.parseBundle)
	route("GET /fhir/_history", interaction.HistorySystem, s.parseHistory)
	route("GET /fhir/_search", interaction.SearchSystem, s.parseSearchSystem)
	route("POST /fhir/_search", interaction.SearchSystem, s.parseSearchSystem)
	route("GET /fhir/{type}", interaction.SearchType, s.parseSearchType)
	route("POST /fhir/{type}", interaction.Create, s.parseCreate)
	route("PUT /fhir/{type}", interaction.Update, s.parseUpdate)
	route("DELETE /fhir/{type}", interaction.Delete, s.parseDelete)
	route("GET /fhir/{type}/_search", interaction.SearchType, s.parseSearchType)
	route("POST /fhir/{type}/_search", interaction.SearchType, s.parseSearchType)
	route("GET /fhir/{type}/_history", interaction.HistoryType, s.parseHistory)
	route("GET /fhir/{type}/{id}", interaction.Read, s.parseRead)
	route("PUT /fhir/{type}/{id}", interaction.Update, s.parseUpdate)
	route("DELETE /fhir/{type}/{id}", interaction.Delete, s.parseDelete)
	route("GET /fhir/{type}/{id}/_history", interaction.HistoryInstance, s.parseHistory)
	route("GET /fhir/{type}/{id}/_history/{vid}", interaction.VRead, s.parseRead)
	route("POST /fhir/{type}/$validate", interaction.Operation, s.parseValidate)
	route("POST /fhir/{type}/{id}/$validate", interaction.Operation, s.parseValidate)
	// Anything else under /fhir: a FHIR-shaped 404 or 405, not net/http's
	// text (nor, for the base, its redirect to /fhir/).
	route("/fhir", 0, s.parseUnrouted)
	route("/fhir/", 0, s.parseUnrouted)
}

// handle adapts a request parser to an http.Handler: negotiate the format,
// parse the request once, run it through the pipeline, write the answer.
func (s *Server) handle(in interaction.Kind, parse func(*http.Request) (*interaction.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body := s.bodies.admit(r)
		defer body.release()
		f, err := negotiate(r)
		if err == nil {
			err = checkQuery(r)
		}
		var resp *interaction.Response
		var req *interaction.Request
		if err == nil {
			if req, err = parse(r); err == nil {
				resp, err = s.Execute(ctx, req)
			}
		}
		if err != nil {
			resp = errorResponse(ctx, s.log, err)
			if req == nil { // refused before Execute
				s.cfg.Auditor.Executed(ctx, &interaction.Request{Kind: in, Type: r.PathValue("type"), ID: r.PathValue("id"), Entry: -1, Method: r.Method, Header: r.Header}, nil, err)
			}
		}
		writeResponse(w, resp, f)
	})
}

// Execute runs one interaction through the pipeline, in this order: the
// caller (authenticated before, in the request's context: none is a 401),
// its access decided once (interaction.Decide), the interaction's
// permission, the interaction itself under that access, and its audit
// record (Auditor.Executed), whatever the outcome. Only the
// CapabilityStatement is public.
func (s *Server) Execute(ctx context.Context, req *interaction.Request) (*interaction.Response, error) {
	if req.Kind == interaction.Capabilities {
		return s.run(ctx, req, nil)
	}
	acc, err := interaction.Decide(ctx, s.cfg.Authorizer, s.cfg.Viewers)
	if err != nil {
		s.cfg.Auditor.Executed(ctx, req, nil, err)
		return nil, err
	}
	return s.run(ctx, req, acc)
}

// run is Execute for a caller whose access is decided: a Bundle's entries
// run under their Bundle's.
func (s *Server) run(ctx context.Context, req *interaction.Request, acc *interaction.Access) (resp *interaction.Response, err error) {
	defer func() { s.cfg.Auditor.Executed(ctx, req, resp, err) }()
	if req.Kind == interaction.Capabilities {
		return s.capabilities()
	}
	if err := acc.Permit(req); err != nil {
		return nil, err
	}
	switch req.Kind {
	case interaction.Read, interaction.VRead:
		return s.read(ctx, req, acc)
	case interaction.HistoryInstance, interaction.HistoryType, interaction.HistorySystem:
		return s.history(ctx, req, acc)
	case interaction.SearchType, interaction.SearchSystem:
		return s.search(ctx, req, acc)
	case interaction.Create, interaction.Update, interaction.Delete:
		return s.write(ctx, req, acc)
	case interaction.Batch:
		if err := s.checkEntries(req); err != nil {
			return nil, err
		}
		return s.batch(ctx, req, acc)
	case interaction.Transaction:
		if err := s.checkEntries(req); err != nil {
			return nil, err
		}
		return s.transaction(ctx, req, acc)
	case interaction.Operation:
		return s.validate(ctx, req)
	}
	return nil, fmt.Errorf("rest: no handler for %v", req.Kind)
}

// checkType validates a resource type from a URL.
func (s *Server) checkType(typ string) error {
	if _, ok := s.writable[typ]; ok {
		return nil
	}
	if isOperation(typ) {
		return noOperation(typ)
	}
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotSupported, "resource type %q is not served here (types: %s)", typ, strings.Join(s.cfg.Search.Registry().Types(), ", "))
}

func (s *Server) checkWritable(typ string) error {
	if err := s.checkType(typ); err != nil {
		return err
	}
	if !s.writable[typ] {
		return notAllowed("GET", "%s resources are written by the server only; clients may read and search them", typ)
	}
	return nil
}

func checkID(id string) error {
	if isOperation(id) {
		return noOperation(id)
	}
	if !fhir.ValidID(id) {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "%q is not a valid resource id (1-64 of A-Z a-z 0-9 - .)", id)
	}
	return nil
}

func (s *Server) newRequest(r *http.Request, in interaction.Kind) *interaction.Request {
	return &interaction.Request{Kind: in, Type: r.PathValue("type"), ID: r.PathValue("id"), Entry: -1,
		Method: r.Method, Header: r.Header, Prefer: interaction.ParsePrefer(r.Header.Values("Prefer"))}
}

func (s *Server) parseCapabilities(r *http.Request) (*interaction.Request, error) {
	return s.newRequest(r, interaction.Capabilities), nil
}

func (s *Server) parseRead(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Read)
	if err := s.misrouted(r, req); err != nil {
		return nil, err
	}
	if err := s.checkType(req.Type); err != nil {
		return nil, err
	}
	if err := checkID(req.ID); err != nil {
		return nil, err
	}
	if vid := r.PathValue("vid"); vid != "" {
		req.Kind = interaction.VRead
		v, err := parseVersion(vid)
		if err != nil {
			return nil, err
		}
		req.VersionID = v
	}
	var err error
	if req.IfNoneMatch, err = parseIfNoneMatch(r.Header); err != nil {
		return nil, err
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			req.IfModifiedSince = t
		}
	}
	req.Query = r.URL.Query()
	return req, nil
}

func (s *Server) parseHistory(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.HistorySystem)
	switch {
	case req.ID != "":
		req.Kind = interaction.HistoryInstance
		if err := checkID(req.ID); err != nil {
			return nil, err
		}
		fallthrough
	case req.Type != "":
		if req.ID == "" {
			req.Kind = interaction.HistoryType
		}
		if err := s.checkType(req.Type); err != nil {
			return nil, err
		}
	}
	req.Query = r.URL.Query()
	return req, nil
}

func (s *Server) parseCreate(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Create)
	if err := s.misrouted(r, req); err != nil {
		return nil, err
	}
	if err := s.checkWritable(req.Type); err != nil {
		return nil, err
	}
	res, err := s.parseResourceBody(r, req.Type)
	if err != nil {
		return nil, err
	}
	req.Resource = res
	ifNoneExist, err := single(r.Header, "If-None-Exist")
	if err != nil {
		return nil, err
	}
	if req.IfNoneExist, err = parseIfNoneExist(req.Type, ifNoneExist); err != nil {
		return nil, err
	}
	if req.Provenance, err = parseProvenance(r.Header); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Server) parseUpdate(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Update)
	if err := s.misrouted(r, req); err != nil {
		return nil, err
	}
	if err := s.checkWritable(req.Type); err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.Query = r.URL.Query()
		dropControl(req.Query)
		if len(req.Query) == 0 {
			return nil, notAllowed("GET, POST", "PUT %s needs an id (%s/[id]) or search criteria (conditional update)", req.Type, req.Type)
		}
	} else if err := checkID(req.ID); err != nil {
		return nil, err
	}
	res, err := s.parseResourceBody(r, req.Type)
	if err != nil {
		return nil, err
	}
	if req.ID != "" {
		// FHIR update: the body's id must be present and equal the URL's.
		switch {
		case res.ID == "":
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueRequired, "the resource has no id; PUT %s/%s needs \"id\": %q in the body", req.Type, req.ID, req.ID).At(req.Type + ".id")
		case res.ID != req.ID:
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the resource id %q differs from the id %q in the URL", res.ID, req.ID).At(req.Type + ".id")
		}
	}
	req.Resource = res
	if req.IfMatch, err = parseIfMatch(r.Header); err != nil {
		return nil, err
	}
	if req.Provenance, err = parseProvenance(r.Header); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Server) parseDelete(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Delete)
	if err := s.misrouted(r, req); err != nil {
		return nil, err
	}
	if err := s.checkWritable(req.Type); err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.Query = r.URL.Query()
		dropControl(req.Query)
		if len(req.Query) == 0 {
			return nil, notAllowed("GET, POST", "DELETE %s needs an id (%s/[id]) or search criteria (conditional delete)", req.Type, req.Type)
		}
	} else if err := checkID(req.ID); err != nil {
		return nil, err
	}
	var err error
	if req.IfMatch, err = parseIfMatch(r.Header); err != nil {
		return nil, err
	}
	if req.Provenance, err = parseProvenance(r.Header); err != nil {
		return nil, err
	}
	return req, nil
}

// parseUnrouted refuses what no route took: an operation this server does
// not offer or an unknown type (404), a FHIR path with a method it does
// not take (405, with the methods it does), anything else (404).
func (s *Server) parseUnrouted(r *http.Request) (*interaction.Request, error) {
	var parts []string
	if p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/fhir"), "/"); p != "" {
		parts = strings.Split(p, "/")
	}
	if i := slices.IndexFunc(parts, isOperation); i >= 0 && !validatePath(parts) {
		return nil, noOperation(parts[i])
	}
	if len(parts) > 0 && !systemPath(parts[0]) {
		if err := s.checkType(parts[0]); err != nil {
			return nil, err
		}
	}
	allow := allowed(parts)
	switch {
	case allow == "" || slices.Contains(strings.Split(allow, ", "), r.Method):
		// No interaction has this path (or it does, spelled otherwise: a
		// trailing slash).
	case r.Method == http.MethodPatch:
		return nil, notAllowed(allow, "PATCH is not supported; send the whole resource with PUT")
	default:
		return nil, notAllowed(allow, "%s is not allowed on %s", r.Method, r.URL.Path)
	}
	return nil, fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s %s is not a FHIR interaction this server offers", r.Method, r.URL.Path)
}

// misrouted refuses, as parseUnrouted does, a request the {type} and {id}
// routes took although its URL names no resource: a system path
// (PUT /fhir/metadata) or a type-level one (DELETE /fhir/Practitioner/_history).
func (s *Server) misrouted(r *http.Request, req *interaction.Request) error {
	if systemPath(req.Type) || strings.HasPrefix(req.ID, "_") || isOperation(req.ID) {
		_, err := s.parseUnrouted(r)
		return err
	}
	return nil
}

// systemPath reports whether a first path segment names a system-level
// interaction (metadata, _history, _search) rather than a type.
func systemPath(seg string) bool { return seg == "metadata" || strings.HasPrefix(seg, "_") }

// allowed lists the methods the FHIR path of these segments takes (its
// Allow header), or "" when no interaction has its shape.
func allowed(parts []string) string {
	n := len(parts)
	switch {
	case n == 0:
		return "GET, POST"
	case systemPath(parts[0]):
		switch {
		case n > 1:
			return ""
		case parts[0] == "_search":
			return "GET, POST"
		case parts[0] == "metadata", parts[0] == "_history":
			return "GET"
		}
		return ""
	case n == 1:
		return "GET, POST, PUT, DELETE"
	case n == 2 && parts[1] == "_search":
		return "GET, POST"
	case n == 2 && parts[1] == "_history":
		return "GET"
	case validatePath(parts):
		return "POST"
	case n == 2:
		return "GET, PUT, DELETE"
	case (n == 3 || n == 4) && parts[2] == "_history":
		return "GET"
	}
	return ""
}

// validatePath reports whether a path is [type]/$validate or
// [type]/[id]/$validate.
func validatePath(parts []string) bool {
	n := len(parts)
	return n >= 2 && n <= 3 && parts[n-1] == "$validate" && !systemPath(parts[0])
}

// isOperation reports whether a path segment names an operation ($name).
func isOperation(seg string) bool { return strings.HasPrefix(seg, "$") }

// noOperation refuses an operation the server does not offer: those it
// offers (bulk export) are served before the FHIR routes.
func noOperation(name string) error {
	return fhir.Errorf(http.StatusNotFound, fhir.IssueNotSupported, "operation %q is not offered here; the CapabilityStatement (metadata) lists those that are", name)
}

// parseResourceBody reads and validates a resource of type typ.
func (s *Server) parseResourceBody(r *http.Request, typ string) (*fhir.Resource, error) {
	data, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	res, err := s.parseResource(data)
	if err != nil {
		return nil, err
	}
	if res.Type != typ {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the body is a %s but the URL names %s", res.Type, typ).At("resourceType")
	}
	return res, nil
}

// dropControl removes parameters that shape the response rather than
// select resources.
func dropControl(q map[string][]string) {
	for _, k := range []string{"_format", "_pretty", "_summary", "_elements"} {
		delete(q, k)
	}
}

func (s *Server) fullURL(typ, id string) string { return s.fhirBase + "/" + typ + "/" + id }
