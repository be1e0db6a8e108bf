package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Check is one readiness check; nil error means ready.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// HealthRoutes registers /healthz (the process answers) and /readyz (every
// check passes: the server's are the database reachable, the audit chain
// writable, and the clock within its offset).
func HealthRoutes(mux *http.ServeMux, checks []Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeHealth(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		status := http.StatusOK
		results := map[string]string{}
		for _, c := range checks {
			if err := c.Run(ctx); err != nil {
				status = http.StatusServiceUnavailable
				results[c.Name] = err.Error()
			} else {
				results[c.Name] = "ok"
			}
		}
		body := map[string]any{"status": "ready", "checks": results}
		if status != http.StatusOK {
			body["status"] = "not ready"
		}
		writeHealth(w, status, body)
	})
}

func writeHealth(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
