package console

import "net/http"

func (c *Console) dataTypes(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}

func (c *Console) dataSearch(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}

func (c *Console) dataResource(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, &pageError{status: http.StatusNotImplemented, msg: "not yet"})
}
