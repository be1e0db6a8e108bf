package console

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// script writes a diff as "+x", "-x", " x" and "…n" lines, for comparing.
func script(lines []diffLine) string {
	var b strings.Builder
	for _, l := range lines {
		switch l.Op {
		case opIns:
			b.WriteString("+" + l.Text)
		case opDel:
			b.WriteString("-" + l.Text)
		case opSkip:
			b.WriteString("…" + itoa(l.Skipped))
		default:
			b.WriteString(" " + l.Text)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestDiffLines(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"equal", "a\nb\n", "a\nb\n", " a\n b\n"},
		{"both empty", "", "", ""},
		{"from nothing", "", "a\nb", "+a\n+b\n"},
		{"to nothing", "a\nb", "", "-a\n-b\n"},
		{"one changed in the middle", "a\nb\nc", "a\nx\nc", " a\n-b\n+x\n c\n"},
		{"inserted", "a\nc", "a\nb\nc", " a\n+b\n c\n"},
		{"deleted", "a\nb\nc", "a\nc", " a\n-b\n c\n"},
		{"deletions before insertions", "x\ny", "p\nq", "-x\n-y\n+p\n+q\n"},
		{"moved line", "a\nb\nc\nd", "b\nc\na\nd", "-a\n b\n c\n+a\n d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffLines(splitLines(tt.a), splitLines(tt.b))
			checkScript(t, splitLines(tt.a), splitLines(tt.b), got)
			if s := script(got); s != tt.want {
				t.Errorf("diff =\n%s\nwant\n%s", s, tt.want)
			}
		})
	}
	// Myers' own example: 5 edits is the shortest.
	got := diffLines(splitLines("a\nb\nc\na\nb\nb\na"), splitLines("c\nb\na\nb\na\nc"))
	if n := edits(got); n != 5 {
		t.Errorf("abcabba → cbabac: %d edits; want 5\n%s", n, script(got))
	}
}

// checkScript checks that a diff keeps a's lines in order (same and
// deleted) and b's (same and inserted).
func checkScript(t *testing.T, a, b []string, d []diffLine) {
	t.Helper()
	var ga, gb []string
	for _, l := range d {
		switch l.Op {
		case opSame:
			ga, gb = append(ga, l.Text), append(gb, l.Text)
		case opDel:
			ga = append(ga, l.Text)
		case opIns:
			gb = append(gb, l.Text)
		default:
			t.Fatalf("a full diff holds a skip: %+v", l)
		}
	}
	if !slices.Equal(ga, a) || !slices.Equal(gb, b) {
		t.Errorf("diff does not rebuild its texts:\n%s\nold %q → %q\nnew %q → %q", script(d), a, ga, b, gb)
	}
}

func edits(d []diffLine) int {
	n := 0
	for _, l := range d {
		if l.Op == opIns || l.Op == opDel {
			n++
		}
	}
	return n
}

// lcs is the length of a longest common subsequence, the slow way.
func lcs(a, b []string) int {
	prev := make([]int, len(b)+1)
	for i := range a {
		cur := make([]int, len(b)+1)
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev = cur
	}
	return prev[len(b)]
}

// TestDiffShortest compares random diffs with the longest common
// subsequence: the diff is right and no longer than it must be.
func TestDiffShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func() []string {
		out := make([]string, r.IntN(12))
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	for range 2000 {
		a, b := text(), text()
		d := diffLines(a, b)
		checkScript(t, a, b, d)
		if want := len(a) + len(b) - 2*lcs(a, b); edits(d) != want {
			t.Fatalf("%q → %q: %d edits; want %d\n%s", a, b, edits(d), want, script(d))
		}
	}
}

// TestDiffTooFar: texts further apart than maxEdits are shown replaced
// whole, still a correct diff.
func TestDiffTooFar(t *testing.T) {
	var a, b []string
	for i := range maxEdits {
		a = append(a, "a"+itoa(i))
		b = append(b, "b"+itoa(i))
	}
	d := diffLines(a, b)
	checkScript(t, a, b, d)
	if edits(d) != 2*maxEdits {
		t.Errorf("%d edits; want %d", edits(d), 2*maxEdits)
	}
}

func TestDiffContext(t *testing.T) {
	var a []string
	for i := range 20 {
		a = append(a, "l"+itoa(i))
	}
	b := slices.Clone(a)
	b[2] = "changed"
	b[15] = "also"
	got := script(withContext(diffLines(a, b), 3))
	want := " l0\n l1\n-l2\n+changed\n l3\n l4\n l5\n…6\n l12\n l13\n l14\n-l15\n+also\n l16\n l17\n l18\n l19\n"
	if got != want {
		t.Errorf("with context =\n%s\nwant\n%s", got, want)
	}
	if changed(withContext(diffLines(a, a), 3)) {
		t.Errorf("a text diffed with itself has changes")
	}
	if got := script(withContext(diffLines(a, a), 3)); got != "…20\n" {
		t.Errorf("no change = %q; want one skip of every line", got)
	}
}
