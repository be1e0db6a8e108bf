package rest_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// pagedHistory follows next links from url and returns every entry
// (historyRefs) and each page's size.
func pagedHistory(t *testing.T, srv *testServer, url string, header ...string) (refs []string, sizes []int) {
	t.Helper()
	for url != "" {
		page := srv.do(http.MethodGet, url, "", header...).want(t, http.StatusOK)
		got := historyRefs(page)
		refs = append(refs, got...)
		sizes = append(sizes, len(got))
		url = link(page, "next")
	}
	return refs, sizes
}

// link returns a Bundle's link of relation rel ("" when none).
func link(r *response, rel string) string {
	for _, l := range asArray(r.get("link")) {
		lo := l.(*jsontree.Object)
		if got, _ := lo.String("relation"); got == rel {
			u, _ := lo.String("url")
			return u
		}
	}
	return ""
}

// refType is the resource type of a historyRefs entry.
func refType(srv *testServer, ref string) string {
	typ, _, _ := strings.Cut(strings.TrimPrefix(ref, srv.base+"/"), "/")
	return typ
}

// typeCounts summarizes refs as "Type×n …", sorted.
func typeCounts(srv *testServer, refs []string) string {
	n := map[string]int{}
	for _, r := range refs {
		n[refType(srv, r)]++
	}
	var out []string
	for _, typ := range slices.Sorted(maps.Keys(n)) {
		out = append(out, fmt.Sprintf("%s×%d", typ, n[typ]))
	}
	return strings.Join(out, " ")
}

// TestSystemHistoryScopes: system history lists the versions of the types
// the token may search without conditions, as system search does; audit
// records are not versions of the directory's data (AuditEvent/_history
// lists them).
func TestSystemHistoryScopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		srv.do(http.MethodPut, "/Practitioner/p1", `{"resourceType":"Practitioner","id":"p1","active":true}`).want(t, http.StatusCreated)
		srv.do(http.MethodPut, "/Practitioner/p1", `{"resourceType":"Practitioner","id":"p1","active":false}`).want(t, http.StatusOK)
		srv.do(http.MethodPut, "/Organization/o1", `{"resourceType":"Organization","id":"o1","active":true}`).want(t, http.StatusCreated)
		srv.do(http.MethodPut, "/Location/l1", `{"resourceType":"Location","id":"l1","status":"active"}`).want(t, http.StatusCreated)
		tests := []struct {
			name   string
			scope  string
			status int
			want   string // typeCounts of the listing
		}{
			{"every type but the audit trail", "system/*.rs", http.StatusOK, "Location×1 Organization×1 Practitioner×2 Provenance×4"},
			// Records are listed by AuditEvent/_history alone.
			{"audit trail named", "system/*.rs system/AuditEvent.rs", http.StatusOK, "Location×1 Organization×1 Practitioner×2 Provenance×4"},
			{"v1 read", "system/*.read", http.StatusOK, "Location×1 Organization×1 Practitioner×2 Provenance×4"},
			{"one type", "system/Practitioner.rs", http.StatusOK, "Practitioner×2"},
			{"audit trail alone", "system/AuditEvent.rs", http.StatusOK, ""},
			{"filtered type left out", "system/Practitioner.rs system/Organization.rs?active=true", http.StatusOK, "Practitioner×2"},
			{"filtered type only", "system/Organization.rs?active=true", http.StatusForbidden, ""},
			{"read without search", "system/*.r", http.StatusForbidden, ""},
			{"write only", "system/*.cud", http.StatusForbidden, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := srv.do(http.MethodGet, "/_history?_count=1000", "", "X-Scope", tt.scope).want(t, tt.status)
				if tt.status != http.StatusOK {
					if diag, _ := resp.issue(); !strings.Contains(diag, "system history") {
						t.Errorf("GET /_history as %q: diagnostics %q; want them to name system history", tt.scope, diag)
					}
					return
				}
				if got := typeCounts(srv, historyRefs(resp)); got != tt.want {
					t.Errorf("GET /_history as %q lists %s; want %s", tt.scope, got, tt.want)
				}
			})
		}
	})
}

// TestSystemHistoryScopePaging pages through a system history narrowed to
// two types: every page but the last is full, the pages hold exactly the
// full listing's versions of those types in its order, and the links keep
// the request's parameters.
func TestSystemHistoryScopePaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		for i := range 4 {
			srv.clock.Advance(time.Second)
			srv.do(http.MethodPut, "/Practitioner/p1", fmt.Sprintf(`{"resourceType":"Practitioner","id":"p1","name":[{"family":"v%d"}]}`, i)).want(t, http.StatusCreated+min(i, 1)*(http.StatusOK-http.StatusCreated))
			srv.do(http.MethodPut, fmt.Sprintf("/Organization/o%d", i), `{"resourceType":"Organization","active":true,"id":"o`+fmt.Sprint(i)+`"}`).want(t, http.StatusCreated)
			srv.do(http.MethodPut, fmt.Sprintf("/Location/l%d", i), `{"resourceType":"Location","status":"active","id":"l`+fmt.Sprint(i)+`"}`).want(t, http.StatusCreated)
		}
		all := srv.do(http.MethodGet, "/_history?_count=1000", "").want(t, http.StatusOK)
		want := historyRefs(all, "AuditEvent", "Provenance", "Organization")
		const scope = "system/Practitioner.rs system/Location.rs"
		got, sizes := pagedHistory(t, srv, srv.base+"/_history?_count=3", "X-Scope", scope)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("paged history as %q = %v; want %v", scope, got, want)
		}
		for i, n := range sizes[:len(sizes)-1] {
			if n != 3 {
				t.Errorf("page %d of %v holds %d entries; want 3", i, sizes, n)
			}
		}
		first := srv.do(http.MethodGet, "/_history?_count=3", "", "X-Scope", scope).want(t, http.StatusOK)
		if self := link(first, "self"); self != srv.base+"/_history?_count=3" {
			t.Errorf("self link = %q; want %q", self, srv.base+"/_history?_count=3")
		}
		if next := link(first, "next"); !strings.HasPrefix(next, srv.base+"/_history?_count=3&_page=") {
			t.Errorf("next link = %q; want %s/_history?_count=3&_page=…", next, srv.base)
		}
	})
}
