package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/audit"
)

// verifyState is one run of the chain's verification (audit verify), as
// the pages show it.
type verifyState struct {
	Running bool      `json:"running"`
	Checked int64     `json:"checked"`
	Total   int64     `json:"total"` // the head's position when it began
	Began   time.Time `json:"began"`
	Ended   time.Time `json:"ended,omitzero"`
	Head    string    `json:"head,omitempty"` // SEQ:HASH of the last intact record
	Problem string    `json:"problem,omitempty"`
	BadSeq  int64     `json:"bad_seq,omitempty"`
	BadID   string    `json:"bad_id,omitempty"`
	Err     string    `json:"error,omitempty"`
}

// lastVerification is the running or last verification, nil for none.
func (c *Console) lastVerification() *verifyState {
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	if c.verify == nil {
		return nil
	}
	st := *c.verify
	return &st
}

// verifyLimit bounds one verification's time.
const verifyLimit = 2 * time.Hour

// verifyStart begins a verification of the whole chain, unless one is
// running, optionally against a checkpoint (SEQ:HASH), and sends the
// browser to its page.
func (c *Console) verifyStart(w http.ResponseWriter, r *http.Request) {
	if !c.checkForm(w, r) {
		return
	}
	var expect *audit.Checkpoint
	if s := strings.TrimSpace(r.PostForm.Get("expect")); s != "" {
		cp, err := audit.ParseCheckpoint(s)
		if err != nil {
			c.fail(w, r, badRequest("%v", err))
			return
		}
		expect = &cp
	}
	head, err := c.cfg.Store.AuditHead(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.verifyMu.Lock()
	if c.verify == nil || !c.verify.Running {
		v := &verifyState{Running: true, Total: head.Seq, Began: c.cfg.Clock.Now()}
		c.verify = v
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), verifyLimit)
		go func() {
			defer cancel()
			c.runVerification(ctx, v, expect)
		}()
	}
	c.verifyMu.Unlock()
	http.Redirect(w, r, "/audit/verify", http.StatusSeeOther)
}

// runVerification walks the chain, noting its progress in st.
func (c *Console) runVerification(ctx context.Context, st *verifyState, expect *audit.Checkpoint) {
	rep, err := audit.VerifyAgainst(ctx, c.cfg.Store, expect, func(checked int64) {
		c.verifyMu.Lock()
		st.Checked = checked
		c.verifyMu.Unlock()
	})
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	st.Running, st.Ended = false, c.cfg.Clock.Now()
	switch {
	case err != nil:
		st.Err = err.Error()
		c.log.ErrorContext(ctx, "console: audit verification failed", "err", err)
	case rep.Problem != nil:
		st.Checked, st.Problem, st.BadSeq, st.BadID = rep.Records, rep.Problem.Error(), rep.Problem.Seq, rep.Problem.ID
	default:
		st.Checked = rep.Records
		if rep.Records > 0 {
			st.Head = itoa64(rep.Records) + ":" + rep.Head
		}
	}
}

// verifyPage shows the running or last verification, with the form that
// starts one.
func (c *Console) verifyPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "verify.html", "Verify the audit chain", c.lastVerification())
}

// verifyStatus is the progress as JSON, for the page's script.
func (c *Console) verifyStatus(w http.ResponseWriter, r *http.Request) {
	st := c.lastVerification()
	if st == nil {
		st = &verifyState{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}
