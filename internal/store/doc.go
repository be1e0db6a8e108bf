// Package store defines how vhdir keeps resources: the Store interface every
// backend implements, the values that cross it (resource versions, history
// pages, search-index rows and compiled search queries) and its sentinel
// errors. It holds no SQL; backends live in store/sqlite and store/postgres
// (sharing store/sqlstore), and store/storetest is the conformance suite
// every backend must pass.
//
// Contract, for every backend:
//   - Every version of every resource is kept; a delete is a version too.
//   - Writes happen only inside Store.Update, whose function runs in one
//     database transaction: all of its writes commit together or none do.
//   - Times are UTC; the caller supplies them (one clock for the server), the
//     store never reads the wall clock.
//   - Index rows describe the current version only and are replaced with it.
package store
