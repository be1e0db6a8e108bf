package fhir

import (
	"strconv"
	"time"

	"github.com/vhdir/vhdir/internal/jsontree"
)

// InstantLayout writes FHIR instants in UTC with millisecond precision,
// which every client's date parser reads.
const InstantLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatInstant formats t as a FHIR instant in UTC.
func FormatInstant(t time.Time) string { return t.UTC().Format(InstantLayout) }

// Truncate drops what a stored instant cannot show, so that the time kept
// in the database equals the one written in meta.lastUpdated.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// SetMeta stamps a resource with its server-assigned id, meta.versionId and
// meta.lastUpdated. Other meta members (profile, tag, security, source)
// are kept. id follows resourceType and meta follows id, as FHIR writes them.
func SetMeta(obj *jsontree.Object, id string, version int64, lastUpdated time.Time) {
	obj.Delete("id")
	obj.Insert(1, "id", id)
	meta, ok := obj.Object("meta")
	if !ok {
		meta = &jsontree.Object{}
	}
	meta.Delete("versionId")
	meta.Delete("lastUpdated")
	meta.Insert(0, "versionId", strconv.FormatInt(version, 10))
	meta.Insert(1, "lastUpdated", FormatInstant(lastUpdated))
	obj.Delete("meta")
	obj.Insert(2, "meta", meta)
}
