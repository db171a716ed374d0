// The Audit page (#/audit): the chain's status (GET /v1/audit/verify), the
// latest signed head and the server's public key, the events newest first with
// filters, and the export of a signed bundle (GET /v1/audit/export, the file
// `straits audit export` writes, so `straits audit verify-bundle` checks it).
// Admin, auditor and compliance read the log; the API answers 403 to others.
import {
  api, can, dataTable, errorBox, field, fmtTime, h, ready, replace, setHashQuery, showFormError,
} from '../core.js';
import {usePagesStyles} from './rules.js';

// The events seq in (after, after+limit], newest first.
async function eventsAbove(after, limit) {
  const page = await api('/v1/audit', {query: {after, limit}});
  return (page.items || []).reverse();
}

// The filters as GET /v1/audit takes them: action (a prefix: "job." or
// "job.submit"), actor and subject (substrings), since/until (ISO instants,
// at >= since, < until). The server filters, reading at most 20,000 events a
// request and saying where to go on from.
function serverFilters(filters) {
  const f = Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, (v || '').trim()]));
  const iso = (v) => {
    if (!v) return '';
    // A date and time without a zone is UTC, as the form's labels say.
    const d = new Date(/T\d\d:\d\d(:\d\d)?$/.test(v) ? v + 'Z' : v);
    return Number.isNaN(d.getTime()) ? v : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  return {action: f.action, actor: f.actor, subject: f.subject, since: iso(f.from),
    until: iso(f.to)};
}

// `limit` matching events newest first, from `before` (the newest when null),
// and where the next page starts (null at the end).
async function filteredPage(query, before, limit) {
  const items = [];
  let next = before;
  do {
    const page = await api('/v1/audit', {query: {...query, order: 'desc',
      limit: limit - items.length, before: next}});
    items.push(...(page.items || []));
    next = page.next;
  } while (items.length < limit && next !== null);
  return {items, next};
}

// Where each page of the filtered view starts (its `before`), by offset, for
// the filters in use: pages are walked from the nearest known start.
let cursorKey = '';
let cursors = new Map();

// A page of the log, newest first. seq runs 1..head without gaps (the chain
// says so), so a page without filters is one request; with filters, the
// server reads the log backwards until the page is full.
async function fetchEvents(head, {offset, limit, filters}) {
  const query = serverFilters(filters);
  if (!Object.values(query).some(Boolean)) {
    const top = head - offset;
    const n = Math.min(limit, top);
    return {items: n > 0 ? await eventsAbove(top - n, n) : [], total: head};
  }
  const key = JSON.stringify(query) + '/' + limit;
  if (key !== cursorKey) {
    cursorKey = key;
    cursors = new Map([[0, null]]);
  }
  const want = Math.floor(offset / limit) * limit;
  let at = want;
  while (!cursors.has(at)) at -= limit;  // 0 is always known
  for (;;) {
    const page = await filteredPage(query, cursors.get(at), limit);
    cursors.set(at + limit, page.next);
    if (at >= want || page.next === null) {
      if (at < want) return {items: [], total: at + page.items.length};
      // An unfinished view claims one more row than shown, so "Next" stays on.
      return {items: page.items,
        total: page.next === null ? at + page.items.length : at + limit + 1};
    }
    at += limit;
  }
}

function eventDetail(e) {
  const show = (label, v) => (v === null || v === undefined ? null
      : [h('dt', {}, label), h('dd', {}, h('pre', {class: 'json'}, JSON.stringify(v, null, 2)))]);
  return h('details', {}, h('summary', {}, 'details'),
    h('dl', {class: 'kv'}, show('before', e.before), show('after', e.after),
      show('decision', e.decision), h('dt', {}, 'hash'), h('dd', {}, h('code', {}, e.hash)),
      h('dt', {}, 'previous'), h('dd', {}, h('code', {}, e.prev_hash))));
}

// The outcome an event records, when it holds a decision.
const outcome = (e) => (e.decision && e.decision.decision
  ? h('span', {class: `badge outcome-${e.decision.decision}`}, e.decision.decision) : '');

// The chain's status: "checking…" until GET /v1/audit/verify answers (it
// re-hashes the whole chain, so the page does not wait for it).
function chainStatus(v) {
  if (!v) {
    return h('p', {'data-testid': 'audit-verify', 'aria-busy': 'true'},
      h('span', {class: 'badge'}, 'checking\u2026'), ' re-hashing the chain');
  }
  if (v instanceof Error) return h('div', {'data-testid': 'audit-verify'}, errorBox(v));
  return h('div', {'data-testid': 'audit-verify'},
    h('p', {'data-ok': String(v.ok)}, h('span', {class: `badge ${v.ok ? 'state-active' : 'state-failed'}`},
      v.ok ? 'intact' : 'NOT intact'), ` ${v.events.toLocaleString('en-US')} events, head `,
      h('code', {}, v.head || '—')),
    v.problems && v.problems.length
      ? h('ul', {class: 'error'}, v.problems.map((p) => h('li', {}, p))) : null);
}

function statusCard(statusSlot, head, key) {
  const keyMatches = head && key && head.public_key === key.public_key;
  return h('section', {class: 'card', 'data-testid': 'audit-status'},
    h('h2', {}, 'Chain'),
    statusSlot,
    h('h3', {}, 'Latest signed head'),
    head ? h('dl', {class: 'kv', 'data-testid': 'audit-head'},
      h('dt', {}, 'Event'), h('dd', {}, String(head.seq)),
      h('dt', {}, 'Signed at'), h('dd', {}, fmtTime(head.at)),
      h('dt', {}, 'Hash'), h('dd', {}, h('code', {}, head.hash)),
      h('dt', {}, 'Signature'), h('dd', {}, h('code', {}, head.signature)),
      h('dt', {}, 'Public key'), h('dd', {}, h('code', {}, key ? key.public_key : '—'), ' ',
        key ? h('span', {class: `badge ${keyMatches ? 'state-active' : 'state-failed'}`},
                keyMatches ? 'signed by this key' : 'signed by another key') : null))
      : h('p', {class: 'muted'}, 'No signed head yet.'),
    h('p', {class: 'help'}, 'Compare the public key with the one the operator gave you out of ' +
      'band; `straits audit verify-bundle --public-key` checks an export against it.'));
}

// The chain's last seq without re-hashing it: seq runs 1..head without gaps,
// so "is there an event above n" (GET /v1/audit?after=n&limit=1) is a
// monotone test; a few rounds of parallel probes find the head.
// GET /healthz says the last seq (audit_seq) in one call; the probes are for a
// server whose /healthz does not.
async function headSeq() {
  try {
    const health = await api('/healthz');
    if (Number.isInteger(health.audit_seq)) return health.audit_seq;
  } catch {
    // probe instead
  }
  const has = async (n) => ((await api('/v1/audit', {query: {after: n - 1, limit: 1}})).items || []).length > 0;
  let lo = 0;  // has(lo) (0: trivially)
  let hi = 1;  // !has(hi)
  const ups = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7];
  const found = await Promise.all(ups.map(has));
  const firstMissing = found.indexOf(false);
  if (firstMissing < 0) hi = 2 ** 53; else hi = ups[firstMissing];
  if (firstMissing > 0) lo = ups[firstMissing - 1];
  while (hi - lo > 1) {
    const k = Math.min(6, hi - lo - 1);
    const points = Array.from({length: k}, (_, i) => lo + Math.max(1, Math.floor(((i + 1) * (hi - lo)) / (k + 1))));
    const answers = await Promise.all(points.map(has));
    for (let i = 0; i < k; i++) {
      if (answers[i]) lo = Math.max(lo, points[i]);
      else { hi = Math.min(hi, points[i]); break; }
    }
  }
  return lo;
}

// The latest signed head: heads are signed at commits, by seq; the last one
// is at or just below the chain's head.
async function latestHead(events) {
  for (let after = Math.max(0, events - 1); ; after = Math.max(0, after - 64)) {
    const page = await api('/v1/audit/heads', {query: {after, limit: 64}});
    const items = page.items || [];
    if (items.length) {
      let last = items[items.length - 1];
      for (let next = page.next; next;) {  // a head signed since the chain was read
        const more = await api('/v1/audit/heads', {query: {after: next, limit: 64}});
        if ((more.items || []).length) last = more.items[more.items.length - 1];
        next = more.next;
      }
      return last;
    }
    if (after === 0) return null;
  }
}

// Saves text as a file through a blob: URL (a download, no navigation: the
// console's CSP has nothing to allow).
function saveFile(text, name) {
  const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
  const a = h('a', {href: url, download: name, class: 'button', 'data-testid': 'export-link'},
              `Save ${name} again`);
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return a;
}

function exportForm(head) {
  const from = field({name: 'from_seq', label: 'From event', type: 'number',
                      value: Math.max(1, head - 99), attrs: {min: 1}});
  const to = field({name: 'to_seq', label: 'To event', type: 'number', value: head,
                    attrs: {min: 1}});
  const out = h('div', {'aria-live': 'polite'});
  const f = h('form', {'data-testid': 'audit-export-form', class: 'card', novalidate: true},
    h('h2', {}, 'Export a signed bundle'),
    h('p', {class: 'help'}, 'The events of the range and the signed heads that cover them, ' +
      'with the public key: check it offline with `straits audit verify-bundle FILE`.'),
    h('div', {class: 'form-grid'}, from.field, to.field),
    h('button', {type: 'submit', class: 'primary', 'data-action': 'export'}, 'Export'),
    h('div', {class: 'form-error', 'aria-live': 'assertive'}), out);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(f, null);
    try {
      const text = await api('/v1/audit/export', {raw: true, query: {
        from_seq: from.input.value, to_seq: to.input.value}});
      const name = `straits-audit-${from.input.value}-${to.input.value}.json`;
      replace(out, h('p', {}, `Exported ${name} (${text.length.toLocaleString('en-US')} bytes). `,
                     saveFile(text, name)));
    } catch (err) {
      showFormError(f, err);
    }
  });
  return f;
}

function eventsTable(head, query) {
  const filters = [
    {name: 'action', label: 'Kind (prefix)', help: 'job., ruleset.adopt'},
    {name: 'actor', label: 'Actor'},
    {name: 'subject', label: 'Entity'},
    {name: 'from', label: 'From (UTC)', help: '2026-12-01'},
    {name: 'to', label: 'To (UTC)'},
  ];
  const state = {filters: Object.fromEntries(filters.map((f) => [f.name, query[f.name] || '']))};
  return dataTable({
    testid: 'audit-table', filterTestid: 'audit-filter-form', caption: 'Events, newest first',
    pageSize: 25, filters, state, rowId: (e) => e.seq,
    fetchPage: (s) => fetchEvents(head, s),
    onState: (s) => setHashQuery(s.filters),  // a link reproduces the filtered view
    empty: 'No event matches.',
    columns: [
      {key: 'seq', label: 'Seq'},
      {key: 'at', label: 'At', render: (e) => fmtTime(e.at)},
      {key: 'actor', label: 'Actor'},
      {key: 'action', label: 'Kind', render: (e) => h('code', {}, e.action)},
      {key: 'subject', label: 'Entity'},
      {key: 'outcome', label: 'Decision', render: outcome},
      {key: 'detail', label: '', render: eventDetail},
    ],
  });
}

export async function render(root, params, {who}) {
  usePagesStyles();
  const denied = () => {
    replace(root, h('h1', {}, 'Audit'), h('p', {class: 'error', 'data-testid': 'error'},
      `Your role (${who.role}) cannot read the audit log.`));
    ready(root);
  };
  if (!can.readAudit(who)) return denied();
  // The verify runs beside the page; its answer fills the status in.
  const statusSlot = h('div', {'aria-live': 'polite'}, chainStatus(null));
  const verify = api('/v1/audit/verify');
  verify.then((v) => replace(statusSlot, chainStatus(v)),
              (e) => replace(statusSlot, chainStatus(e instanceof Error ? e : new Error(String(e)))));
  let events, key;
  try {
    [events, key] = await Promise.all([headSeq(), api('/v1/audit/public-key')]);
  } catch (e) {
    if (e.status === 403) return denied();
    throw e;
  }
  // The latest signed head and the first page of events, side by side.
  const table = eventsTable(events, params.query || {});
  const [head, loaded] = await Promise.all([
    latestHead(events).catch(() => null),
    table.reload().then(() => null, (e) => e)]);
  replace(root, h('h1', {}, 'Audit'),
          h('div', {class: 'grid'}, statusCard(statusSlot, head, key), exportForm(events)),
          h('h2', {}, 'Events'), table.el, loaded ? errorBox(loaded) : null);
  ready(root);
}
