// Package console owns vhdir's operator console: a web interface served by
// `vhdir console` for the operator at the database (clients, the audit
// trail, the directory's data and its exports). It owns the console's
// sessions (a one-time login URL, an idle timeout), its CSRF tokens and
// security headers, and its server-rendered pages; everything it shows or
// changes goes through the packages that own it (auth.Registry, the FHIR
// pipeline, the audit chain, the export store), and every console request
// is recorded in the audit trail like an API request, naming the operator
// and the console session.
package console
