// Package bulk serves FHIR Bulk Data Access 2.0 system-level export
// ($export) for local directories that keep their own copy: the kick-off,
// the status endpoint with its manifest, the NDJSON file downloads, and the
// background jobs that write those files.
//
// Jobs and their files live in the database (store.ExportStore), so any
// node sharing it can answer a status request or serve a file, and a job
// whose node stops is taken over by another (or by the same node when it
// comes back) once its lease runs out. Each job reads one consistent
// snapshot of the store, whose time is the manifest's transactionTime; a
// later export with _since set to that time finds every change made after
// the snapshot, however the writes and the nodes' clocks interleave (see
// store.ExportStore).
package bulk
