package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/store"
)

// page is what every template gets: the layout's fields and the page's
// own data.
type page struct {
	Title    string
	Nav      string // the section the page belongs to: "", clients, audit, data, exports
	Operator string
	Session  string // the session's public name; "" when not logged in
	CSRF     string
	Data     any
}

// parsePages parses each page under templates/ (every file but the
// layout) with the layout: one template set per page, so that each may
// define its own "content".
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("console: layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		file := path.Base(name)
		if file == "layout.html" || file == "partials.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, name)
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", file, err)
		}
		pages[file] = t
	}
	return pages, nil
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"micros": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	},
}

// render writes a page with status: the template is executed into a
// buffer first, so that a template error is a clean 500, never half a
// page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t := c.pages[name]
	if t == nil {
		c.fail(w, r, fmt.Errorf("console: no template %s", name))
		return
	}
	p := page{Title: title, Nav: navOf(r.URL.Path), Operator: c.cfg.Operator, Data: data}
	if ses := sessionFrom(r.Context()); ses != nil {
		p.Session, p.CSRF = ses.name, ses.csrf
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.log.ErrorContext(r.Context(), "console page failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// navOf is the section of a path, for the navigation bar.
func navOf(p string) string {
	for _, s := range []string{"clients", "audit", "data", "exports"} {
		if p == "/"+s || len(p) > len(s)+1 && p[:len(s)+2] == "/"+s+"/" {
			return s
		}
	}
	return ""
}

// pageError is an error shown to the operator as it is, with its status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &pageError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// fail answers err as an error page: a pageError or a FHIR error with its
// own status and message; anything else is a 500 whose cause goes to the
// log, not the page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "the console failed to answer; the cause is in its log"
	var pe *pageError
	var fe *fhir.Error
	switch {
	case errors.As(err, &pe):
		status, msg = pe.status, pe.msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.As(err, &fe) && fhir.StatusOf(err) < 500:
		status, msg = fhir.StatusOf(err), issuesText(fe)
	default:
		c.log.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "err", err, "request_id", interaction.RequestID(r.Context()))
	}
	c.render(w, r, status, "error.html", http.StatusText(status), msg)
}

// issuesText is what a FHIR error says to its client: its issues, never
// its cause (which is for the log).
func issuesText(fe *fhir.Error) string {
	if len(fe.Issues) == 0 {
		return http.StatusText(fe.Status)
	}
	texts := make([]string, len(fe.Issues))
	for i, is := range fe.Issues {
		texts[i] = is.Diagnostics
		if len(is.Expression) > 0 {
			texts[i] = is.Expression[0] + ": " + texts[i]
		}
	}
	return strings.Join(texts, "; ")
}

// prettyJSON indents JSON for display (as it is when it cannot be read).
func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// itoa is for links.
func itoa(n int) string { return strconv.Itoa(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
