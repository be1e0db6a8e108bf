// Package gen generates a realistic synthetic Validated Healthcare
// Directory (HL7 VhDir STU1, FHIR R4) as NDJSON, one stream per resource
// type, for load tests, demos and benchmarks (`vhdir gen`).
//
// It owns the shape of the data: who exists (payers with networks and
// insurance plans, health systems with hospitals, departments and clinics,
// independent practices, state licensing boards and HIEs), how they relate,
// and how each resource is written. It does not load, validate or store
// anything; `vhdir load` reads its files.
//
// # Flow
//
// [Generate] writes the shared organizations (CMS, USPS, the directory's
// validator) and the payers, then one market after another until the
// requested number of practitioners is written. A market is a health
// system and the independent practices around it in one state: it is
// planned (sizes drawn within the practitioners still to write), written
// (organizations, locations, endpoints and services; practitioners with
// 1.5 roles on average and verification results; care teams;
// affiliations), then forgotten. State boards and HIEs are written the
// first time a market is placed in their state. Payer p's networks and
// plans have ids computed from p, and its name and city are hashed from
// (seed, p), so markets refer to payers without a list of them.
//
// # Contracts
//
//   - Deterministic: the output depends only on Config.Seed and
//     Config.Practitioners (math/rand/v2 PCG; dates are relative to a fixed
//     day, 2025-06-30, never the clock).
//   - Streaming: each resource is appended as JSON, with strconv-style
//     appends and no reflection, straight into its type's 256 KB buffer,
//     which is written out when full. Live memory is those buffers and one
//     market, whatever the size.
//   - Valid: every resource passes fhir.ParseResource, carries its VhDir
//     profile in meta.profile and the profile's mandatory elements
//     (identifier-status on every identifier, Practitioner.active and name,
//     PractitionerRole.code, Organization.type, Location.status, the many
//     mandatory VerificationResult elements, InsurancePlan.ownedBy and
//     administeredBy, ...).
//   - Closed: every literal reference resolves to a generated resource
//     (they may point forward: load stores references without checking
//     their targets), every "#restrict" to the contained Consent.
//   - About 1 % of directory resources carry a usage restriction (a
//     contained vhdir-restriction Consent permitting one Organization),
//     half on the resource root, half on an address or telecom, as the
//     IG's women's-shelter examples do.
//
// Names, addresses, telephone numbers and identifiers look real but are
// made up: cities, states, ZIP and area codes are real combinations, web
// and mail domains end in the reserved .example, NPIs pass the NPI check
// digit, DEA numbers theirs.
package gen
