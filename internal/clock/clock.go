// Package clock is the server's single time source. Everything that stamps a
// time (meta.lastUpdated, history, AuditEvent.recorded, token lifetimes)
// asks a Clock, never time.Now, so that one source can be checked against
// NTP and replaced in tests.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	// Now returns the current time in UTC.
	Now() time.Time
	// Source names the time source, for the records it stamps.
	Source() string
}

// System is the operating system's clock.
type System struct{}

// Now returns the system time in UTC.
func (System) Now() time.Time { return time.Now().UTC() }

// Source names the system clock.
func (System) Source() string { return "system" }

// Fake is a settable clock for tests. The zero value starts at the Unix epoch.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Source names the fake clock.
func (f *Fake) Source() string { return "fake" }

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// Set sets the fake time.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t.UTC()
}
