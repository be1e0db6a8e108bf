// Evaluates FHIRPath expressions on FHIR R4 resources with HL7's FHIRPath.js
// for TestCrossCheckFHIRPathJS (internal/fhirpath/crosscheck_test.go).
//
// stdin:  {"expressions": [src...], "resources": [resource...], "pairs": [[expr, res]...],
//          "sites": [{"root": res, "resource": res, "locate": path}...],
//          "checks": [{"e": expr, "site": site}...]}
// stdout: [{"items": [{"v": value, "e": _companion, "t": "FHIR.string"}...]} | {"error": msg}...],
//         one entry per pair, in order; when the job has checks (optional),
//         {"pairs": [that array], "checks": [the same per check, in order]}.
//
// A site is one element: locate is a path selecting it from
// resources[root] (contained[0].telecom[1]), resource the resource holding
// it. A check evaluates expression e on a site's element, as an invariant,
// with %resource and %rootResource set.
//
// resolve() needs a server; fetch is replaced by a stub that answers any
// URL ending in Type/id (optionally /_history/v) with {resourceType, id} and
// everything else with 404, so resolve() yields a resource of the target
// type exactly where the Go package yields a placeholder.
'use strict';

// FHIRPath.js reads a date-time without an offset in the local timezone;
// the Go package takes UTC, so run in UTC.
process.env.TZ = 'UTC';

const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const refPattern = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/;

globalThis.fetch = async (url) => {
  const m = refPattern.exec(String(url));
  if (!m || String(url).includes('?')) {
    return new Response('{}', {status: 404});
  }
  return new Response(JSON.stringify({resourceType: m[1], id: m[2]}),
    {status: 200, headers: {'Content-Type': 'application/fhir+json'}});
};

// trace() would print to stdout, which carries the results.
const options = {async: true, fhirServerUrl: 'http://crosscheck.invalid/fhir', resolveInternalTypes: false, traceFn: () => {}};

// item turns one result item into {v, e, t}.
function item(n) {
  if (n && typeof n.getTypeInfo === 'function') {
    const ti = n.getTypeInfo();
    return {v: n.data ?? null, e: n._data ?? null, t: ti.namespace + '.' + ti.name};
  }
  const v = n && typeof n.toJSON === 'function' ? n.toJSON() : n;
  return {v, e: null, t: fhirpath.types([n])[0]};
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
  }
  const job = JSON.parse(input);
  const compiled = job.expressions.map((src) => {
    try {
      return fhirpath.compile(src, r4, options);
    } catch (err) {
      return err;
    }
  });
  const out = [];
  for (const [ei, ri] of job.pairs || []) {
    const fn = compiled[ei];
    if (fn instanceof Error) {
      out.push({error: 'compile: ' + fn.message});
      continue;
    }
    const res = job.resources[ri];
    try {
      const items = await fn(res, {resource: res});
      out.push({items: items.map(item)});
    } catch (err) {
      out.push({error: err.message});
    }
  }
  if (!job.checks) {
    process.stdout.write(JSON.stringify(out));
    return;
  }
  // Each site is located from its root resource, so that the node keeps
  // its parents (resolve() finds "#id" through them) and its _name
  // companion.
  const sites = [];
  for (const st of job.sites) {
    try {
      const res = job.resources[st.root];
      const found = await fhirpath.evaluate(res, st.locate, {resource: res}, r4, options);
      sites.push(found.length === 1 ? found[0] : new Error(st.locate + ' gave ' + found.length + ' items'));
    } catch (err) {
      sites.push(err);
    }
  }
  const compiledAt = job.expressions.map((src) => {
    try {
      return fhirpath.compile(src, r4, options);
    } catch (err) {
      return err;
    }
  });
  const checks = [];
  for (const ck of job.checks) {
    const fn = compiledAt[ck.e];
    const node = sites[ck.site];
    if (fn instanceof Error || node instanceof Error) {
      checks.push({error: (fn instanceof Error ? 'compile: ' + fn.message : 'locate: ' + node.message)});
      continue;
    }
    const st = job.sites[ck.site];
    try {
      const items = await fn(node, {resource: job.resources[st.resource], rootResource: job.resources[st.root]});
      checks.push({items: items.map(item)});
    } catch (err) {
      checks.push({error: err.message});
    }
  }
  process.stdout.write(JSON.stringify({pairs: out, checks}));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
