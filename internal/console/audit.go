package console

import "net/http"

func (c *Console) auditTimeline(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}

func (c *Console) auditRecord(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}
