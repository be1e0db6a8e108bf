package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"strings"

	"github.com/vhdir/vhdir/internal/store"
	"github.com/vhdir/vhdir/internal/store/postgres"
	"github.com/vhdir/vhdir/internal/store/sqlite"
)

// defaultDB is the embedded database used when --db is not given.
const defaultDB = "sqlite:vhdir-data/vhdir.db"

// openStore opens the database named by a --db URL: sqlite:PATH or
// postgres://… (postgresql:// too), for a command: what takes long when
// it opens (an older database's audit records filled, once) is said on
// standard error.
func openStore(ctx context.Context, dbURL string) (store.Store, error) {
	return openStoreWith(ctx, dbURL, "", slog.New(slog.NewTextHandler(os.Stderr, nil)))
}

// openStoreWith is openStore keeping export files in exportDir ("": the
// backend's default: beside an SQLite file, in a PostgreSQL database),
// telling log of long work when it opens.
func openStoreWith(ctx context.Context, dbURL, exportDir string, log *slog.Logger) (store.Store, error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		return sqlite.OpenWith(ctx, path, sqlite.Options{ExportDir: exportDir, Logger: log})
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.OpenWith(ctx, dbURL, postgres.Options{ExportDir: exportDir, Logger: log})
	}
	return nil, fmt.Errorf("--db %q: use sqlite:PATH or postgres://user@host/db", redactDB(dbURL))
}

// redactDB hides a password in a database URL for logs.
func redactDB(dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dbURL
}

// operatorName is the operating-system user running a command: the
// operator its audit records and Provenance name.
func operatorName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// newLogger logs to w: JSON when it is not a terminal, text when it is.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use auto, json or text", format)
}
