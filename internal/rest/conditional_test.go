package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

// orgBody is an Organization with the given id and name.
func orgBody(id, name string) string {
	return `{"resourceType":"Organization","id":"` + id + `","name":"` + name + `"}`
}

// makeOrg brings Organization/id into a state: "current" (versions 1 and
// 2, 2 current), "deleted" (version 1, then a delete as version 2) or
// "absent" (never written).
func makeOrg(t *testing.T, srv *testServer, id, state string) {
	t.Helper()
	switch state {
	case "current":
		srv.do(http.MethodPut, "/Organization/"+id, orgBody(id, "One")).want(t, http.StatusCreated)
		srv.do(http.MethodPut, "/Organization/"+id, orgBody(id, "Two")).want(t, http.StatusOK)
	case "deleted":
		srv.do(http.MethodPut, "/Organization/"+id, orgBody(id, "One")).want(t, http.StatusCreated)
		srv.do(http.MethodDelete, "/Organization/"+id, "").want(t, http.StatusOK)
	case "absent":
	default:
		t.Fatalf("makeOrg: unknown state %q", state)
	}
}

// TestIfNoneMatch: read and vread answer 304 when any listed ETag names
// the version (weak comparison), or for * when it exists; ETags of no
// version match nothing; malformed values are a 400. With If-None-Match,
// If-Modified-Since is ignored (RFC 9110 §13.1.3).
func TestIfNoneMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		makeOrg(t, srv, "o1", "current")
		makeOrg(t, srv, "gone", "deleted")
		tests := []struct {
			name, path, value string
			header            []string
			status            int
			etag              string // of a 304
		}{
			{"read, one ETag, current", "/Organization/o1", `W/"2"`, nil, 304, `W/"2"`},
			{"read, one ETag, older", "/Organization/o1", `W/"1"`, nil, 200, ""},
			{"read, list hit", "/Organization/o1", `W/"1", W/"2"`, nil, 304, `W/"2"`},
			{"read, list miss", "/Organization/o1", `W/"1", W/"3"`, nil, 200, ""},
			{"read, list of strong ETags (weak comparison)", "/Organization/o1", `"7","2"`, nil, 304, `W/"2"`},
			{"read, list with an ETag of no version", "/Organization/o1", `W/"2-gzip", W/"2"`, nil, 304, `W/"2"`},
			{"read, only ETags of no version", "/Organization/o1", `"abc", W/"2-gzip"`, nil, 200, ""},
			{"read, * on an existing resource", "/Organization/o1", `*`, nil, 304, `W/"2"`},
			{"read, * on a deleted resource", "/Organization/gone", `*`, nil, 410, ""},
			{"read, * on an unknown resource", "/Organization/nobody", `*`, nil, 404, ""},
			{"read, list miss beats If-Modified-Since", "/Organization/o1", `W/"1"`, []string{"If-Modified-Since", "Wed, 04 Mar 2099 05:06:07 GMT"}, 200, ""},
			{"vread, list hit", "/Organization/o1/_history/1", `W/"1", W/"2"`, nil, 304, `W/"1"`},
			{"vread, list miss", "/Organization/o1/_history/1", `W/"2", W/"3"`, nil, 200, ""},
			{"vread, one ETag", "/Organization/o1/_history/2", `W/"2"`, nil, 304, `W/"2"`},
			{"vread, *", "/Organization/o1/_history/1", `*`, nil, 304, `W/"1"`},
			{"malformed, * in a list", "/Organization/o1", `W/"1", *`, nil, 400, ""},
			{"malformed, unterminated", "/Organization/o1", `W/"1`, nil, 400, ""},
			{"malformed, not an ETag", "/Organization/o1", `seven`, nil, 400, ""},
			{"malformed, no comma", "/Organization/o1", `W/"1" W/"2"`, nil, 400, ""},
			{"malformed, vread", "/Organization/o1/_history/1", `W/"1", "x y"`, nil, 400, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := srv.do(http.MethodGet, tt.path, "", append([]string{"If-None-Match", tt.value}, tt.header...)...).want(t, tt.status)
				switch tt.status {
				case http.StatusNotModified:
					if got := r.header.Get("ETag"); got != tt.etag {
						t.Errorf("304 ETag = %q; want %q", got, tt.etag)
					}
				case http.StatusBadRequest:
					if d, _ := r.issue(); !strings.Contains(d, "If-None-Match") {
						t.Errorf("diagnostics = %q; want it to name If-None-Match", d)
					}
				}
			})
		}
	})
}

// TestIfMatch: update and delete succeed when any listed ETag names the
// current version, or for * when the resource exists (a current version
// that is no delete); else 412 and nothing changes. Malformed values are a
// 400.
func TestIfMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		tests := []struct {
			name, state, method, value string
			status                     int
			after                      int // status of a read afterwards
		}{
			{"update, one ETag", "current", "PUT", `W/"2"`, 200, 200},
			{"update, one older ETag", "current", "PUT", `W/"1"`, 412, 200},
			{"update, * on an existing resource", "current", "PUT", `*`, 200, 200},
			{"update, * on an absent resource", "absent", "PUT", `*`, 412, 404},
			{"update, * on a deleted resource", "deleted", "PUT", `*`, 412, 410},
			{"update, list hit", "current", "PUT", `W/"1", W/"2"`, 200, 200},
			{"update, list miss", "current", "PUT", `W/"1", W/"3"`, 412, 200},
			{"update, list of strong ETags", "current", "PUT", `"3","2"`, 200, 200},
			{"delete, one ETag", "current", "DELETE", `W/"2"`, 200, 410},
			{"delete, * on an existing resource", "current", "DELETE", `*`, 200, 410},
			{"delete, * on an absent resource", "absent", "DELETE", `*`, 412, 404},
			{"delete, * on a deleted resource", "deleted", "DELETE", `*`, 412, 410},
			{"delete, list hit", "current", "DELETE", `W/"9", W/"2"`, 200, 410},
			{"delete, list miss", "current", "DELETE", `W/"1", W/"3"`, 412, 200},
			{"malformed, * in a list", "current", "PUT", `*, W/"2"`, 400, 200},
			{"malformed, an ETag of no version", "current", "PUT", `W/"2", "abc"`, 400, 200},
			{"malformed, unterminated", "current", "DELETE", `W/"2`, 400, 200},
			{"malformed, empty ETag", "current", "DELETE", `W/""`, 400, 200},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := "m" + string(rune('a'+i))
				makeOrg(t, srv, id, tt.state)
				body := ""
				if tt.method == http.MethodPut {
					body = orgBody(id, "Changed")
				}
				r := srv.do(tt.method, "/Organization/"+id, body, "If-Match", tt.value).want(t, tt.status)
				d, _ := r.issue()
				if tt.status >= 400 && !strings.Contains(d, "If-Match") {
					t.Errorf("diagnostics = %q; want it to name If-Match", d)
				}
				after := srv.do(http.MethodGet, "/Organization/"+id, "").want(t, tt.after)
				if tt.status >= 400 && tt.after == http.StatusOK && after.str("name") != "Two" {
					t.Errorf("a refused %s changed the resource: name %q", tt.method, after.str("name"))
				}
			})
		}
		// Conditional update: * needs the one match to exist.
		srv.do(http.MethodPut, "/Organization?name=nobody-has-this", `{"resourceType":"Organization","name":"New"}`, "If-Match", `*`).want(t, http.StatusPreconditionFailed)
		makeOrg(t, srv, "cond", "current")
		srv.do(http.MethodPut, "/Organization?_id=cond", orgBody("cond", "Changed"), "If-Match", `W/"1", W/"2"`).want(t, http.StatusOK)
	})
}

// TestBundleConditionalHeaders: a Bundle entry's request.ifMatch and
// request.ifNoneMatch work as the headers do.
func TestBundleConditionalHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, srv *testServer) {
		makeOrg(t, srv, "b1", "current")
		makeOrg(t, srv, "b3", "deleted")
		makeOrg(t, srv, "b4", "current")
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
		 {"resource":` + orgBody("b1", "Changed") + `,"request":{"method":"PUT","url":"Organization/b1","ifMatch":"*"}},
		 {"resource":` + orgBody("b2", "New") + `,"request":{"method":"PUT","url":"Organization/b2","ifMatch":"*"}},
		 {"request":{"method":"DELETE","url":"Organization/b3","ifMatch":"*"}},
		 {"resource":` + orgBody("b4", "Changed") + `,"request":{"method":"PUT","url":"Organization/b4","ifMatch":"W/\"1\", W/\"2\""}},
		 {"request":{"method":"GET","url":"Organization/b1","ifNoneMatch":"*"}},
		 {"request":{"method":"GET","url":"Organization/b4/_history/1","ifNoneMatch":"W/\"1\", W/\"3\""}},
		 {"request":{"method":"GET","url":"Organization/b4","ifNoneMatch":"W/\"1\""}},
		 {"resource":` + orgBody("b4", "Again") + `,"request":{"method":"PUT","url":"Organization/b4","ifMatch":"*, W/\"3\""}},
		 {"request":{"method":"GET","url":"Organization/b4","ifNoneMatch":"W/\"1"}}
		]}`
		r := srv.do(http.MethodPost, "", batch).want(t, http.StatusOK)
		want := "200 OK,412 Precondition Failed,412 Precondition Failed,200 OK,304 Not Modified,304 Not Modified,200 OK,400 Bad Request,400 Bad Request"
		if got := strings.Join(statuses(r), ","); got != want {
			t.Errorf("batch statuses = %s; want %s", got, want)
		}
		srv.do(http.MethodGet, "/Organization/b2", "").want(t, http.StatusNotFound)

		// A transaction is all or nothing: ifMatch * on an absent resource
		// fails it whole.
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		 {"resource":` + orgBody("t1", "New") + `,"request":{"method":"PUT","url":"Organization/t1"}},
		 {"resource":` + orgBody("t2", "New") + `,"request":{"method":"PUT","url":"Organization/t2","ifMatch":"*"}}
		]}`
		srv.do(http.MethodPost, "", tx).want(t, http.StatusPreconditionFailed)
		srv.do(http.MethodGet, "/Organization/t1", "").want(t, http.StatusNotFound)
	})
}
