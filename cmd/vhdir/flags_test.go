package main

import (
	"io"
	"testing"
)

// TestEnvTwins: a flag is read from its environment twin unless given,
// and the console's listening flags have twins of their own, so that the
// server's environment does not move the console.
func TestEnvTwins(t *testing.T) {
	t.Setenv("VHDIR_ADDR", "0.0.0.0:8443")
	t.Setenv("VHDIR_DB", "sqlite:/srv/vhdir.db")
	t.Setenv("VHDIR_PLAIN_HTTP", "true")
	for _, tc := range []struct {
		command, flag, env string
		args               []string
		want               string
	}{
		{"serve", "addr", "VHDIR_ADDR", nil, "0.0.0.0:8443"},
		{"console", "addr", "VHDIR_CONSOLE_ADDR", nil, "127.0.0.1:8444"},
		{"console", "plain-http", "VHDIR_CONSOLE_PLAIN_HTTP", nil, "false"},
		{"console", "db", "VHDIR_DB", nil, "sqlite:/srv/vhdir.db"},
		{"console", "db", "VHDIR_DB", []string{"--db", "sqlite:other.db"}, "sqlite:other.db"},
	} {
		t.Run(tc.command+" "+tc.flag, func(t *testing.T) {
			if got := envName(tc.command, tc.flag); got != tc.env {
				t.Errorf("twin of %s --%s = %s; want %s", tc.command, tc.flag, got, tc.env)
			}
			fs := newFlags(tc.command, tc.command, io.Discard)
			def := map[string]string{"serve": "127.0.0.1:8443", "console": "127.0.0.1:8444"}[tc.command]
			fs.String("addr", def, "")
			fs.String("db", defaultDB, "")
			fs.Bool("plain-http", false, "")
			if err := parseFlags(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if got := fs.Lookup(tc.flag).Value.String(); got != tc.want {
				t.Errorf("%s --%s = %q; want %q", tc.command, tc.flag, got, tc.want)
			}
		})
	}
}
