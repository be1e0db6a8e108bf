// Package restrict owns the VhDir usage restriction (IG §Restricted Content;
// extension usage-restriction pointing at a contained Consent, profile
// vhdir-restriction): finding the restrictions in a resource, deciding
// whether a viewer is permitted by one, and producing what a viewer may see.
//
// It does not fetch anything, know clients, tokens, HTTP or storage: the
// caller describes the viewer (Viewer) and supplies lookups as functions.
// The wiring into read, search, includes, history and export belongs to the
// packages that serve them.
//
// Flow: Parse walks a resource once and returns its Restrictions, each an
// element location (a Path, and a FHIRPath-like string such as
// "Location.telecom[1]") with the Rule of its Consent. View then returns the
// resource as a Viewer may see it; Restrictions.Hidden gives the element
// paths hidden from a viewer, for a search indexer that must not match on
// hidden values; TargetOf gives what a VerificationResult's visibility
// follows.
//
// # Finding restrictions
//
//   - A usage-restriction extension (http://hl7.org/fhir/uv/vhdir/StructureDefinition/usage-restriction)
//     in the root extension of a resource restricts the resource; in the
//     extension of any other element, at any depth and inside arrays, it
//     restricts that element and everything beneath it. An extension in a
//     primitive's companion (_birthDate, or item i of _given) restricts the
//     primitive (birthDate, given[i]) together with its companion. The IG
//     says the extension is "expected to be used as a modifier extension",
//     so one found in modifierExtension counts the same.
//   - valueReference.reference must be "#id" naming exactly one contained
//     resource of the same resource, and that one must be a Consent. Contained
//     resources share their container's contained list (ref-1); another
//     resource nested in the tree (Bundle.entry.resource) has its own.
//   - A restriction on the root of a resource held as the resource member
//     of an array item (Bundle.entry[i].resource, Parameters.parameter[i].resource)
//     restricts that item, the whole entry, so that neither the resource nor
//     its fullUrl is left; on a contained resource's root, that contained
//     item.
//   - Parse cannot fail: what cannot be understood becomes a broken rule
//     (below), never an unrestricted element.
//   - Extensions inside a contained Consent are not restrictions: the Consent
//     is the policy, and it is removed with the last element it protects.
//
// # When a restriction applies
//
// A restriction applies when its Consent's status is "active"; any other
// status (draft, proposed, rejected, inactive, entered-in-error) means the
// restriction is not in force, and it hides nothing. A restriction that
// cannot be honoured as written is broken (Rule.Err) and permits directory
// operators only — failing closed is the only safe reading of data someone
// meant to protect: a reference that is not "#id", a missing, duplicated or
// non-Consent contained target, a Consent without a status, or a
// provision.type other than permit (the profile fixes permit; a deny list is
// not something this server can honour). Restrictions.Err reports them so a
// write can be refused.
//
// Several restrictions on one element must all permit the viewer: each
// Consent is a separate condition and satisfying one does not lift another.
//
// # Who is permitted (Rule.Permits)
//
//   - A directory operator (Viewer.Operator, --sees-restricted) always.
//   - A viewer whose organization, or any organization it is partOf
//     (directly or further up), is a provision.actor reference. The
//     direction is downward only: permission granted to an organization
//     covers its sub-organizations, which act as part of it under the same
//     agreement; permission granted to a department does not open the data
//     to the rest of its parent system.
//   - A viewer whose organization, or an ancestor, is one of the
//     organizations Viewer.Membership returns for an actor reference: for a
//     CareTeam its managingOrganization and Organization participants, for
//     an Organization nothing more (its hierarchy is covered above). The
//     package stays free of lookups; without Membership, CareTeam and
//     Practitioner actors permit nobody (a client is an organization, never a
//     person).
//   - A viewer holding a role that matches a provision.securityLabel: a
//     role "code" matches a label with that code in any system, a role
//     "system|code" that exact coding. Labels are matched by code only;
//     a label with only a display (the IG example's
//     "womens-abuse-councellors") matches nobody, as free text is no
//     identifier.
//   - Nobody else. An actor with only a display and no reference (the IG
//     examples) permits nobody but operators. Actor references are compared
//     by Type/id (a version is ignored); absolute URLs and contained
//     references are compared as written, so they match only through
//     Membership. A reference beginning "label:" matches nothing, so that
//     it cannot pass for a security label's permit key (below).
//
// # What a viewer sees (View)
//
// A resource whose root restriction does not permit the viewer does not
// exist for them. Otherwise each element whose restriction does not permit
// the viewer is removed with everything beneath it: an array item is taken
// out of its array (with the same item of a primitive's companion array),
// and an object or array left empty by the removal goes too, up to but not
// including the resource. A contained Consent that protected a removed
// element is removed once nothing left in its resource refers to it by
// "#id". The resource, and any nested resource that lost something, is
// tagged SUBSETTED (fhir.MarkSubsetted). A viewer who is permitted
// everything gets the resource itself, Consent and extensions included, so
// that the recipient knows its redisclosure duties.
//
// # Permit keys (Rule.Keys, ViewerKeys)
//
// The store enforces rules inside its queries in a reduced form: a rule is
// the list of keys a viewer can hold to pass it, a viewer the list of keys
// it holds, and the viewer passes the rule when the lists meet. A rule's
// keys are its actor references, canonical as Permits compares them, and
// for each securityLabel with a code "label:<code>" and, with a system,
// "label:<system>|<code>"; a broken rule has none. A viewer's keys are its
// organization and ancestors, the actors (CareTeams) the caller found it a
// member of, and "label:<role>" for each role; operators see everything
// and need none. The two ways of deciding agree (Viewer.WithTeams builds
// the Viewer whose Membership matches the teams given to ViewerKeys).
//
// ViewBy, PermitsBy and HiddenBy are View, Permits and Hidden with the
// decision per rule given as a function, for callers that reason about
// sets of rules rather than a viewer (the search indexer: "what does a
// viewer permitted by these rules see"). Restrictions.Covering gives the
// rules a viewer must pass to see an element whole.
//
// # VerificationResult
//
// A VerificationResult is visible only where what it validates is (IG
// SHALL): TargetOf returns its target references and targetLocation
// expressions; the caller hides the VerificationResult when any target is
// invisible to the viewer, and, for a targetLocation, when
// Hidden.CoversLocation reports that location (or part of it) hidden in the
// target.
package restrict
