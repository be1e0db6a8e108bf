package interaction

import "strings"

// Perm is a set of SMART v2 permission letters.
type Perm uint8

// The SMART v2 permission letters, in their "cruds" order.
const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch
)

// PermAll is every letter; bits above it are never granted.
const PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch

const permLetters = "cruds"

// String lists the letters of p in "cruds" order, e.g. "rs".
func (p Perm) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}
