package ig

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFixturesInSync checks the embedded files are exact copies of the
// shared fixtures, and that none is missing or extra.
func TestFixturesInSync(t *testing.T) {
	for _, tt := range []struct {
		dir    string
		shared string
		files  []File
	}{
		{"conformance", "vhdir-conformance", Conformance("")},
		{"examples", "vhdir-examples-json", Examples()},
	} {
		root := filepath.Join("..", "..", "..", "shared", "fixtures", tt.shared)
		want, err := filepath.Glob(filepath.Join(root, "*.json"))
		if err != nil || len(want) == 0 {
			t.Skipf("shared fixtures not found at %s", root)
		}
		if len(want) != len(tt.files) {
			t.Errorf("%s: %d embedded files; %s has %d", tt.dir, len(tt.files), root, len(want))
		}
		for _, f := range tt.files {
			orig, err := os.ReadFile(filepath.Join(root, f.Name))
			if err != nil {
				t.Errorf("%s/%s has no counterpart in %s", tt.dir, f.Name, root)
				continue
			}
			if !bytes.Equal(orig, f.Data) {
				t.Errorf("%s/%s differs from %s; run make ig-sync", tt.dir, f.Name, root)
			}
		}
	}
}

func TestParsed(t *testing.T) {
	sps, err := SearchParameters()
	if err != nil || len(sps) != 144 {
		t.Fatalf("SearchParameters() = %d, %v; want the IG's 144", len(sps), err)
	}
	cs, err := CapabilityStatement()
	if err != nil {
		t.Fatal(err)
	}
	if url, _ := cs.String("url"); url != Canonical+"/CapabilityStatement/vhdir-server" {
		t.Errorf("CapabilityStatement url = %q", url)
	}
	if n := len(Examples()); n != 24 {
		t.Errorf("len(Examples()) = %d; want 24", n)
	}
}
