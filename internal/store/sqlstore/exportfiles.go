package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vhdir/vhdir/internal/store"
)

// Export files in a folder. With Config.ExportDir set (SQLite: one node
// owns the database), the bytes of export files are appended to plain
// files, <dir>/<job>/<attempt>/<n>.ndjson, instead of export_chunks rows:
// writing them into the database would write every byte twice (WAL, then
// the checkpoint) and leave the database file larger by the export's size
// for good (SQLite does not give freed pages back). The tables stay the
// record: export_chunks rows (without data) number the chunks and
// export_files the totals, so the store behaves the same either way.
// The attempt in the path keeps a worker that lost its job (its lease ran
// out and another attempt began) from writing into the new attempt's
// files.

// exportAttempt returns the attempt number of job id when held by owner
// ("" for any owner), or ErrNotFound.
func (db *DB) exportAttempt(ctx context.Context, id, owner string) (int, error) {
	q := "SELECT attempts, owner FROM export_jobs WHERE id = " + db.d.Placeholder(1)
	var attempts int
	var holder string
	if err := db.read.QueryRowContext(ctx, q, id).Scan(&attempts, &holder); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, store.ErrNotFound
		}
		return 0, err
	}
	if owner != "" && holder != owner {
		return 0, store.ErrNotFound
	}
	return attempts, nil
}

func (db *DB) exportPath(id string, attempt, n int) string {
	return filepath.Join(db.exportDir, id, strconv.Itoa(attempt), strconv.Itoa(n)+".ndjson")
}

// appendExportFile appends a chunk to file f.N of the owner's attempt.
func (db *DB) appendExportFile(ctx context.Context, f store.ExportFile, owner string, data []byte) error {
	attempt, err := db.exportAttempt(ctx, f.Job, owner)
	if err != nil {
		return err
	}
	path := db.exportPath(f.Job, attempt, f.N)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	_, werr := file.Write(data)
	return errors.Join(werr, file.Close())
}

// syncExportFiles flushes the owner's files (and their folder) to disk.
func (db *DB) syncExportFiles(ctx context.Context, id, owner string) error {
	attempt, err := db.exportAttempt(ctx, id, owner)
	if err != nil {
		return err
	}
	dir := filepath.Dir(db.exportPath(id, attempt, 0))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no file written
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := syncPath(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return syncPath(dir)
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// readExportFile calls fn with a file's bytes, in chunks of about 1 MiB.
func (db *DB) readExportFile(ctx context.Context, id string, n int, fn func([]byte) error) error {
	attempt, err := db.exportAttempt(ctx, id, "")
	if err != nil {
		return fmt.Errorf("export job %s file %d: %w", id, n, err)
	}
	f, err := os.Open(db.exportPath(id, attempt, n))
	if errors.Is(err, fs.ErrNotExist) {
		// The file's row exists (the caller checked): a file no chunk was
		// written to is empty. One whose bytes are gone reads short, which
		// the reader sees against the row's byte count.
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		k, err := io.ReadFull(f, buf)
		if k > 0 {
			if err := fn(buf[:k]); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export job %s file %d: %w", id, n, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// removeExportFiles deletes a job's folder (all attempts).
func (db *DB) removeExportFiles(id string) error {
	if db.exportDir == "" || id == "" || filepath.Base(id) != id {
		return nil
	}
	return os.RemoveAll(filepath.Join(db.exportDir, id))
}
