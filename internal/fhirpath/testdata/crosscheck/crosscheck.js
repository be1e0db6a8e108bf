// Evaluates FHIRPath expressions on FHIR R4 resources with HL7's FHIRPath.js
// for TestCrossCheckFHIRPathJS (internal/fhirpath/crosscheck_test.go).
//
// stdin:  {"expressions": [src...], "resources": [resource...], "pairs": [[expr, res]...]}
// stdout: [{"items": [{"v": value, "e": _companion, "t": "FHIR.string"}...]} | {"error": msg}...],
//         one entry per pair, in order.
//
// resolve() needs a server; fetch is replaced by a stub that answers any
// URL ending in Type/id (optionally /_history/v) with {resourceType, id} and
// everything else with 404, so resolve() yields a resource of the target
// type exactly where the Go package yields a placeholder.
'use strict';

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

const options = {async: true, fhirServerUrl: 'http://crosscheck.invalid/fhir', resolveInternalTypes: false};

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
  for (const [ei, ri] of job.pairs) {
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
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
