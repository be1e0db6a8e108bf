package rest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// TestBodyBudget: a body over 1 MiB takes its share of the budget before
// it is read (its Content-Length, or the body limit when it has none) and
// keeps it until released; one that finds no room is refused with errBusy
// once its wait is over (none here), and a body larger than the whole
// budget takes all of it. Smaller bodies never wait.
func TestBodyBudget(t *testing.T) {
	const mib = 1 << 20
	b := newBodyBudget(4*mib, 16*mib)
	b.wait = 0
	request := func(size int64, declared bool) (*http.Request, *budgetedBody) {
		r := httptest.NewRequest(http.MethodPost, "/fhir/Organization", bytes.NewReader(make([]byte, size)))
		if !declared {
			r.ContentLength = -1
		}
		return r, b.admit(r)
	}
	read := func(r *http.Request) error {
		_, err := io.Copy(io.Discard, r.Body)
		return err
	}
	small, smallBody := request(mib/2, true)
	large, largeHold := request(3*mib, true)
	if err := read(large); err != nil || largeHold.held != 3*mib {
		t.Fatalf("a 3 MiB body: %v, holding %d; want 3 MiB held", err, largeHold.held)
	}
	second, secondHold := request(2*mib, true)
	if err := read(second); !errors.Is(err, errBusy) || secondHold.held != 0 {
		t.Errorf("a 2 MiB body beside it: %v, holding %d; want errBusy", err, secondHold.held)
	}
	if err := read(small); err != nil || smallBody.held != 0 {
		t.Errorf("a small body while the budget is full: %v, holding %d; want it read, holding nothing", err, smallBody.held)
	}
	largeHold.release()
	largeHold.release() // once only
	again, againHold := request(2*mib, true)
	if err := read(again); err != nil || againHold.held != 2*mib {
		t.Errorf("a 2 MiB body after the release: %v, holding %d", err, againHold.held)
	}
	againHold.release()

	undeclared, undeclaredHold := request(2*mib, false)
	if err := read(undeclared); err != nil || undeclaredHold.held != 4*mib {
		t.Errorf("a 2 MiB body of no declared length: %v, holding %d; want the whole budget (the body limit, clamped)", err, undeclaredHold.held)
	}
	undeclaredHold.release()
	shortUndeclared, shortHold := request(mib/2, false)
	if err := read(shortUndeclared); err != nil || shortHold.held != 0 {
		t.Errorf("a small body of no declared length: %v, holding %d; want nothing held", err, shortHold.held)
	}

	huge, hugeHold := request(6*mib, true)
	if err := read(huge); err != nil || hugeHold.held != 4*mib {
		t.Errorf("a body larger than the budget: %v, holding %d; want all 4 MiB", err, hugeHold.held)
	}
	hugeHold.release()

	// A request that ends while waiting gets its context's error.
	b.wait = bodyWait
	_, holdAll := request(4*mib, true)
	if err := holdAll.take(4 * mib); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRequest(http.MethodPost, "/fhir/Organization", bytes.NewReader(make([]byte, 2*mib))).WithContext(ctx)
	b.admit(gone)
	if err := read(gone); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiting request that ends: %v; want context.Canceled", err)
	}
	holdAll.release()
}

// TestBusyAnswer: a body the budget refused is a 503 OperationOutcome
// with Retry-After, naming the flag.
func TestBusyAnswer(t *testing.T) {
	resp := errorResponse(context.Background(), slog.New(slog.DiscardHandler), bodyError(errBusy, nil))
	if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("busy answer = %d, Retry-After %q; want 503, 5", resp.Status, resp.Header.Get("Retry-After"))
	}
	if out := jsontree.Marshal(resp.Body); !bytes.Contains(out, []byte("--body-budget")) || !bytes.Contains(out, []byte(`"code":"throttled"`)) {
		t.Errorf("busy answer body = %s; want a throttled issue naming --body-budget", out)
	}
}
