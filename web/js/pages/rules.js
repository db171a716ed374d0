// The Rules page (#/rules, #/rules/<set id>): the rule sets and their states,
// one set's detail, the dated rule changes ahead as a timeline, the diff of
// two sets, the impact of a proposed set, pushing/proposing/adopting (admin,
// compliance), and the "may org X run/lease/ship on pool Y on date D?" form.
// What a role may not do is not drawn; the API refuses it anyway
// (src/api/internal/routes_rulesets.cc, routes_ruleset_analysis.cc).
import {
  api, can, errorBox, fetchAll, field, fmtTime, h, ready, replace, showFormError, simpleTable,
} from '../core.js';

// The stylesheet of the Rules, Audit and What-if pages, added once to <head>
// (index.html is the shell's; a <link> to 'self' is what the CSP allows).
export function usePagesStyles() {
  if (document.querySelector('link[data-pages2]')) return;
  document.head.appendChild(h('link', {rel: 'stylesheet', href: '/console/css/pages2.css',
                                       'data-pages2': ''}));
}

// Roles that read every rule set and may diff and weigh them (the API's
// require_analyst): admin, auditor, compliance.
const analyst = (who) => ['admin', 'auditor', 'compliance'].includes(who.role);

// A date ("2027-01-01") or an instant, as the API reads it; empty: absent.
const instantOrNull = (text) => (text.trim() ? text.trim() : undefined);

const stateBadge = (state) => h('span', {class: `badge state-${state}`}, state);
const byAt = (by, at) => (by ? `${by} · ${fmtTime(at)}` : '—');
const shortHash = (hash) => h('code', {title: hash}, (hash || '').slice(0, 12));

// The date a set was proposed for, typed in the propose form: the API keeps no
// date before adoption, so the page carries it to the set's impact and adopt
// fields (for this tab's life only).
const planned = new Map();

// A form with a general error slot, as core.showFormError expects.
function form(testid, ...children) {
  return h('form', {'data-testid': testid, class: 'card', novalidate: true}, ...children,
           h('div', {class: 'form-error', 'aria-live': 'assertive'}));
}

// On submit: shows `busy` in out, then what run() resolves to, or the API's
// error next to the field it names.
function submitInto(f, out, busy, run) {
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(f, null);
    replace(out, busy ? h('p', {class: 'muted'}, busy) : null);
    try {
      replace(out, await run());
    } catch (err) {
      out.replaceChildren();
      showFormError(f, err);
    }
  });
  return f;
}

// An <input list> with its <datalist> of suggestions (free text stays allowed:
// an id the caller cannot list is still a fair question).
function suggestField(spec, values) {
  const listId = `${spec.name}-choices-${Math.random().toString(36).slice(2, 8)}`;
  const f = field({...spec, attrs: {...(spec.attrs || {}), list: listId, autocomplete: 'off'}});
  f.field.appendChild(h('datalist', {id: listId}, values.map((v) => h('option', {value: v}))));
  return f;
}

// ---- rule sets: table and detail -------------------------------------------------------

function setsTable(sets, onShow) {
  return simpleTable({
    testid: 'rulesets-table',
    caption: 'Rule sets',
    rows: sets,
    empty: 'No rule sets you may see.',
    columns: [
      {key: 'id', label: 'Set', render: (s) => h('button', {
        type: 'button', class: 'linklike', 'data-action': 'show', onclick: () => onShow(s.id),
        'aria-label': `Show rule set ${s.id}`}, s.id)},
      {key: 'name', label: 'Name'},
      {key: 'state', label: 'State', render: (s) => stateBadge(s.state)},
      {key: 'effective', label: 'From', render: (s) => fmtTime(s.effective)},
      {key: 'hash', label: 'Hash', render: (s) => shortHash(s.hash)},
      {key: 'proposed', label: 'Proposed', render: (s) => byAt(s.proposed_by, s.proposed_at)},
      {key: 'adopted', label: 'Adopted', render: (s) => byAt(s.adopted_by, s.adopted_at)},
    ],
  });
}

function packsView(set) {
  return h('div', {class: 'packs'}, (set.packs || []).map((p) => h('div', {class: 'pack'},
    h('h4', {}, `Pack ${p.name}`),
    Object.entries(p.files || {}).map(([name, text]) => h('details', {},
      h('summary', {}, name), h('pre', {class: 'rules-text'}, text))))));
}

// The controls of a set for the roles that change rules: propose a draft,
// adopt a proposed set from an instant, retire.
function setActions(set, who, refresh) {
  if (!can.changeRules(who) || set.state === 'retired') return null;
  const {field: effField, input: effective} = field({
    name: 'effective', label: 'Effective from (empty: now)', value: planned.get(set.id) || '',
    help: 'A date (2027-01-01) or an instant (2027-01-01T09:00:00Z), UTC.'});
  const f = form('ruleset-actions');
  const act = async (verb, body) => {
    showFormError(f, null);
    try {
      await api(`/v1/rulesets/${encodeURIComponent(set.id)}/${verb}`, {method: 'POST', body});
      await refresh(set.id);
    } catch (e) {
      showFormError(f, e);
    }
  };
  if (set.state === 'draft') {
    f.prepend(h('button', {type: 'submit', class: 'primary', 'data-action': 'propose'},
                'Propose this set'));
    f.addEventListener('submit', (e) => { e.preventDefault(); act('propose'); });
  } else if (set.state === 'proposed') {
    f.prepend(effField, h('button', {type: 'submit', class: 'primary', 'data-action': 'adopt'},
                          'Adopt'));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      act('adopt', {effective: instantOrNull(effective.value)});
    });
  }
  f.appendChild(h('button', {type: 'button', class: 'danger', 'data-action': 'retire',
                             onclick: () => act('retire')}, 'Retire'));
  return f;
}

// ---- the timeline of dated changes ahead --------------------------------------------

const DAY_MS = 86400000;

// The changes ahead: the dated rules of the policy in force (GET /v1/rules/changes)
// and the adopted sets that take effect later.
// The dated rule changes are asked for at once (beside the rule sets), as a
// promise that does not reject unhandled.
function fetchChanges(days) {
  const now = new Date();
  const answer = api('/v1/rules/changes', {query: {from: now.toISOString(), days}});
  answer.catch(() => {});
  return {now, answer};
}

async function changesAhead(sets, days, asked = fetchChanges(days)) {
  const now = asked.now;
  let items = [];
  let note = null;
  try {
    const answer = await asked.answer;
    items = (answer.items || []).map((c) => ({...c, id: `${c.rule}@${c.at}`}));
  } catch (e) {
    if (e.status !== 404) throw e;
    note = 'This server does not list dated rule changes (GET /v1/rules/changes); only rule ' +
           'sets adopted for a later date are shown.';
  }
  for (const s of sets) {
    if (s.state === 'adopted' && s.effective && new Date(s.effective) > now) {
      items.push({id: s.id, at: s.effective, rule: `rule set ${s.id}`, kind: 'ruleset',
                  summary: `${s.name} takes effect`, citation: []});
    }
  }
  items.sort((a, b) => new Date(a.at) - new Date(b.at));
  return {items, note, from: now, to: new Date(now.getTime() + days * DAY_MS)};
}

// The changes drawn along one axis: today at the left, a tick a month, each
// change a numbered marker (the list below reads the same numbers).
function timelineSvg({items, from, to}) {
  const W = 960, left = 30, right = 20, axisY = 70, H = 120;
  const span = to - from;
  const x = (t) => left + ((new Date(t) - from) / span) * (W - left - right);
  const parts = [h('line', {x1: left, x2: W - right, y1: axisY, y2: axisY, class: 'axis'})];
  const month = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
  const months = Math.round(span / (30 * DAY_MS));
  const every = months > 18 ? 3 : months > 8 ? 2 : 1;
  for (let m = month, i = 0; m < to; m = new Date(Date.UTC(m.getUTCFullYear(),
                                                           m.getUTCMonth() + 1, 1)), i++) {
    const tx = x(m);
    parts.push(h('line', {x1: tx, x2: tx, y1: axisY - 4, y2: axisY + 4, class: 'tick'}));
    if (i % every === 0) {
      parts.push(h('text', {x: tx, y: axisY + 20, 'text-anchor': 'middle'},
                   m.toISOString().slice(0, 7)));
    }
  }
  parts.push(h('line', {x1: left, x2: left, y1: 10, y2: axisY + 26, class: 'today'}),
             h('text', {x: left - 4, y: axisY + 40, class: 'today-label'}, 'today'));
  items.forEach((c, i) => {
    const cx = x(c.at);
    const cy = axisY - 18 - (i % 3) * 17;  // three rows, so close dates stay apart
    parts.push(h('g', {class: `change change-${c.kind}`, 'data-id': c.id},
      h('title', {}, `${fmtTime(c.at)} ${c.rule}: ${c.summary || c.kind}`),
      h('line', {x1: cx, x2: cx, y1: cy, y2: axisY, class: 'stem'}),
      h('circle', {cx, cy, r: 8}),
      h('text', {x: cx, y: cy + 4, 'text-anchor': 'middle', class: 'num'}, String(i + 1))));
  });
  return h('svg', {class: 'rules-timeline', viewBox: `0 0 ${W} ${H}`, role: 'img',
                   'aria-label': `Rule changes from ${fmtTime(from.toISOString())} to ` +
                                 `${fmtTime(to.toISOString())}: ${items.length}`}, parts);
}

function changesList(items) {
  if (!items.length) return h('p', {class: 'muted'}, 'No dated change ahead in this window.');
  return h('ol', {class: 'changes', 'data-testid': 'rule-changes'}, items.map((c) =>
    h('li', {'data-id': c.id},
      h('strong', {}, fmtTime(c.at)), ' ',
      h('span', {class: 'badge'}, c.kind === 'ends' ? 'ends' : c.kind === 'ruleset'
                                                                 ? 'rule set' : 'takes effect'),
      ' ', h('code', {}, c.rule), c.summary ? ` — ${c.summary}` : null,
      (c.citation || []).length
          ? h('div', {class: 'citation'}, 'Source: ', [].concat(c.citation).join('; '))
          : null)));
}

async function drawTimeline(slot, sets, days, asked) {
  const ahead = await changesAhead(sets, days, asked);
  replace(slot, ahead.note ? h('p', {class: 'notice'}, ahead.note) : null,
          h('div', {class: 'scroll-x'}, timelineSvg(ahead)), changesList(ahead.items));
}

// ---- diff ---------------------------------------------------------------------------

const joined = (list, sep = ', ') => (list && list.length ? list.map((s) => s || 'none')
                                                                 .join(sep) : '—');

function sideText(side) {
  const rules = (side.rules || []).map((r) => r.id + ' ' + r.effect +
      (r.lifted_by ? ` (lifted by ${r.lifted_by})` : '') +
      (r.obligation ? ` [${r.obligation}]` : ''));
  return `${side.outcome}${rules.length ? ': ' + rules.join(', ') : ''}`;
}

// One group of the diff, the lines `straits rules diff` prints for it.
function diffGroup(g) {
  const kv = [
    ['base', sideText(g.base)], ['with', sideText(g.with)],
    ['chips', joined(g.chips)], ['to', joined(g.countries)],
    ['pools', g.pools && joined(g.pools)], ['sites', g.sites && joined(g.sites)],
    ['operators', g.operator_hq && joined(g.operator_hq, '; ')],
    ['into', g.receiver_hq && joined(g.receiver_hq, '; ')],
    ['from', g.source_countries && joined(g.source_countries)],
    ['orgs', g.orgs && `${joined(g.orgs)} (hq: ${joined(g.org_hq, '; ')})`],
    ['datasets', g.datasets && `${joined(g.datasets)} (${joined(g.dataset_class_origin, '; ')})`],
  ].filter(([, v]) => v);
  const until = g.until && g.until < '2200' ? g.until.slice(0, 10) : 'open';
  return h('li', {class: 'diff-group', 'data-action-kind': g.action},
    h('div', {}, h('strong', {}, `${g.action} ${g.from.slice(0, 10)} .. ${until}: `),
      h('span', {class: `badge outcome-${g.base.outcome}`}, g.base.outcome), ' → ',
      h('span', {class: `badge outcome-${g.with.outcome}`}, g.with.outcome)),
    h('dl', {class: 'kv'}, kv.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

// The diff grouped as the CLI prints it: consecutive groups with the same
// changed rules under one heading naming those rules.
function diffView(d) {
  const head = h('p', {}, `Decisions that change from ${d.from.slice(0, 10)} to ` +
      `${d.to.slice(0, 10)} (${d.subjects} subjects compared, ${d.changed_rows} changes found); ` +
      `base ${d.base.ruleset}, with ${d.with.ruleset}.`);
  if (!d.groups.length) return h('div', {'data-testid': 'diff'}, head, h('p', {}, 'No decision changes.'));
  const sections = [];
  let key = null;
  let list = null;
  for (const g of d.groups) {
    const k = JSON.stringify(g.changed_rules);
    if (k !== key) {
      key = k;
      list = h('ul', {class: 'diff-list'});
      sections.push(h('section', {class: 'diff-rules', 'data-id': g.changed_rules.join(',')},
        h('h4', {}, g.changed_rules.map((id) => h('div', {}, h('code', {}, id), ': ',
                                                  (d.rules || {})[id] || ''))), list));
    }
    list.appendChild(diffGroup(g));
  }
  return h('div', {'data-testid': 'diff'}, head, sections);
}

function diffForm(sets, out) {
  const options = sets.map((s) => [s.id, `${s.id} · ${s.name} (${s.state})`]);
  const withSet = field({name: 'id', label: 'Set', type: 'select', options,
                         value: (sets.find((s) => s.state === 'proposed') || sets[0] || {}).id});
  const against = field({name: 'against', label: 'Against', type: 'select',
                         options: [['adopted', 'the rules in force'], ...options]});
  const f = form('diff-form', h('h3', {}, 'Diff of two sets'),
                 h('div', {class: 'form-grid'}, withSet.field, against.field),
                 h('button', {type: 'submit', class: 'primary', 'data-action': 'diff'}, 'Diff'));
  return submitInto(f, out, 'Comparing…', async () => diffView(
      await api(`/v1/rulesets/${encodeURIComponent(withSet.input.value)}/diff`,
                {method: 'POST', query: {against: against.input.value}, body: {}})));
}

// ---- impact -------------------------------------------------------------------------

function impactView(im) {
  const table = (title, rows, columns, rowId) => [h('h4', {}, `${title} (${rows.length})`),
    rows.length ? simpleTable({rows, columns, rowId}) : h('p', {class: 'muted'}, 'None.')];
  const rule = {key: 'rule', label: 'Rule', render: (r) => h('code', {}, r.rule || '—')};
  return h('div', {'data-testid': 'impact'},
    h('p', {}, `Adopting ${im.ruleset.id} from ${fmtTime(im.from)} (now ${fmtTime(im.now)}).`),
    table('Per org', im.orgs || [], [
      {key: 'org', label: 'Org'}, {key: 'leases', label: 'Leases refused'},
      {key: 'running', label: 'Jobs to move or stop'}, {key: 'queued', label: 'Queued, nowhere'},
      {key: 'datasets', label: 'Datasets'}], (r) => r.org),
    table('Leases refused', im.leases || [], [
      {key: 'lease', label: 'Lease'}, {key: 'org', label: 'Org'}, {key: 'pool', label: 'Pool'},
      {key: 'gpus', label: 'GPUs'}, {key: 'from', label: 'From', render: (r) => fmtTime(r.from)},
      {key: 'outcome', label: 'Outcome'}, rule], (r) => r.lease),
    table('Running jobs', im.running || [], [
      {key: 'job', label: 'Job'}, {key: 'org', label: 'Org'}, {key: 'pool', label: 'Pool'},
      {key: 'gpus', label: 'GPUs'},
      {key: 'checkpoint_by', label: 'Checkpoint by', render: (r) => fmtTime(r.checkpoint_by)},
      {key: 'could_go', label: 'Could move to', render: (r) => (r.could_go.length
          ? r.could_go.join(', ') : 'nowhere: stops')}, rule], (r) => r.job),
    table('Queued jobs with nowhere to run', im.queued || [], [
      {key: 'job', label: 'Job'}, {key: 'org', label: 'Org'},
      {key: 'nowhere_from', label: 'From', render: (r) => fmtTime(r.nowhere_from)}, rule],
    (r) => r.job),
    h('details', {}, h('summary', {}, `Weeks at risk (${(im.weeks || []).length})`),
      table('GPU-hours and money a week', im.weeks || [], [
      {key: 'week', label: 'Week'}, {key: 'lease_gpu_hours', label: 'Lease GPU-h'},
      {key: 'lease_money', label: 'Lease money'}, {key: 'job_gpu_hours', label: 'Job GPU-h'},
      {key: 'job_money', label: 'Job money'}], (r) => r.week)));
}

function impactForm(set, out) {
  const from = field({name: 'from', label: 'Takes effect from (empty: now)',
                      value: planned.get(set.id) || set.effective || ''});
  const f = form('impact-form', h('h4', {}, 'Impact on the fleet'), from.field,
                 h('button', {type: 'submit', 'data-action': 'impact'}, 'Weigh the impact'));
  return submitInto(f, out, 'Weighing…', async () => impactView(
      await api(`/v1/rulesets/${encodeURIComponent(set.id)}/impact`,
                {method: 'POST', body: {from: instantOrNull(from.input.value)}})));
}

// ---- push (and propose) -------------------------------------------------------------

// "name = value" lines into {name: value}.
function parseParams(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([^=\s]+)\s*=\s*(.+?)\s*$/);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// A new set: the packs of an existing set plus one file typed here, pushed as
// a draft and proposed at once (POST /v1/rulesets, then /propose).
function proposeForm(sets, onDone) {
  const base = field({name: 'base', label: 'Start from the packs of', type: 'select',
                      options: [['', '(none)'], ...sets.map((s) => [s.id, `${s.id} · ${s.name}`])],
                      value: (sets.find((s) => s.state === 'adopted') || {}).id});
  const name = field({name: 'name', label: 'Name of the new set', required: true});
  const pack = field({name: 'pack', label: 'Pack', value: 'console'});
  const file = field({name: 'file', label: 'File', value: 'added.rules'});
  const text = field({name: 'text', label: 'Rules (the file\u2019s text)', type: 'textarea',
                      attrs: {rows: 8, spellcheck: 'false'}});
  const effective = field({name: 'effective', label: 'To take effect from',
                           help: 'A date or an instant, UTC; weighed and adopted from then.'});
  const params = field({name: 'params', label: 'Params (one "name = value" a line)',
                        type: 'textarea', attrs: {rows: 2, spellcheck: 'false'}});
  text.field.classList.add('wide');
  params.field.classList.add('wide');
  const f = form('propose-form', h('h3', {}, 'Push and propose a rule set'),
    h('div', {class: 'form-grid'}, name.field, base.field, effective.field, pack.field,
      file.field, text.field, params.field),
    h('button', {type: 'submit', class: 'primary', 'data-action': 'propose'}, 'Push and propose'));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(f, null);
    try {
      const packs = [];
      if (base.input.value) {
        const from = await api(`/v1/rulesets/${encodeURIComponent(base.input.value)}`);
        packs.push(...from.packs.map((p) => ({name: p.name, files: p.files})));
      }
      if (text.input.value.trim()) {
        packs.push({name: pack.input.value.trim(), files: {[file.input.value.trim()]: text.input.value}});
      }
      const set = await api('/v1/rulesets', {method: 'POST', body: {
        name: name.input.value.trim(), packs, params: parseParams(params.input.value)}});
      await api(`/v1/rulesets/${encodeURIComponent(set.id)}/propose`, {method: 'POST'});
      if (effective.input.value.trim()) planned.set(set.id, effective.input.value.trim());
      f.reset();
      await onDone(set.id);
    } catch (err) {
      showFormError(f, err);
    }
  });
  return f;
}

// ---- may org X ... ? ----------------------------------------------------------------

function decisionView(d) {
  return h('div', {class: 'decision', 'data-testid': 'decision', 'data-outcome': d.decision,
                   role: 'status'},
    h('p', {}, h('strong', {class: `badge outcome-${d.decision}`}, d.decision), ` to ${d.action} at `,
      fmtTime(d.at), d.valid_until ? ` (holds until ${fmtTime(d.valid_until)})` : '',
      d.ruleset ? h('span', {class: 'muted'}, ` · rule set ${d.ruleset.slice(0, 12)}`) : null),
    d.rules.length ? h('ul', {class: 'decision-rules'}, d.rules.map((r) => h('li', {'data-id': r.id},
      h('code', {}, r.id), ` ${r.effect}: ${r.title}`,
      r.licence ? ` (licence ${r.licence}${r.lifted_by ? ', held: ' + r.lifted_by : ''})` : '',
      h('div', {class: 'citation'}, 'Source: ', r.source))))
      : h('p', {class: 'muted'}, 'No rule matched: the default applies.'),
    (d.obligations || []).length ? h('p', {}, 'Obligations: ', d.obligations.join('; ')) : null);
}

async function decideForm(who) {
  // Suggestions only: a list the role may not read leaves its field free text.
  const ids = (items) => items.map((x) => x.id);
  const [orgs, pools, chips, sites] = await Promise.all([
    fetchAll('/v1/orgs').then(ids, () => []), fetchAll('/v1/pools').then(ids, () => []),
    api('/v1/chips').then((a) => ids(a.items || []), () => []),  // one page, no paging
    fetchAll('/v1/sites').then(ids, () => [])]);
  const action = field({name: 'action', label: 'May', type: 'select', value: 'run',
                        options: [['run', 'run a job'], ['lease', 'lease GPUs'],
                                  ['ship', 'ship chips']]});
  const tenant = ['tenant-admin', 'engineer'].includes(who.role);
  const org = suggestField({name: 'org', label: 'Org', value: tenant ? who.org : '',
                            attrs: tenant ? {readonly: true} : {}}, tenant ? [who.org] : orgs);
  const by = suggestField({name: 'by', label: 'Org (shipping)', value: tenant ? who.org : '',
                           attrs: tenant ? {readonly: true} : {}}, tenant ? [who.org] : orgs);
  const pool = suggestField({name: 'pool', label: 'On pool'}, pools);
  const chip = suggestField({name: 'chip', label: 'Chip'}, chips);
  const site = suggestField({name: 'site', label: 'To site'}, sites);
  const gpus = field({name: 'gpus', label: 'GPUs', type: 'number', attrs: {min: 1}});
  const at = field({name: 'at', label: 'On date (empty: now)',
                    help: 'A date (2027-01-01) or an instant, UTC.'});
  const out = h('div', {'aria-live': 'polite'});
  const shown = () => {
    const ship = action.input.value === 'ship';
    for (const f of [org, pool, gpus]) f.field.hidden = ship;
    for (const f of [by, chip, site]) f.field.hidden = !ship;
  };
  action.input.addEventListener('change', shown);
  shown();
  const f = form('decide-form', h('h3', {}, 'May an org run, lease or ship here?'),
    h('div', {class: 'form-grid'}, action.field, org.field, by.field, pool.field, chip.field,
      site.field, gpus.field, at.field),
    h('button', {type: 'submit', class: 'primary', 'data-action': 'decide'}, 'Ask'));
  submitInto(f, out, null, async () => {
    const a = action.input.value;
    const body = {action: a, at: instantOrNull(at.input.value)};
    if (a === 'ship') {
      Object.assign(body, {chip: chip.input.value.trim(), site: site.input.value.trim(),
                           by: by.input.value.trim() || undefined});
    } else {
      Object.assign(body, {org: org.input.value.trim(), pool: pool.input.value.trim()});
      if (gpus.input.value) body.gpus = Number(gpus.input.value);
    }
    return decisionView(await api('/v1/decisions', {method: 'POST', body}));
  });
  return h('div', {}, f, out);
}

// ---- the page -----------------------------------------------------------------------

export async function render(root, params, {who}) {
  usePagesStyles();
  const tableSlot = h('div');
  const detail = h('section', {class: 'card', 'data-testid': 'ruleset-detail', hidden: true,
                               'aria-live': 'polite'});
  const timeline = h('div', {'data-testid': 'rules-timeline'});
  const diffOut = h('div', {'aria-live': 'polite'});
  const formsSlot = h('div');
  let sets = [];

  async function showSet(id) {
    history.replaceState(null, '', `#/rules/${encodeURIComponent(id)}`);
    detail.hidden = false;
    try {
      const set = await api(`/v1/rulesets/${encodeURIComponent(id)}`);
      const impactOut = h('div', {'aria-live': 'polite'});
      replace(detail, h('h2', {}, `Rule set ${set.id}: ${set.name} `, stateBadge(set.state),
                        set.in_force ? h('span', {class: 'badge state-active'}, 'in force') : null),
        h('dl', {class: 'kv'},
          h('dt', {}, 'From'), h('dd', {}, fmtTime(set.effective)),
          h('dt', {}, 'Hash'), h('dd', {}, h('code', {}, set.hash)),
          h('dt', {}, 'Pushed'), h('dd', {}, byAt(set.created_by, set.created_at)),
          h('dt', {}, 'Proposed'), h('dd', {}, byAt(set.proposed_by, set.proposed_at)),
          h('dt', {}, 'Adopted'), h('dd', {}, byAt(set.adopted_by, set.adopted_at)),
          h('dt', {}, 'Retired'), h('dd', {}, byAt(set.retired_by, set.retired_at)),
          h('dt', {}, 'Params'), h('dd', {}, Object.entries(set.params || {})
                                              .map(([k, v]) => `${k} = ${v}`).join('; ') || '—')),
        setActions(set, who, refreshAll),
        analyst(who) && set.state !== 'retired' ? [impactForm(set, impactOut), impactOut] : null,
        packsView(set));
      detail.scrollIntoView({block: 'nearest'});
    } catch (e) {
      replace(detail, errorBox(e));
    }
  }

  async function refreshAll(showId) {
    const asked = fetchChanges(365);
    sets = await fetchAll('/v1/rulesets');
    replace(tableSlot, setsTable(sets, showSet));
    replace(formsSlot,
            analyst(who) && sets.length ? [diffForm(sets, diffOut), diffOut] : null,
            can.changeRules(who) ? proposeForm(sets, refreshAll) : null);
    await drawTimeline(timeline, sets, 365, asked).catch((e) => replace(timeline, errorBox(e)));
    if (showId) await showSet(showId);
  }

  const decideSlot = h('div');
  replace(root, h('h1', {}, 'Rules'),
    h('p', {class: 'muted'}, analyst(who) ? 'Every rule set, its state and who moved it.'
        : 'The rule sets in force and those adopted for a later date.'),
    tableSlot, detail,
    h('h2', {}, 'Dated changes in the year ahead'), timeline,
    formsSlot,
    h('h2', {}, 'Ask a question'), decideSlot);
  // The question form's lists and the rule sets load side by side.
  await Promise.all([decideForm(who).then((f) => replace(decideSlot, f)), refreshAll(params.id)]);
  ready(root);
}
