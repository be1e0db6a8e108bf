package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/search"
	"github.com/vhdir/vhdir/internal/store"
)

// Config is what a Server needs. New validates it.
type Config struct {
	// BaseURL is the public base URL clients use (https://host:port); the
	// FHIR base is BaseURL + "/fhir".
	BaseURL   string
	Store     store.Store
	Directory *directory.Directory
	Search    *search.Engine
	Clock     clock.Clock
	Logger    *slog.Logger
	// MaxBodyBytes limits request bodies (413 beyond).
	MaxBodyBytes int64
	// HSTS adds Strict-Transport-Security (serving over TLS).
	HSTS bool
	// Version is vhdir's version, shown in the CapabilityStatement.
	Version string

	// Authorize, when set, decides whether the caller may perform req; it
	// runs for every interaction, including each Bundle entry. An error is
	// returned to the client (a *fhir.Error with 401/403).
	Authorize func(ctx context.Context, req *Request) error
	// OnWrite, when set, runs inside the write transaction after the
	// interaction's own writes, so that records it adds (Provenance,
	// AuditEvent) commit with them or not at all.
	OnWrite func(ctx context.Context, w *directory.Writer, req *Request, changes []*directory.Change) error
	// OnExecuted, when set, learns the outcome of every interaction that
	// Execute ran, a Bundle's entries included: the audit trail's source.
	// A write that succeeded has already passed through OnWrite.
	OnExecuted func(ctx context.Context, req *Request, resp *Response, err error)
	// BeforeSearch, when set, runs before a search over types with query,
	// before a history over types (none: the whole system), and before a
	// second look when a read of a type only the server writes found
	// nothing: resources stored after the fact (AuditEvents, chained
	// first) are brought up to date here.
	BeforeSearch func(ctx context.Context, types []string, query url.Values) error
	// Access, when set, returns the limits of the caller whose request ctx
	// carries (nil: none). Authorize decides whether an interaction may
	// run at all; Access narrows what it sees: included resources, the
	// types of system-level searches, query-filtered scopes.
	Access func(ctx context.Context) *Access
	// Security, when set, is described in the CapabilityStatement's
	// rest.security.
	Security *Security
	// Operations are system-level operations served by other handlers
	// (bulk export), listed in the CapabilityStatement with Instantiates,
	// the capability statements they conform to.
	Operations   []Operation
	Instantiates []string
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
	viewers  viewers
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil, cfg.Directory == nil, cfg.Search == nil, cfg.Clock == nil:
		return nil, errors.New("rest: Store, Directory, Search and Clock are required")
	case cfg.BaseURL == "":
		return nil, errors.New("rest: BaseURL is required")
	case cfg.MaxBodyBytes <= 0:
		return nil, errors.New("rest: MaxBodyBytes must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, fhirBase: strings.TrimSuffix(cfg.BaseURL, "/") + "/fhir", writable: map[string]bool{}}
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
// it tried to be (OnExecuted).
func (s *Server) Routes(mux *http.ServeMux) {
	route := func(pattern string, in Interaction, parse func(*http.Request) (*Request, error)) {
		mux.Handle(pattern, s.handle(in, parse))
	}
	route("GET /fhir/metadata", Capabilities, s.parseCapabilities)
	route("GET /fhir", SearchSystem, s.parseSearchSystem)
	route("GET /fhir/{$}", SearchSystem, s.parseSearchSystem)
	route("POST /fhir", Transaction, s.parseBundle)
	route("POST /fhir/{$}", Transaction, s.parseBundle)
	route("GET /fhir/_history", HistorySystem, s.parseHistory)
	route("GET /fhir/_search", SearchSystem, s.parseSearchSystem)
	route("POST /fhir/_search", SearchSystem, s.parseSearchSystem)
	route("GET /fhir/{type}", SearchType, s.parseSearchType)
	route("POST /fhir/{type}", Create, s.parseCreate)
	route("PUT /fhir/{type}", Update, s.parseUpdate)
	route("DELETE /fhir/{type}", Delete, s.parseDelete)
	route("GET /fhir/{type}/_search", SearchType, s.parseSearchType)
	route("POST /fhir/{type}/_search", SearchType, s.parseSearchType)
	route("GET /fhir/{type}/_history", HistoryType, s.parseHistory)
	route("GET /fhir/{type}/{id}", Read, s.parseRead)
	route("PUT /fhir/{type}/{id}", Update, s.parseUpdate)
	route("DELETE /fhir/{type}/{id}", Delete, s.parseDelete)
	route("GET /fhir/{type}/{id}/_history", HistoryInstance, s.parseHistory)
	route("GET /fhir/{type}/{id}/_history/{vid}", VRead, s.parseRead)
	// Anything else under /fhir: a FHIR-shaped 404 or 405, not net/http's text.
	route("/fhir/", 0, s.parseUnrouted)
}

// handle adapts a request parser to an http.Handler: negotiate the format,
// parse the request once, run it through the pipeline, write the answer.
func (s *Server) handle(in Interaction, parse func(*http.Request) (*Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, err := negotiate(r)
		var resp *Response
		var req *Request
		if err == nil {
			if req, err = parse(r); err == nil {
				resp, err = s.Execute(ctx, req)
			}
		}
		if err != nil {
			resp = errorResponse(ctx, s.log, err)
			if req == nil && s.cfg.OnExecuted != nil { // refused before Execute
				s.cfg.OnExecuted(ctx, &Request{Interaction: in, Type: r.PathValue("type"), ID: r.PathValue("id"), Entry: -1, Method: r.Method, Header: r.Header}, nil, err)
			}
		}
		resp.write(w, f)
	})
}

// Execute runs one interaction through the pipeline: authorization, then
// the interaction itself. Bundle entries come through here too.
func (s *Server) Execute(ctx context.Context, req *Request) (resp *Response, err error) {
	if s.cfg.OnExecuted != nil {
		defer func() { s.cfg.OnExecuted(ctx, req, resp, err) }()
	}
	if s.cfg.Authorize != nil {
		if err := s.cfg.Authorize(ctx, req); err != nil {
			return nil, err
		}
	}
	switch req.Interaction {
	case Capabilities:
		return s.capabilities()
	case Read, VRead:
		return s.read(ctx, req)
	case HistoryInstance, HistoryType, HistorySystem:
		return s.history(ctx, req)
	case SearchType, SearchSystem:
		return s.search(ctx, req)
	case Create, Update, Delete:
		return s.write(ctx, req)
	case Batch:
		return s.batch(ctx, req)
	case Transaction:
		return s.transaction(ctx, req)
	}
	return nil, fmt.Errorf("rest: no handler for %v", req.Interaction)
}

// checkType validates a resource type from a URL.
func (s *Server) checkType(typ string) error {
	if _, ok := s.writable[typ]; ok {
		return nil
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
	if !fhir.ValidID(id) {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "%q is not a valid resource id (1-64 of A-Z a-z 0-9 - .)", id)
	}
	return nil
}

func (s *Server) newRequest(r *http.Request, in Interaction) *Request {
	return &Request{Interaction: in, Type: r.PathValue("type"), ID: r.PathValue("id"), Entry: -1,
		Method: r.Method, Header: r.Header, Prefer: parsePrefer(r.Header.Values("Prefer"))}
}

func (s *Server) parseCapabilities(r *http.Request) (*Request, error) {
	return s.newRequest(r, Capabilities), nil
}

func (s *Server) parseRead(r *http.Request) (*Request, error) {
	req := s.newRequest(r, Read)
	if err := s.checkType(req.Type); err != nil {
		return nil, err
	}
	if err := checkID(req.ID); err != nil {
		return nil, err
	}
	if vid := r.PathValue("vid"); vid != "" {
		req.Interaction = VRead
		v, err := parseVersion(vid)
		if err != nil {
			return nil, err
		}
		req.VersionID = v
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		req.IfNoneMatch, _ = fhir.ParseETag(strings.TrimSpace(v))
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			req.IfModifiedSince = t
		}
	}
	req.Query = r.URL.Query()
	return req, nil
}

func (s *Server) parseHistory(r *http.Request) (*Request, error) {
	req := s.newRequest(r, HistorySystem)
	switch {
	case req.ID != "":
		req.Interaction = HistoryInstance
		if err := checkID(req.ID); err != nil {
			return nil, err
		}
		fallthrough
	case req.Type != "":
		if req.ID == "" {
			req.Interaction = HistoryType
		}
		if err := s.checkType(req.Type); err != nil {
			return nil, err
		}
	}
	req.Query = r.URL.Query()
	return req, nil
}

func (s *Server) parseCreate(r *http.Request) (*Request, error) {
	req := s.newRequest(r, Create)
	if err := s.checkWritable(req.Type); err != nil {
		return nil, err
	}
	res, err := s.parseResourceBody(r, req.Type)
	if err != nil {
		return nil, err
	}
	req.Resource = res
	if req.IfNoneExist, err = parseIfNoneExist(req.Type, r.Header.Get("If-None-Exist")); err != nil {
		return nil, err
	}
	if req.Provenance, err = parseProvenance(r.Header); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Server) parseUpdate(r *http.Request) (*Request, error) {
	req := s.newRequest(r, Update)
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

func (s *Server) parseDelete(r *http.Request) (*Request, error) {
	req := s.newRequest(r, Delete)
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

func (s *Server) parseUnrouted(r *http.Request) (*Request, error) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/"), "/")
	if len(parts) > 0 && parts[0] != "" && !strings.HasPrefix(parts[0], "_") && !strings.HasPrefix(parts[0], "$") {
		if err := s.checkType(parts[0]); err != nil {
			return nil, err
		}
	}
	allow := map[int]string{0: "GET, POST", 1: "GET, POST, PUT, DELETE", 2: "GET, PUT, DELETE"}[len(parts)]
	if r.Method == http.MethodPatch {
		return nil, notAllowed(allow, "PATCH is not supported; send the whole resource with PUT")
	}
	if allow != "" && !slices.Contains(strings.Split(allow, ", "), r.Method) {
		return nil, notAllowed(allow, "%s is not allowed on %s", r.Method, r.URL.Path)
	}
	return nil, fhir.Errorf(http.StatusNotFound, fhir.IssueNotFound, "%s %s is not a FHIR interaction this server offers", r.Method, r.URL.Path)
}

// parseResourceBody reads and validates a resource of type typ.
func (s *Server) parseResourceBody(r *http.Request, typ string) (*fhir.Resource, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	res, err := fhir.ParseResource(data)
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
