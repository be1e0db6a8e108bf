// Package metrics holds the Prometheus metrics of the server: Go runtime
// and process metrics, HTTP requests by method and status code, and the
// host clock's offset from the NTP time source (vhdir_clock_*).
//
// It keeps its own registry, never the global default, so two servers in
// one process (as in tests) don't collide. New builds the registry,
// Instrument wraps the HTTP handler, and Handler serves the registry; who
// may read /metrics is decided by cmd/vhdir (--metrics).
package metrics
