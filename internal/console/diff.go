package console

import "strings"

// diffOp is what a line of a diff does.
type diffOp int8

const (
	opSame diffOp = iota
	opDel
	opIns
	opSkip // unchanged lines left out between hunks
)

// diffLine is one line of a diff; Skipped counts the lines an opSkip
// stands for.
type diffLine struct {
	Op      diffOp
	Text    string
	Skipped int
}

// The template's tests of a line.
func (l diffLine) Ins() bool  { return l.Op == opIns }
func (l diffLine) Del() bool  { return l.Op == opDel }
func (l diffLine) Skip() bool { return l.Op == opSkip }

// maxEdits bounds the search for a shortest diff: two texts further apart
// than this are shown as all of one replaced by all of the other, so that
// a page of versions costs no more than a few million steps.
const maxEdits = 1000

// diffContext is how many unchanged lines a hunk shows around a change.
const diffContext = 3

// lineDiff is a line diff of a and b, unchanged runs longer than
// twice diffContext cut down to diffContext lines each side and a skip.
func lineDiff(a, b string) []diffLine {
	return withContext(diffLines(splitLines(a), splitLines(b)), diffContext)
}

// splitLines splits text into lines, a final newline ending the last line
// rather than starting an empty one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diffLines is a shortest edit script from a to b, every line of both in
// order: the common prefix and suffix taken off, the middle by Myers'
// O(ND) algorithm. In each run of changes, deletions come first.
func diffLines(a, b []string) []diffLine {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]diffLine, 0, len(a)+len(b)-pre-suf)
	for _, s := range a[:pre] {
		out = append(out, diffLine{Op: opSame, Text: s})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, s := range a[len(a)-suf:] {
		out = append(out, diffLine{Op: opSame, Text: s})
	}
	return delsFirst(out)
}

// myers finds a shortest edit script (Myers 1986). trace keeps, per edit
// count d, the furthest x reached on each diagonal k in [-d, d] (index
// (k+d)/2): O(D²) memory, walked back from the end to recover the path.
func myers(a, b []string) []diffLine {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaced(a, b)
	}
	limit := min(n+m, maxEdits)
	off := n + m + 1
	v := make([]int, 2*(n+m)+3)
	var trace [][]int
	for d := 0; d <= limit; d++ {
		row := make([]int, d+1)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1] // down from diagonal k+1: an insertion
			} else {
				x = v[off+k-1] + 1 // right from diagonal k-1: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
			row[(k+d)/2] = x
			if x >= n && y >= m {
				return walkBack(a, b, append(trace, row))
			}
		}
		trace = append(trace, row)
	}
	return replaced(a, b)
}

// walkBack recovers the edit script from myers' trace, from the end.
func walkBack(a, b []string, trace [][]int) []diffLine {
	x, y := len(a), len(b)
	var rev []diffLine
	for d := len(trace) - 1; d > 0; d-- {
		prev := trace[d-1]
		at := func(k int) int { return prev[(k+d-1)/2] }
		k := x - y
		down := k == -d || k != d && at(k-1) < at(k+1)
		pk := k - 1
		if down {
			pk = k + 1
		}
		px := at(pk)
		py := px - pk
		sx, sy := px+1, py // where the snake began after the edit
		if down {
			sx, sy = px, py+1
		}
		for x > sx && y > sy {
			x, y = x-1, y-1
			rev = append(rev, diffLine{Op: opSame, Text: a[x]})
		}
		if down {
			rev = append(rev, diffLine{Op: opIns, Text: b[py]})
		} else {
			rev = append(rev, diffLine{Op: opDel, Text: a[px]})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, diffLine{Op: opSame, Text: a[x]})
	}
	out := make([]diffLine, len(rev))
	for i, l := range rev {
		out[len(rev)-1-i] = l
	}
	return out
}

// replaced is the script that deletes all of a and inserts all of b.
func replaced(a, b []string) []diffLine {
	out := make([]diffLine, 0, len(a)+len(b))
	for _, s := range a {
		out = append(out, diffLine{Op: opDel, Text: s})
	}
	for _, s := range b {
		out = append(out, diffLine{Op: opIns, Text: s})
	}
	return out
}

// delsFirst orders each run of changes deletions first, as diffs are
// read: the order within a run does not change what it says.
func delsFirst(lines []diffLine) []diffLine {
	for i := 0; i < len(lines); {
		if lines[i].Op == opSame {
			i++
			continue
		}
		j := i
		for j < len(lines) && lines[j].Op != opSame {
			j++
		}
		run := make([]diffLine, 0, j-i)
		for _, op := range []diffOp{opDel, opIns} {
			for _, l := range lines[i:j] {
				if l.Op == op {
					run = append(run, l)
				}
			}
		}
		copy(lines[i:j], run)
		i = j
	}
	return lines
}

// withContext keeps the changes and up to n unchanged lines around each;
// each longer unchanged run becomes one opSkip line, but for a single
// line, which takes no more room than its skip.
func withContext(lines []diffLine, n int) []diffLine {
	keep := make([]bool, len(lines))
	for i, l := range lines {
		if l.Op == opSame {
			continue
		}
		for j := max(0, i-n); j <= min(len(lines)-1, i+n); j++ {
			keep[j] = true
		}
	}
	var out []diffLine
	for i := 0; i < len(lines); {
		if keep[i] {
			out = append(out, lines[i])
			i++
			continue
		}
		j := i
		for j < len(lines) && !keep[j] {
			j++
		}
		if j-i == 1 {
			out = append(out, lines[i])
		} else {
			out = append(out, diffLine{Op: opSkip, Skipped: j - i})
		}
		i = j
	}
	return out
}

// changed reports whether a diff holds any change.
func changed(lines []diffLine) bool {
	for _, l := range lines {
		if l.Op == opIns || l.Op == opDel {
			return true
		}
	}
	return false
}
