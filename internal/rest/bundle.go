package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vhdir/vhdir/internal/directory"
	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/r4"
	"github.com/vhdir/vhdir/internal/store"
)

// DefaultMaxBundleEntries is the default of Config.MaxBundleEntries: a
// transaction of that many directory resources commits in a few seconds
// (BENCHMARKS.md, Large transactions).
const DefaultMaxBundleEntries = 10_000

func (s *Server) parseBundle(r *http.Request) (*interaction.Request, error) {
	req := s.newRequest(r, interaction.Batch)
	data, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	// The entries' resources are judged as each entry runs (parseEntry):
	// one bad resource fails its own entry of a batch, not the Bundle.
	res, err := s.parseBundleBody(data)
	if err != nil {
		return nil, err
	}
	if res.Type != "Bundle" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "POST to the base takes a batch or transaction Bundle, not a %s", res.Type).At("resourceType")
	}
	switch typ, _ := res.Obj.String("type"); typ {
	case "batch":
	case "transaction":
		req.Kind = interaction.Transaction
	default:
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "Bundle.type is %q; POST to the base takes batch or transaction (load other Bundles with vhdir load)", typ).At("Bundle.type")
	}
	req.Bundle = res
	// One header for the whole Bundle: it applies to every write entry
	// (parseEntry copies it), each of which gets its own Provenance.
	if req.Provenance, err = parseProvenance(r.Header); err != nil {
		return nil, err
	}
	return req, nil
}

// checkEntries refuses a batch or transaction Bundle with more entries
// than the server takes, before any of them runs: a transaction holds the
// database's write lock until its last entry is written (other writes wait
// for it), and memory grows with its entries.
func (s *Server) checkEntries(req *interaction.Request) error {
	raw, _ := req.Bundle.Obj.Get("entry")
	arr, _ := raw.([]any)
	if n, most := len(arr), s.cfg.MaxBundleEntries; n > most {
		return fhir.Errorf(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly,
			"the Bundle has %d entries; at most %d are taken in one batch or transaction (--max-bundle-entries): send them in several Bundles", n, most).At("Bundle.entry")
	}
	return nil
}

// bundleEntries returns the entry objects of a Bundle.
func bundleEntries(b *fhir.Resource) []*jsontree.Object {
	raw, _ := b.Obj.Get("entry")
	arr, _ := raw.([]any)
	out := make([]*jsontree.Object, 0, len(arr))
	for _, e := range arr {
		if o, ok := e.(*jsontree.Object); ok {
			out = append(out, o)
		}
	}
	return out
}

// entryError names the entry an error belongs to. An expression relative
// to the entry's resource (Practitioner.gender, from its validation) is
// rooted in the Bundle (Bundle.entry[1].resource.gender), as the
// structural issues of entries are.
func entryError(i int, err error) error {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return err
	}
	out := &fhir.Error{Status: fe.Status, Err: fe.Err}
	for _, is := range fe.Issues {
		is.Diagnostics = fmt.Sprintf("Bundle.entry[%d]: %s", i, is.Diagnostics)
		if len(is.Expression) == 0 {
			is.Expression = []string{fmt.Sprintf("Bundle.entry[%d]", i)}
		} else {
			exprs := make([]string, len(is.Expression))
			for j, e := range is.Expression {
				exprs[j] = entryPath(i, e)
			}
			is.Expression = exprs
		}
		out.Issues = append(out.Issues, is)
	}
	return out
}

// entryPath roots a FHIRPath that starts at entry i's resource type in the
// Bundle; any other path (Bundle.entry[i].request.url) is kept. Bundles do
// not nest, so an entry's resource is never a Bundle.
func entryPath(i int, expr string) string {
	typ, rest, _ := strings.Cut(expr, ".")
	if typ == "Bundle" || !r4.IsResourceType(typ) {
		return expr
	}
	root := fmt.Sprintf("Bundle.entry[%d].resource", i)
	if rest == "" {
		return root
	}
	return root + "." + rest
}

// parseEntry turns a batch or transaction entry into a Request, checked
// like the HTTP request it stands for, its resource validated as a body
// would be. It inherits the Bundle request's Prefer and X-Provenance
// headers.
func (s *Server) parseEntry(i int, e *jsontree.Object, bundle *interaction.Request) (*interaction.Request, error) {
	reqObj, ok := e.Object("request")
	if !ok {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueRequired, "entry has no request (method and url)").At(fmt.Sprintf("Bundle.entry[%d].request", i))
	}
	if res, ok := e.Get("resource"); ok {
		if issues := fhir.ValidateEntry(i, res); issues != nil {
			return nil, &fhir.Error{Status: http.StatusBadRequest, Issues: issues}
		}
	}
	method, _ := reqObj.String("method")
	rawURL, _ := reqObj.String("url")
	u, err := url.Parse(strings.TrimPrefix(rawURL, s.fhirBase+"/"))
	if err != nil || u.IsAbs() || rawURL == "" {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "request.url %q is not a URL relative to this server's base", rawURL).At(fmt.Sprintf("Bundle.entry[%d].request.url", i))
	}
	// Strictly, as checkQuery does for a request's own URL.
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "request.url %q has a malformed query: %v", rawURL, err).At(fmt.Sprintf("Bundle.entry[%d].request.url", i))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	req := &interaction.Request{Entry: i, Method: method, Query: query, Prefer: bundle.Prefer, Provenance: bundle.Provenance, Type: parts[0]}
	if len(parts) > 1 {
		req.ID = parts[1]
	}
	if v, ok := reqObj.String("ifMatch"); ok {
		if req.IfMatch, err = fhir.ParseIfMatch(v); err != nil {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "request.ifMatch %q: %v", v, err).Wrap(err).At(fmt.Sprintf("Bundle.entry[%d].request.ifMatch", i))
		}
	}
	if v, ok := reqObj.String("ifNoneMatch"); ok { // read and vread entries use it
		if req.IfNoneMatch, err = fhir.ParseIfNoneMatch(v); err != nil {
			return nil, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "request.ifNoneMatch %q: %v", v, err).Wrap(err).At(fmt.Sprintf("Bundle.entry[%d].request.ifNoneMatch", i))
		}
	}
	if v, ok := reqObj.String("ifNoneExist"); ok {
		if req.IfNoneExist, err = parseIfNoneExist(req.Type, v); err != nil {
			return nil, err
		}
	}
	switch method {
	case http.MethodGet:
		err = s.entryGet(req, parts)
	case http.MethodPost, http.MethodPut:
		err = s.entryPut(req, parts, e)
	case http.MethodDelete:
		req.Kind = interaction.Delete
		err = s.entryTarget(req, parts, len(parts) == 2 || len(parts) == 1 && len(req.Query) > 0)
	default:
		err = fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "request.method %q is not supported (GET, POST, PUT, DELETE)", method)
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Server) entryGet(req *interaction.Request, parts []string) error {
	switch {
	case len(parts) == 1 && parts[0] == "metadata":
		req.Kind, req.Type = interaction.Capabilities, ""
		return nil
	case len(parts) == 1 && parts[0] == "_history":
		req.Kind, req.Type = interaction.HistorySystem, ""
		return nil
	case len(parts) == 1:
		req.Kind = interaction.SearchType
	case len(parts) == 2 && parts[1] == "_history":
		req.Kind, req.ID = interaction.HistoryType, ""
	case len(parts) == 2:
		req.Kind = interaction.Read
	case len(parts) == 3 && parts[2] == "_history":
		req.Kind = interaction.HistoryInstance
	case len(parts) == 4 && parts[2] == "_history":
		req.Kind = interaction.VRead
		v, err := parseVersion(parts[3])
		if err != nil {
			return err
		}
		req.VersionID = v
	default:
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "GET %s is not an interaction this server offers", strings.Join(parts, "/"))
	}
	if err := s.checkType(req.Type); err != nil {
		return err
	}
	if req.ID != "" {
		return checkID(req.ID)
	}
	return nil
}

// entryPut handles POST (create) and PUT (update) entries, whose resource
// must match the type the URL names.
func (s *Server) entryPut(req *interaction.Request, parts []string, e *jsontree.Object) error {
	obj, ok := e.Object("resource")
	if !ok {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueRequired, "%s entry has no resource", req.Method).At(fmt.Sprintf("Bundle.entry[%d].resource", req.Entry))
	}
	if err := s.checkEntryNodes(req.Entry, obj); err != nil {
		return err
	}
	typ, _ := obj.String("resourceType")
	id, _ := obj.String("id")
	req.Resource = &fhir.Resource{Type: typ, ID: id, Obj: obj}
	if req.Method == http.MethodPost {
		req.Kind = interaction.Create
		if len(parts) != 1 {
			return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "POST entries create: request.url must be the type, e.g. %q", parts[0])
		}
	} else {
		req.Kind = interaction.Update
		if err := s.entryTarget(req, parts, len(parts) == 2 || len(parts) == 1 && len(req.Query) > 0); err != nil {
			return err
		}
		if req.ID != "" && id != req.ID {
			return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the resource id %q differs from the id %q in request.url", id, req.ID)
		}
	}
	if typ != req.Type {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "request.url names %s but the resource is a %s", req.Type, typ).At(fmt.Sprintf("Bundle.entry[%d].resource", req.Entry))
	}
	return s.checkWritable(req.Type)
}

func (s *Server) entryTarget(req *interaction.Request, parts []string, ok bool) error {
	if !ok {
		return fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "%s needs Type/id or Type?criteria, not %q", req.Method, strings.Join(parts, "/"))
	}
	if err := s.checkWritable(req.Type); err != nil {
		return err
	}
	if req.ID != "" {
		req.Query = nil
		return checkID(req.ID)
	}
	return nil
}

// transaction runs every entry in one database transaction: all succeed or
// nothing is written. Ids are assigned first so that urn:uuid references
// between entries, and conditional references, are rewritten before any
// resource is stored; then DELETE, POST and PUT entries run in that order
// (FHIR R4 http.html#trules). GET entries run after the commit and see it.
func (s *Server) transaction(ctx context.Context, req *interaction.Request, acc *interaction.Access) (*interaction.Response, error) {
	entries := bundleEntries(req.Bundle)
	reqs := make([]*interaction.Request, len(entries))
	for i, e := range entries {
		r, err := s.parseEntry(i, e, req)
		if err != nil {
			return nil, entryError(i, err)
		}
		if r.Kind == interaction.Batch || r.Kind == interaction.Transaction {
			return nil, entryError(i, fhir.Errorf(http.StatusBadRequest, fhir.IssueNotSupported, "Bundles do not nest"))
		}
		if err := acc.Permit(r); err != nil {
			return nil, entryError(i, err)
		}
		reqs[i] = r
	}
	results := make([]*interaction.Response, len(entries))
	viewer, err := acc.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	// Conditional references resolve through the caller's eyes.
	ctx = directory.WithViewer(ctx, viewer.Store())
	_, err = s.cfg.Directory.Write(ctx, func(w *directory.Writer) error {
		if err := s.prepareTransaction(ctx, w, entries, reqs); err != nil {
			return err
		}
		for phase := range 3 {
			for i, r := range reqs {
				if !r.Kind.Writes() || writePhase(r) != phase {
					continue
				}
				c, err := s.apply(ctx, w, r, acc)
				if err != nil {
					return entryError(i, err)
				}
				if results[i], err = s.writeResponse(ctx, r, c, acc); err != nil {
					return err
				}
				// Written: the entry's tree is not needed any more (its
				// response holds the stored bytes), and a transaction of
				// thousands of entries need not keep them all.
				r.Resource = nil
				entries[i].Delete("resource")
			}
		}
		return s.recordWrite(ctx, w, acc, written{req, w.Changes()})
	})
	if err != nil {
		return nil, err
	}
	out := fhir.NewBundle("transaction-response", "", fhir.FormatInstant(s.cfg.Clock.Now()))
	for i, r := range reqs {
		if results[i] == nil { // a GET entry
			resp, err := s.run(ctx, r, acc)
			if err != nil {
				resp = errorResponse(ctx, s.log, entryError(i, err))
			}
			results[i] = resp
		}
		out.Entry(responseEntry(results[i]))
	}
	return newResponse(http.StatusOK, out.Object()), nil
}

// writePhase orders a transaction's writes: deletes, then creates, then
// updates.
func writePhase(r *interaction.Request) int {
	switch {
	case r.Kind == interaction.Delete:
		return 0
	case r.Kind == interaction.Create || r.Method == http.MethodPost:
		return 1
	}
	return 2
}

// prepareTransaction assigns the id of every created resource, resolves
// conditional creates and updates, and rewrites references to entries'
// fullUrls and conditional references in all entry resources.
func (s *Server) prepareTransaction(ctx context.Context, w *directory.Writer, entries []*jsontree.Object, reqs []*interaction.Request) error {
	ids := map[string]string{}  // fullUrl → Type/id
	targets := map[string]int{} // Type/id → entry, to refuse two writes of one resource
	for i, r := range reqs {
		if !r.Kind.Writes() {
			continue
		}
		if r.Kind == interaction.Create {
			id := s.cfg.Directory.NewID()
			if len(r.IfNoneExist) > 0 {
				found, err := w.Resolve(ctx, r.Type, r.IfNoneExist)
				if err != nil {
					return entryError(i, err)
				}
				if len(found) > 1 {
					return entryError(i, fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch, "ifNoneExist matches %d resources", len(found)))
				}
				if len(found) == 1 {
					id = found[0]
				} else {
					r.IfNoneExist = nil // resolved: create with the assigned id
				}
			}
			r.ID = id
		} else if r.Conditional() {
			found, err := w.Resolve(ctx, r.Type, r.Query)
			if err != nil {
				return entryError(i, err)
			}
			switch len(found) {
			case 0:
				if r.Kind == interaction.Update && r.Resource.ID == "" {
					r.Resource.ID = s.cfg.Directory.NewID()
				}
			case 1:
				if r.Kind == interaction.Update && r.Resource.ID != "" && r.Resource.ID != found[0] {
					return entryError(i, fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "the resource id %q differs from the resource the condition matches", r.Resource.ID))
				}
				r.ID = found[0]
			default:
				return entryError(i, fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch, "the condition matches %d resources", len(found)))
			}
			if r.ID == "" && r.Kind == interaction.Update {
				r.ID = r.Resource.ID
			}
			if r.ID != "" {
				r.Query = nil // resolved
			}
		}
		key := r.Type + "/" + r.ID
		if r.ID != "" {
			if j, dup := targets[key]; dup {
				return entryError(i, fhir.Errorf(http.StatusBadRequest, fhir.IssueDuplicate, "entries %d and %d both write %s", j, i, key))
			}
			targets[key] = i
		}
		if full, ok := entries[i].String("fullUrl"); ok && full != "" && r.ID != "" {
			if _, dup := ids[full]; dup {
				return entryError(i, fhir.Errorf(http.StatusBadRequest, fhir.IssueDuplicate, "fullUrl %q appears twice", full))
			}
			ids[full] = key
		}
	}
	for i, r := range reqs {
		if r.Resource == nil {
			continue
		}
		if err := s.rewriteRefs(ctx, w, r.Resource.Obj, ids); err != nil {
			return entryError(i, err)
		}
		if r.Kind == interaction.Create && len(r.IfNoneExist) == 0 {
			r.Kind = interaction.Update // create with the id assigned above
			r.Resource.ID = r.ID
			r.Method = http.MethodPost
		}
	}
	// Read (and lock) every target's current version at once: each entry
	// then finds it in the transaction's cache instead of making a round
	// trip of its own (on PostgreSQL, what bounds a large transaction).
	keys := make([]store.Key, 0, len(targets))
	for key := range targets {
		typ, id, _ := strings.Cut(key, "/")
		keys = append(keys, store.Key{Type: typ, ID: id})
	}
	if len(keys) > 1 {
		slices.SortFunc(keys, func(a, b store.Key) int { return strings.Compare(a.Type+"/"+a.ID, b.Type+"/"+b.ID) })
		if _, err := w.Tx().CurrentMany(ctx, keys); err != nil {
			return err
		}
	}
	return nil
}

// rewriteRefs replaces, everywhere in v, Reference.reference values that
// name another entry's fullUrl or are conditional (Type?criteria).
func (s *Server) rewriteRefs(ctx context.Context, w *directory.Writer, v any, ids map[string]string) error {
	switch x := v.(type) {
	case *jsontree.Object:
		for i := range x.Members {
			m := &x.Members[i]
			if ref, ok := m.Value.(string); ok && m.Key == "reference" {
				repl, err := s.resolveRef(ctx, w, ref, ids)
				if err != nil {
					return err
				}
				m.Value = repl
				continue
			}
			if err := s.rewriteRefs(ctx, w, m.Value, ids); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := s.rewriteRefs(ctx, w, e, ids); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) resolveRef(ctx context.Context, w *directory.Writer, ref string, ids map[string]string) (string, error) {
	if to, ok := ids[ref]; ok {
		return to, nil
	}
	typ, query, conditional := strings.Cut(ref, "?")
	if !conditional || s.checkType(typ) != nil {
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			return "", fhir.Errorf(http.StatusBadRequest, fhir.IssueNotFound, "reference %q names no entry of this transaction", ref)
		}
		return ref, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fhir.Errorf(http.StatusBadRequest, fhir.IssueInvalid, "conditional reference %q has a malformed query", ref)
	}
	found, err := w.Resolve(ctx, typ, q)
	if err != nil {
		return "", err
	}
	if len(found) != 1 {
		return "", fhir.Errorf(http.StatusPreconditionFailed, fhir.IssueMultipleMatch, "conditional reference %q matches %d resources; it must match exactly one", ref, len(found))
	}
	return typ + "/" + found[0], nil
}

// responseEntry turns an interaction's response into a *-response entry.
func responseEntry(resp *interaction.Response) *jsontree.Object {
	e := &jsontree.Object{}
	r := &jsontree.Object{}
	r.Set("status", strconv.Itoa(resp.Status)+" "+http.StatusText(resp.Status))
	if loc := resp.Header.Get("Location"); loc != "" {
		r.Set("location", loc)
	}
	if et := resp.Header.Get("ETag"); et != "" {
		r.Set("etag", et)
	}
	if resp.Version != nil {
		r.Set("lastModified", fhir.FormatInstant(resp.Version.LastUpdated))
	}
	if resp.Status >= 400 {
		if resp.Body != nil {
			r.Set("outcome", resp.Body)
		}
	} else if resp.Body != nil {
		if o, ok := resp.Body.(*jsontree.Object); ok {
			if rt, _ := o.String("resourceType"); rt == "OperationOutcome" {
				r.Set("outcome", o)
				e.Set("response", r)
				return e
			}
		}
		e.Set("resource", resp.Body)
	}
	if len(resp.Issues) > 0 {
		r.Set("outcome", fhir.OutcomeOf(resp.Issues...))
	}
	e.Set("response", r)
	return e
}

// ExecuteBundle runs a batch or transaction Bundle through the pipeline,
// as POST [base] would, and returns the response Bundle (vhdir load). The
// caller has checked the Bundle's own structure (fhir.ValidateShell); its
// entries' resources are checked as each entry runs.
func (s *Server) ExecuteBundle(ctx context.Context, b *fhir.Resource) (*jsontree.Object, error) {
	req := &interaction.Request{Kind: interaction.Batch, Bundle: b, Entry: -1, Method: http.MethodPost}
	if typ, _ := b.Obj.String("type"); typ == "transaction" {
		req.Kind = interaction.Transaction
	}
	resp, err := s.Execute(ctx, req)
	if err != nil {
		return nil, err
	}
	out, ok := resp.Body.(*jsontree.Object)
	if !ok {
		return nil, fmt.Errorf("rest: %v produced no Bundle", req.Kind)
	}
	return out, nil
}

// Writable reports whether clients may write resources of typ.
func (s *Server) Writable(typ string) bool { return s.writable[typ] }

// entryMethod is a Bundle entry's request.method, as far as it can be read.
func entryMethod(e *jsontree.Object) string {
	if r, ok := e.Object("request"); ok {
		if m, ok := r.String("method"); ok {
			return m
		}
	}
	return ""
}
