package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aliases is a valid Organization of n one-letter aliases: n+8 JSON values.
func aliases(n int) string {
	return `{"resourceType":"Organization","active":true,"type":[{"text":"Clinic"}],"name":"Aliased","alias":[` + strings.TrimSuffix(strings.Repeat(`"a",`, n), ",") + `]}`
}

// TestServeMaxResourceNodes: --max-resource-nodes, or its env twin, sets
// the bound on one resource's JSON values that serve enforces.
func TestServeMaxResourceNodes(t *testing.T) {
	for _, tt := range []struct{ name, flag, env string }{
		{"flag", "50", ""},
		{"env twin", "", "50"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			t.Setenv("VHDIR_DB", "sqlite:"+filepath.Join(dir, "vhdir.db"))
			args := []string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json"}
			if tt.flag != "" {
				args = append(args, "--max-resource-nodes", tt.flag)
			}
			if tt.env != "" {
				t.Setenv("VHDIR_MAX_RESOURCE_NODES", tt.env)
			}
			ctx, stop := context.WithCancel(context.Background())
			logs := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, io.Discard, logs) }()
			defer func() {
				stop()
				<-done
			}()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the development certificate
			base := "https://" + addr
			waitReady(t, client, base, done, logs)
			token := clientToken(t, dir, base, "system/Organization.c")
			for _, c := range []struct {
				aliases, status int
			}{{42, http.StatusCreated}, {43, http.StatusRequestEntityTooLarge}} {
				req, _ := http.NewRequest(http.MethodPost, base+"/fhir/Organization", strings.NewReader(aliases(c.aliases)))
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("an Organization of %d values = %d; want %d: %s", c.aliases+3, resp.StatusCode, c.status, body)
				}
				if c.status == http.StatusRequestEntityTooLarge && !bytes.Contains(body, []byte("more than 50 JSON values")) {
					t.Errorf("413 body %s; want it to name the limit of 50", body)
				}
			}
		})
	}
}

// TestLoadMaxResourceNodes: vhdir load holds each resource to
// --max-resource-nodes (or its env twin), NDJSON lines and resources of
// a Bundle alike, and says which limit refused it.
func TestLoadMaxResourceNodes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(file, []byte(aliases(2)+"\n"+aliases(10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "collection.json")
	if err := os.WriteFile(bundle, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":`+aliases(2)+`},{"resource":`+aliases(10)+`}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--max-resource-nodes", "12"}, ""},
		{"env twin", nil, "12"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("VHDIR_MAX_RESOURCE_NODES", tt.env)
			}
			args := append(append([]string{"load", "--db", fmt.Sprintf("sqlite:%s/db%d", dir, i)}, tt.args...), file, bundle)
			var out bytes.Buffer
			if code := run(context.Background(), args, &out, io.Discard); code != 1 {
				t.Errorf("vhdir %v exit = %d; want 1", args, code)
			}
			for _, want := range []string{"2 resources written", "2 failed",
				"in.ndjson:2: the resource holds more than 12 JSON values",
				"collection.json entry 1: the resource holds more than 12 JSON values", "--max-resource-nodes"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("vhdir %v printed\n%s\nwant it to contain %q", args, out.String(), want)
				}
			}
		})
	}
	for _, args := range [][]string{
		{"serve", "--max-resource-nodes", "0"},
		{"serve", "--body-budget", "-1"},
		{"load", "--max-resource-nodes", "0", file},
	} {
		var errs bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &errs); code != 1 || !strings.Contains(errs.String(), args[1]) {
			t.Errorf("vhdir %v = %d, %q; want 1 naming %s", args, code, errs.String(), args[1])
		}
	}
}
