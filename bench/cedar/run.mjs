#!/usr/bin/env node
// Cedar side of the straits-vs-Cedar benchmark.
//
//   node run.mjs DIR [--iterations N] [--warmup N]
//
// DIR holds policies.cedar, entities.json and requests.json (see README.md).
// Prints exactly one line of JSON on stdout; everything else goes to stderr.
// Exit codes (as for the straits command): 0 every answer matched and Cedar
// reported no error; 1 a mismatch, a Cedar error, or an unreadable input
// file; 2 bad command line.
//
// Which cedar-wasm API, and why
// -----------------------------
// @cedar-policy/cedar-wasm 4.x (checked against the shipped
// nodejs/cedar_wasm.d.ts of 4.13.0) offers two ways to authorize:
//
//   isAuthorized(call: AuthorizationCall): AuthorizationAnswer
//       AuthorizationCall carries `policies: PolicySet` (and optional schema),
//       so the policy text is parsed again on every call.
//
//   preparsePolicySet(pset_id: string, policies: PolicySet): CheckParseAnswer
//   statefulIsAuthorized(call: StatefulAuthorizationCall): AuthorizationAnswer
//       preparsePolicySet parses the policy set once and caches it inside the
//       wasm instance (Rust thread-local) under pset_id;
//       StatefulAuthorizationCall names it by `preparsedPolicySetId` instead of
//       carrying the text, so no policy parsing happens per call.
//
// We use the second pair: the policy set is parsed once up front and every
// timed call is statefulIsAuthorized. What each call still pays, and what the
// numbers therefore include: the wasm-bindgen boundary (the binding does
// JSON.stringify of the call object in JS and serde_json parsing in Rust, then
// the answer comes back as a JSON string that JS JSON.parses), building the
// Cedar request and context from that JSON, parsing `entities` (there is no
// preparsed-entities API in 4.x; the sample passes []), and evaluation.
// Request objects are built once before timing, so JS-side object
// construction is not timed.
//
// Cedar errors are never folded into "deny":
//   - preparsePolicySet / checkParseEntities failure: reported, nothing runs.
//   - statefulIsAuthorized {type:"failure"} (bad context, bad entities, ...),
//     or an exception thrown by the binding (it throws instead of answering
//     when the call object does not deserialize): the answer is "error"; it
//     counts in `errors` and, as it is not the expected answer, in
//     `mismatches`.
//   - {type:"success"} with response.diagnostics.errors non-empty (a policy
//     raised an evaluation error, e.g. a missing context attribute; Cedar then
//     skips that policy, so an erroring forbid can turn into an allow): the
//     decision is compared as Cedar gave it, and the evaluation counts in
//     `errors`.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// The "nodejs" build loads the .wasm synchronously with fs; the default ESM
// build imports the .wasm as a module, which plain Node 20 cannot do.
const CEDAR_ENTRY = '@cedar-policy/cedar-wasm/nodejs';
const PSET_ID = 'straits-bench';

const USAGE = 'usage: node run.mjs DIR [--iterations N] [--warmup N]\n' +
  '  DIR holds policies.cedar, entities.json, requests.json\n' +
  '  --iterations N  timed passes over all requests (default 100, N >= 1)\n' +
  '  --warmup N      untimed passes before timing (default 100, N >= 0)\n';

function log(msg) {
  process.stderr.write(`cedar-bench: ${msg}\n`);
}

function usageError(msg) {
  process.stderr.write(`cedar-bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { dir: null, iterations: 100, warmup: 100 };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (arg === '--iterations' || arg === '--warmup' ||
        arg.startsWith('--iterations=') || arg.startsWith('--warmup=')) {
      let name = arg;
      let value;
      const eq = arg.indexOf('=');
      if (eq >= 0) {
        name = arg.slice(0, eq);
        value = arg.slice(eq + 1);
      } else {
        if (i + 1 >= argv.length) usageError(`${name} needs a value`);
        value = argv[++i];
      }
      if (!/^[0-9]+$/.test(value)) usageError(`${name}: '${value}' is not a non-negative integer`);
      const n = Number(value);
      if (!Number.isSafeInteger(n)) usageError(`${name}: '${value}' is too large`);
      opts[name.slice(2)] = n;
      continue;
    }
    if (arg.startsWith('-')) usageError(`unknown option '${arg}'`);
    if (opts.dir !== null) usageError(`unexpected argument '${arg}'`);
    opts.dir = arg;
  }
  if (opts.dir === null) usageError('missing DIR');
  if (opts.iterations < 1) usageError('--iterations must be at least 1');
  return opts;
}

// Prints the single stdout line and exits.
function finish(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.mismatches === 0 && result.errors === 0 ? 0 : 1);
}

function inputError(msg) {
  log(msg);
  process.exit(1);
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    inputError(`cannot read ${path}: ${e.message}`);
  }
}

function readJson(path) {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    inputError(`${path}: invalid JSON: ${e.message}`);
  }
}

function isUid(v) {
  return v !== null && typeof v === 'object' && typeof v.type === 'string' && typeof v.id === 'string';
}

function loadRequests(path) {
  const raw = readJson(path);
  if (!Array.isArray(raw)) inputError(`${path}: expected a JSON array of requests`);
  if (raw.length === 0) inputError(`${path}: no requests`);
  return raw.map((r, i) => {
    const where = `${path}: request ${i}`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) inputError(`${where}: not an object`);
    for (const k of ['principal', 'action', 'resource']) {
      if (!isUid(r[k])) inputError(`${where}: '${k}' must be {"type": string, "id": string}`);
    }
    const context = r.context === undefined ? {} : r.context;
    if (context === null || typeof context !== 'object' || Array.isArray(context)) {
      inputError(`${where}: 'context' must be an object`);
    }
    if (r.expected !== 'allow' && r.expected !== 'deny') {
      inputError(`${where}: 'expected' must be "allow" or "deny", got ${JSON.stringify(r.expected)}`);
    }
    return { principal: r.principal, action: r.action, resource: r.resource, context, expected: r.expected };
  });
}

function errorMessages(errors) {
  return (errors || []).map((e) => (e && typeof e === 'object' && 'message' in e ? e.message : String(e)));
}

// Runs a cedar-wasm check, turning a thrown binding error into a failure answer.
function guarded(fn) {
  try {
    return fn();
  } catch (ex) {
    return { type: 'failure', errors: [{ message: `thrown: ${ex && ex.message ? ex.message : String(ex)}` }] };
  }
}

// Nearest-rank percentile of a sorted array, in microseconds.
function percentileUs(sortedNs, p) {
  const n = sortedNs.length;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return Math.round(sortedNs[rank - 1]) / 1000;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));

  let cedar;
  let entryPath;
  try {
    entryPath = require.resolve(CEDAR_ENTRY);
    cedar = require(CEDAR_ENTRY);
  } catch (e) {
    inputError(`cannot load ${CEDAR_ENTRY} (run 'npm ci' in ${dirname(new URL(import.meta.url).pathname)}): ${e.message}`);
  }
  const pkg = JSON.parse(readFileSync(join(dirname(dirname(entryPath)), 'package.json'), 'utf8'));
  const version = pkg.version;

  const policiesPath = join(opts.dir, 'policies.cedar');
  const entitiesPath = join(opts.dir, 'entities.json');
  const requestsPath = join(opts.dir, 'requests.json');
  const policyText = readText(policiesPath);
  const entities = readJson(entitiesPath);
  if (!Array.isArray(entities)) inputError(`${entitiesPath}: expected a JSON array of entities`);
  const requests = loadRequests(requestsPath);
  const R = requests.length;

  const base = {
    engine: 'cedar-wasm',
    version,
    requests: R,
    evaluations: 0,
    seconds: 0,
    per_second: 0,
    p50_us: null,
    p90_us: null,
    p99_us: null,
    mismatches: 0,
    first_mismatch: null,
    errors: 0,
  };

  // ---- one-time preparation (not timed) ----
  const t0 = process.hrtime.bigint();
  const parsed = guarded(() => cedar.preparsePolicySet(PSET_ID, { staticPolicies: policyText }));
  const prepMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (parsed.type !== 'success') {
    const msgs = errorMessages(parsed.errors);
    for (const m of msgs) log(`${policiesPath}: ${m}`);
    finish({ ...base, errors: Math.max(1, msgs.length), first_error: { stage: 'preparsePolicySet', messages: msgs } });
  }
  const parts = cedar.policySetTextToParts(policyText);
  const policyCount = parts.type === 'success' ? parts.policies.length + parts.policy_templates.length : '?';
  const entCheck = guarded(() => cedar.checkParseEntities({ entities }));
  if (entCheck.type !== 'success') {
    const msgs = errorMessages(entCheck.errors);
    for (const m of msgs) log(`${entitiesPath}: ${m}`);
    finish({ ...base, errors: Math.max(1, msgs.length), first_error: { stage: 'checkParseEntities', messages: msgs } });
  }
  log(`cedar-wasm ${version} (Cedar ${cedar.getCedarVersion()}): ${policyCount} policies preparsed in ${prepMs.toFixed(2)} ms, ` +
      `${entities.length} entities, ${R} requests; warmup ${opts.warmup} x ${R}, timed ${opts.iterations} x ${R}`);

  // Call objects are built once; only the authorizer call is timed.
  const calls = requests.map((r) => ({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    context: r.context,
    preparsedPolicySetId: PSET_ID,
    entities,
  }));
  const expected = requests.map((r) => r.expected);

  // ---- warmup (not timed, answers not counted) ----
  for (let it = 0; it < opts.warmup; it++) {
    for (let i = 0; i < R; i++) {
      try {
        cedar.statefulIsAuthorized(calls[i]);
      } catch {
        // counted in the timed pass
      }
    }
  }

  // ---- timed ----
  const E = opts.iterations * R;
  const durNs = new Float64Array(E);
  let k = 0;
  let mismatches = 0;
  let errors = 0;
  let firstMismatch = null;
  let firstError = null;

  const wallStart = process.hrtime.bigint();
  for (let it = 0; it < opts.iterations; it++) {
    for (let i = 0; i < R; i++) {
      let ans;
      const s = process.hrtime.bigint();
      try {
        ans = cedar.statefulIsAuthorized(calls[i]);
      } catch (ex) {
        // The binding throws (rather than answering {type:"failure"}) when
        // the call object does not deserialize, e.g. a malformed entity.
        ans = { type: 'failure', errors: [{ message: `thrown: ${ex && ex.message ? ex.message : String(ex)}` }] };
      }
      const e = process.hrtime.bigint();
      durNs[k++] = Number(e - s);

      let got;
      let errs = null;
      if (ans.type === 'success') {
        got = ans.response.decision; // "allow" | "deny"
        if (ans.response.diagnostics.errors.length > 0) {
          errs = ans.response.diagnostics.errors.map((x) => ({ policy: x.policyId, message: x.error.message }));
        }
      } else {
        got = 'error';
        errs = errorMessages(ans.errors).map((m) => ({ policy: null, message: m }));
      }
      if (errs !== null) {
        errors++;
        if (firstError === null) {
          firstError = { index: i, iteration: it, errors: errs };
          log(`request ${i}: Cedar error: ${errs.map((x) => (x.policy ? `${x.policy}: ` : '') + x.message).join('; ')}`);
        }
      }
      if (got !== expected[i]) {
        mismatches++;
        if (firstMismatch === null) {
          firstMismatch = {
            index: i,
            iteration: it,
            expected: expected[i],
            got,
            reason: ans.type === 'success' ? ans.response.diagnostics.reason : [],
            errors: errs === null ? [] : errs,
            request: {
              principal: requests[i].principal,
              action: requests[i].action,
              resource: requests[i].resource,
              context: requests[i].context,
            },
          };
          log(`request ${i}: expected ${expected[i]}, got ${got}` +
              (firstMismatch.reason.length ? ` (determining: ${firstMismatch.reason.join(', ')})` : ''));
        }
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - wallStart) / 1e9;

  durNs.sort();
  const result = {
    ...base,
    evaluations: E,
    seconds: Number(seconds.toFixed(6)),
    per_second: Math.round(E / seconds),
    p50_us: percentileUs(durNs, 50),
    p90_us: percentileUs(durNs, 90),
    p99_us: percentileUs(durNs, 99),
    mismatches,
    first_mismatch: firstMismatch,
    errors,
  };
  if (firstError !== null) result.first_error = firstError;
  log(`${E} evaluations in ${seconds.toFixed(3)} s: ${result.per_second}/s, p50 ${result.p50_us} us, ` +
      `p90 ${result.p90_us} us, p99 ${result.p99_us} us; ${mismatches} mismatches, ${errors} errors`);
  finish(result);
}

main();
