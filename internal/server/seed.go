package server

import (
	"context"
	"errors"

	"github.com/vhdir/vhdir/internal/ig"
	"github.com/vhdir/vhdir/internal/interaction"
	"github.com/vhdir/vhdir/internal/load"
	"github.com/vhdir/vhdir/internal/store"
)

// SeedExamples loads the VhDir IG's examples into a directory that holds
// no directory data yet (audit records of client registrations don't
// count), as the caller of ctx (an operator, AsOperator). It reports
// whether it loaded them, and the load's summary.
func (s *Server) SeedExamples(ctx context.Context) (bool, *load.Summary, error) {
	if interaction.CallerFrom(ctx) == nil {
		return false, nil, errors.New("seeding the examples names no one who did it")
	}
	for _, typ := range []string{"Organization", "Practitioner", "Location", "Endpoint"} {
		page, err := s.cfg.Store.History(ctx, store.HistoryQuery{Type: typ, Count: 1})
		if err != nil {
			return false, nil, err
		}
		if len(page.Versions) > 0 {
			return false, nil, nil
		}
	}
	var files []load.File
	for _, f := range ig.Examples() {
		files = append(files, load.File{Name: "ig:" + f.Name, Data: f.Data})
	}
	sum, err := load.RunFiles(ctx, s.LoadConfig(), files)
	if err != nil {
		return false, sum, err
	}
	if err := s.RecordLoad(ctx, "the VhDir IG examples (--seed-examples)", sum); err != nil {
		return false, sum, err
	}
	return true, sum, nil
}
