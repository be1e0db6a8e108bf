package console

import "net/http"

func (c *Console) exportList(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}

func (c *Console) exportCancel(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}
