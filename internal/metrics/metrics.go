package metrics

import (
	"math"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/fhir"
)

// Config is what New needs.
type Config struct {
	// Clock is the NTP monitor whose measurements are exported; nil when
	// the clock is unchecked, and then the vhdir_clock_* metrics are absent.
	Clock *clock.NTPMonitor
}

// Metrics is a registry with the server's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	profiles *prometheus.CounterVec
}

// New returns the server's metrics in a fresh registry.
func New(cfg Config) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vhdir_http_requests_total",
			Help: "HTTP requests answered, by method and status code.",
		}, []string{"code", "method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vhdir_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code", "method"}),
		profiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vhdir_profile_issues_total",
			Help: "Issues profile validation found in resources written (refused or stored), by severity and issue type.",
		}, []string{"severity", "code"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.profiles,
	)
	if cfg.Clock != nil {
		reg.MustRegister(clockCollectors(cfg.Clock)...)
	}
	return m
}

// clockCollectors reads the NTP monitor at each scrape. The offset is NaN
// and the last sync time 0 until a valid answer arrives.
func clockCollectors(mon *clock.NTPMonitor) []prometheus.Collector {
	labels := prometheus.Labels{"server": mon.Server()}
	gauge := func(name, help string, value func(clock.NTPStatus) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return value(mon.Status()) })
	}
	return []prometheus.Collector{
		gauge("vhdir_clock_offset_seconds",
			"NTP server time minus host clock at the last valid answer (positive: the host clock is behind); NaN before the first.",
			func(s clock.NTPStatus) float64 {
				if s.LastSync.IsZero() {
					return math.NaN()
				}
				return s.Offset.Seconds()
			}),
		gauge("vhdir_clock_rtt_seconds", "Round trip of the last valid NTP answer.",
			func(s clock.NTPStatus) float64 { return s.RTT.Seconds() }),
		gauge("vhdir_clock_stratum", "Stratum of the NTP server in its last valid answer (0 before the first).",
			func(s clock.NTPStatus) float64 { return float64(s.Stratum) }),
		gauge("vhdir_clock_last_sync_timestamp_seconds", "Unix time of the last valid NTP answer (0 before the first).",
			func(s clock.NTPStatus) float64 {
				if s.LastSync.IsZero() {
					return 0
				}
				return float64(s.LastSync.UnixNano()) / 1e9
			}),
		gauge("vhdir_clock_max_offset_seconds", "Largest accepted |offset| (the --max-clock-offset policy); beyond it /readyz fails.",
			func(clock.NTPStatus) float64 { return mon.MaxOffset().Seconds() }),
	}
}

// Instrument counts h's requests and times them, by method and status
// code (promhttp bounds both label sets: odd methods count as "unknown").
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.requests, promhttp.InstrumentHandlerDuration(m.duration, h))
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ProfileIssues counts the issues profile validation found in one
// resource.
func (m *Metrics) ProfileIssues(issues []fhir.Issue) {
	for _, is := range issues {
		m.profiles.WithLabelValues(is.Severity, is.Code).Inc()
	}
}
