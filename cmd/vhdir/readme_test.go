package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	line int    // where it starts
	mark string // the readme-test marker before it: "run", "skip (…)" or ""
	body []string
}

var readmeMark = regexp.MustCompile(`^<!-- readme-test: (run|skip \(.+\)) -->$`)

// readmeBlocks returns the README's shell blocks with their markers.
func readmeBlocks(readme string) []readmeBlock {
	lines := strings.Split(readme, "\n")
	var out []readmeBlock
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		b := readmeBlock{line: i + 1}
		if i > 0 {
			if m := readmeMark.FindStringSubmatch(lines[i-1]); m != nil {
				b.mark = m[1]
			}
		}
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			b.body = append(b.body, lines[i])
		}
		out = append(out, b)
	}
	return out
}

// readmeExpect is a command's promise: `cmd  # => TEXT` prints TEXT.
var readmeExpect = regexp.MustCompile(`^(.*\S)\s+# => (.+)$`)

// readmeScript turns the blocks to run into one bash script: each command
// with a promise runs in $( ) and its output must contain the text.
func readmeScript(blocks []readmeBlock) string {
	var sb strings.Builder
	sb.WriteString(`set -e
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
expect() { grep -qF -- "$2" <<<"$1" || { printf 'README line %s: the output lacks %s\n' "$3" "$2" >&2; exit 1; }; }
`)
	for _, b := range blocks {
		if b.mark != "run" {
			continue
		}
		var cmd []string // the lines of the command so far (continued with \ or |)
		for i, l := range b.body {
			cmd = append(cmd, l)
			if strings.HasSuffix(l, `\`) || strings.HasSuffix(strings.TrimSpace(l), "|") {
				continue
			}
			if m := readmeExpect.FindStringSubmatch(l); m != nil {
				cmd[len(cmd)-1] = m[1]
				fmt.Fprintf(&sb, "__out=$(%s)\nprintf '%%s\\n' \"$__out\"\nexpect \"$__out\" %s %d\n",
					strings.Join(cmd, "\n"), shellQuote(m[2]), b.line+1+i)
			} else {
				sb.WriteString(strings.Join(cmd, "\n") + "\n")
			}
			cmd = nil
		}
		sb.WriteString(strings.Join(cmd, "\n") + "\n")
	}
	return sb.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestREADME runs the README's recipes as a reader would: every ```sh
// block marked <!-- readme-test: run -->, in order, in one bash session,
// from a fresh folder holding the source, against the server the walk
// through starts there. A command whose line ends in `# => TEXT` must
// print TEXT. Every other shell block must say why it is not run
// (<!-- readme-test: skip (…) -->), so that no recipe goes untested by
// oversight.
func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the README's recipes need %s: %v", tool, err)
			}
			t.Skipf("the README's recipes need %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(string(readme))
	run := 0
	for _, b := range blocks {
		switch {
		case b.mark == "run":
			run++
		case b.mark == "":
			t.Errorf("README line %d: a shell block without <!-- readme-test: run --> or <!-- readme-test: skip (why) --> before it", b.line)
		}
	}
	if run == 0 {
		t.Fatal("the README has no block to run")
	}
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "cmd", "internal"} {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	script := strings.ReplaceAll(readmeScript(blocks), "127.0.0.1:8443", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-s")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	// The README uses the default address; the test serves on a free one.
	cmd.Env = append(readmeEnv(), "VHDIR_ADDR="+addr, "VHDIR_SERVER=https://"+addr)
	// The server runs in the background: on a timeout, end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's recipes failed: %v\n%s\n--- the script ---\n%s", err, out.String(), script)
	}
}

// readmeEnv is the test's environment without settings of vhdir's own (a
// reader's shell has none).
func readmeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VHDIR_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestREADMEScript checks the recipe runner on a made-up README.
func TestREADMEScript(t *testing.T) {
	readme := "text\n<!-- readme-test: run -->\n```sh\necho a \\\n  b   # => a b\nX=1\n```\n<!-- readme-test: skip (not here) -->\n```sh\nrm -rf /\n```\n```sh\nnone\n```\n"
	blocks := readmeBlocks(readme)
	if len(blocks) != 3 || blocks[0].mark != "run" || blocks[1].mark != "skip (not here)" || blocks[2].mark != "" {
		t.Fatalf("blocks = %+v", blocks)
	}
	script := readmeScript(blocks)
	for _, want := range []string{"__out=$(echo a \\\n  b)", "expect \"$__out\" 'a b' 5", "X=1"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "rm -rf") || strings.Contains(script, "none") {
		t.Errorf("script runs a block not marked run:\n%s", script)
	}
}
