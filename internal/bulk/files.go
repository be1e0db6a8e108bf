package bulk

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/vhdir/vhdir/internal/fhir"
	"github.com/vhdir/vhdir/internal/jsontree"
	"github.com/vhdir/vhdir/internal/store"
)

// fileWriter turns lines into a job's files: one file per type and kind,
// split at FileSize, stored in chunks of chunkSize. Chunks are stored by a
// second goroutine, so that reading the snapshot and writing the files
// overlap.
type fileWriter struct {
	s          *Service
	ctx        context.Context
	job, owner string

	files []store.ExportFile
	cur   *store.ExportFile // the file being written (nil: none)
	chunk []byte
	nth   int // chunks of cur stored or queued

	queue  chan pendingChunk
	free   chan []byte // chunk buffers stored and free again
	done   chan error
	failed atomic.Pointer[error] // set by the storing goroutine
	err    error
}

type pendingChunk struct {
	f    store.ExportFile
	n    int
	data []byte
}

// start begins a new file for lines of typ in kind (the manifest array);
// it is only created if a line comes.
func (fw *fileWriter) start(typ, kind string) {
	fw.flushFile()
	fw.cur = &store.ExportFile{Job: fw.job, N: -1, Type: typ, Kind: kind}
}

// line appends one NDJSON line to the current file.
func (fw *fileWriter) line(b []byte) error {
	if fw.err != nil {
		return fw.err
	}
	if e := fw.failed.Load(); e != nil {
		fw.err = *e
		return fw.err
	}
	f := fw.cur
	if f.N >= 0 && f.Bytes+int64(len(b))+1 > fw.s.cfg.FileSize && f.Count > 0 {
		typ, kind := f.Type, f.Kind
		fw.start(typ, kind)
		f = fw.cur
	}
	if f.N < 0 {
		f.N = len(fw.files)
		fw.files = append(fw.files, *f)
	}
	fw.chunk = append(fw.chunk, b...)
	fw.chunk = append(fw.chunk, '\n')
	f.Count++
	f.Bytes += int64(len(b)) + 1
	if len(fw.chunk) >= chunkSize {
		fw.send()
	}
	return fw.err
}

// subsetted counts the line just written as one usage restrictions
// removed elements from.
func (fw *fileWriter) subsetted() {
	if fw.cur != nil {
		fw.cur.Subsetted++
	}
}

// send queues the current chunk for storing.
func (fw *fileWriter) send() {
	if len(fw.chunk) == 0 || fw.err != nil {
		return
	}
	if fw.queue == nil {
		fw.queue = make(chan pendingChunk, 2)
		fw.free = make(chan []byte, 3) // the queue's two, and the one being stored
		fw.done = make(chan error, 1)
		go fw.store()
	}
	select {
	case fw.queue <- pendingChunk{f: *fw.cur, n: fw.nth, data: fw.chunk}:
	case err := <-fw.done:
		fw.err = err
		if fw.err == nil {
			fw.err = fmt.Errorf("export file writer stopped")
		}
		return
	}
	fw.nth++
	select {
	case buf := <-fw.free:
		fw.chunk = buf[:0]
	default:
		fw.chunk = make([]byte, 0, chunkSize+64<<10)
	}
}

func (fw *fileWriter) store() {
	for c := range fw.queue {
		if err := fw.s.es.AddExportChunk(fw.ctx, fw.owner, c.f, c.n, c.data); err != nil {
			err = fmt.Errorf("store export file %d: %w", c.f.N, err)
			fw.failed.Store(&err)
			fw.done <- err
			for range fw.queue { // drain so that send never blocks
			}
			return
		}
		select {
		case fw.free <- c.data: // stored: the buffer can take the next chunk
		default:
		}
	}
	fw.done <- nil
}

// flushFile stores the rest of the current file and records its totals.
func (fw *fileWriter) flushFile() {
	if fw.cur == nil {
		return
	}
	if fw.cur.N >= 0 {
		fw.send()
		fw.files[fw.cur.N] = *fw.cur
	}
	fw.cur, fw.nth = nil, 0
}

// notes writes the lenient kick-off's notes as an error file of
// OperationOutcome lines.
func (fw *fileWriter) notes(notes []string) error {
	if len(notes) == 0 {
		return nil
	}
	fw.start("OperationOutcome", "error")
	for _, n := range notes {
		oo := fhir.OutcomeOf(fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported, Diagnostics: n})
		if err := fw.line(jsontree.Marshal(oo)); err != nil {
			return err
		}
	}
	return nil
}

// close stores what is left and waits until every chunk is stored.
func (fw *fileWriter) close() error {
	fw.flushFile()
	if fw.queue == nil {
		return fw.err
	}
	close(fw.queue)
	err := <-fw.done
	fw.queue = nil
	if fw.err == nil {
		fw.err = err
	}
	return fw.err
}

// abandon stops the storing goroutine after a failure.
func (fw *fileWriter) abandon() {
	if fw.queue != nil {
		close(fw.queue)
		<-fw.done
		fw.queue = nil
	}
}
