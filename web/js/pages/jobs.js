// Jobs: the server-paged list (GET /v1/jobs: filters org, team, state, site,
// chip, q; sort, order, offset, limit), refreshed every 5 s, its view kept in
// the hash query so that a link reproduces it; and the submit form for the
// roles that may submit (admin, tenant-admin, engineer).
import {
  add, api, ApiError, can, dataTable, fetchAll, field, fmtTime, h, poll, ready,
  setHashQuery, showFormError,
} from '../core.js';

const POLL_MS = 5000;
const PAGE = 50;
export const JOB_STATES = ['queued', 'assigned', 'running', 'checkpointing', 'succeeded', 'failed',
                           'cancelled'];
const FILTERS = ['org', 'team', 'state', 'site', 'chip', 'q'];

// The list as the API pages it. A server without the console's sort and
// filters (before GET /v1/jobs gained them) refuses the new query keys with
// 400: the page then falls back to the old cursor paging, unsorted.
let legacy = false;
async function fetchJobs({offset, limit, sort, order, filters}) {
  if (!legacy) {
    try {
      return await api('/v1/jobs', {query: {...filters, sort: sort || 'id', order, offset, limit}});
    } catch (e) {
      const newKeys = ['sort', 'order', 'offset', 'site', 'chip', 'q', 'pool'];
      if (!(e instanceof ApiError && e.status === 400 && newKeys.includes(e.field))) throw e;
      legacy = true;
    }
  }
  const {org, team, state} = filters;
  const items = [];
  let after;
  // Walk the cursor to the page wanted (old servers only; small worlds).
  for (;;) {
    const page = await api('/v1/jobs', {query: {org, team, state, after, limit: 1000}});
    items.push(...(page.items || []));
    if (!page.next) break;
    after = page.next;
  }
  return {items: items.slice(offset, offset + limit), total: items.length};
}

export function stateBadge(state) {
  return h('span', {class: 'badge state-' + state}, state);
}

function placeOf(job) {
  const p = job.placement;
  if (!p) return '—';
  return h('span', {}, p.pool || '', p.site ? h('div', {class: 'muted'}, p.site) : null);
}

function waitingOf(job) {
  if (!job.waiting) return '—';
  return h('span', {}, job.waiting.reason,
           job.waiting.rule && !job.waiting.reason.includes(job.waiting.rule)
             ? h('span', {class: 'muted'}, ` [rule ${job.waiting.rule}]`) : null);
}

const COLUMNS = [
  {key: 'id', label: 'Job', sort: 'id',
   render: (j) => h('a', {href: '#/jobs/' + encodeURIComponent(j.id)}, j.id)},
  // State second: on a narrow screen it is what shows beside the id.
  {key: 'state', label: 'State', sort: 'state', render: (j) => stateBadge(j.state)},
  {key: 'name', label: 'Name', sort: 'name', render: (j) => (j.spec && j.spec.name) || j.name || '—'},
  {key: 'org', label: 'Org', sort: 'org'},
  {key: 'team', label: 'Team'},
  {key: 'gpus', label: 'GPUs', sort: 'gpus', render: (j) => String((j.spec && j.spec.gpus) ?? '—')},
  {key: 'pool', label: 'Pool (site)', sort: 'site', render: placeOf},
  {key: 'reason', label: 'Waiting because', render: waitingOf},
  {key: 'position', label: 'Queue #', sort: 'position',
   render: (j) => (j.queue_position === null || j.queue_position === undefined ? '—' : String(j.queue_position))},
  {key: 'submitted', label: 'Submitted', sort: 'submitted',
   // Month-day and time; the whole instant in the tooltip.
   render: (j) => h('time', {datetime: j.submitted_at, title: fmtTime(j.submitted_at)},
                    fmtTime(j.submitted_at).slice(5, 16))},
];

async function options(path) {
  try {
    // The chips come whole (GET /v1/chips takes no paging query).
    const items = path === '/v1/chips' ? (await api(path)).items || [] : await fetchAll(path);
    return items.map((x) => x.id);
  } catch {
    return [];  // a list the role may not read: the filter stays free text
  }
}

function filterSpecs(who, orgs, sites, chips) {
  const select = (name, label, values) => (values.length
    ? {name, label, type: 'select', options: [['', 'any'], ...values]}
    : {name, label});
  const specs = [];
  if (!who.org) specs.push(select('org', 'Org', orgs));
  specs.push({name: 'team', label: 'Team'});
  specs.push(select('state', 'State', JOB_STATES));
  specs.push(select('site', 'Site', sites));
  specs.push(select('chip', 'Chip', chips));
  specs.push({name: 'q', label: 'Search id or name', type: 'search'});
  return specs;
}

// The submit form: fields as POST /v1/jobs names them; the API's error is
// shown next to the field it names.
function submitForm(who, orgs, chips, onSubmitted) {
  const f = (spec) => field(spec);
  const fields = [
    f({name: 'name', label: 'Name', required: true, attrs: {maxlength: 256}}),
    who.role === 'admin'
      ? f({name: 'org', label: 'Org', type: 'select', options: orgs, required: true})
      : null,
    f({name: 'team', label: 'Team', value: 'default'}),
    f({name: 'gpus', label: 'GPUs', type: 'number', required: true, value: 8, attrs: {min: 1, step: 1}}),
    f({name: 'work', label: 'Work (GPU-hours)', type: 'number', required: true, value: 100,
       attrs: {min: 0.000001, step: 'any'}, help: 'on the reference chip'}),
    f({name: 'eligible_chips', label: 'Eligible chips', type: 'select', options: chips,
       attrs: {multiple: true, size: Math.min(5, Math.max(chips.length, 2))},
       help: 'none selected: any chip'}),
    f({name: 'checkpoint_interval', label: 'Checkpoint interval', value: 'PT2H',
       help: 'ISO 8601 duration, e.g. PT30M'}),
    f({name: 'priority', label: 'Priority', type: 'number', value: 0, attrs: {min: -1000, max: 1000, step: 1}}),
    f({name: 'command', label: 'Command', type: 'textarea', rows: 2,
       help: 'a shell command the agent runs, e.g. straits-train --steps 40 --step-ms 250'}),
  ].filter(Boolean);
  const fixedOrg = who.role !== 'admin' && who.org
    ? h('p', {class: 'muted'}, `Submitted for org ${who.org}.`) : null;
  const result = h('div', {'aria-live': 'polite'});
  const form = h('form', {'data-testid': 'submit-job-form', class: 'card', novalidate: true},
    h('h2', {}, 'Submit a job'), fixedOrg,
    h('div', {class: 'form-grid'}, fields.map((x) => {
      if (['command'].includes(x.input.name)) x.field.classList.add('wide');
      return x.field;
    })),
    h('div', {class: 'form-error'}), result,
    h('button', {type: 'submit', class: 'primary', 'data-action': 'submit'}, 'Submit'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(form, null);
    result.replaceChildren();
    const get = (n) => form.elements.namedItem(n);
    const body = {
      name: get('name').value.trim(),
      team: get('team').value.trim() || undefined,
      gpus: Number(get('gpus').value),
      work: Number(get('work').value),
      checkpoint_interval: get('checkpoint_interval').value.trim() || undefined,
      priority: Number(get('priority').value || 0),
    };
    if (get('org')) body.org = get('org').value;
    const chosen = [...get('eligible_chips').selectedOptions].map((o) => o.value);
    if (chosen.length) body.eligible_chips = chosen;
    const command = get('command').value.trim();
    if (command) body.command = command;
    if (!body.name) delete body.name;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const job = await api('/v1/jobs', {method: 'POST', body});
      result.replaceChildren(h('p', {class: 'notice', 'data-testid': 'submitted', 'data-id': job.id},
        'Submitted ', h('a', {href: '#/jobs/' + encodeURIComponent(job.id)}, job.id), ` (${job.state}).`));
      onSubmitted(job);
    } catch (err) {
      showFormError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function render(root, params, {who}) {
  const q = params.query || {};
  const filters = {};
  for (const k of FILTERS) if (q[k]) filters[k] = q[k];
  const start = {sort: q.sort || 'id', order: q.order === 'desc' ? 'desc' : 'asc',
                 offset: Math.max(0, Number(q.offset) || 0), limit: PAGE, filters};
  // The first page is asked for at once, beside the filters' lists: the
  // page is drawn after one round trip, not two.
  let firstPage = fetchJobs(start);
  firstPage.catch(() => {});
  const [orgs, sites, chips] = await Promise.all([
    who.org ? Promise.resolve([who.org]) : options('/v1/orgs'),
    options('/v1/sites'), options('/v1/chips')]);
  const table = dataTable({
    columns: COLUMNS, testid: 'jobs-table', pageSize: PAGE,
    filters: filterSpecs(who, orgs, sites, chips), filterTestid: 'jobs-filter-form',
    state: start,
    fetchPage: (state) => {
      const early = firstPage;
      firstPage = null;
      return early || fetchJobs(state);
    },
    empty: 'No jobs match.',
    onState: (s) => setHashQuery({...s.filters, sort: s.sort !== 'id' ? s.sort : '',
                                  order: s.order !== 'asc' ? s.order : '', offset: s.offset || ''}),
  });
  add(root,
    h('div', {class: 'row'}, h('h1', {}, 'Jobs'),
      can.submitJobs(who) ? h('button', {type: 'button', class: 'small', onclick: () => {
        const first = root.querySelector('[data-testid="submit-job-form"] input');
        first.scrollIntoView({block: 'center'});
        first.focus();
      }}, 'Submit a job ↓') : null),
    table.el,
    can.submitJobs(who) ? submitForm(who, orgs, chips, () => table.reload().catch(() => {})) : null);
  let first = true;
  poll(async () => {
    try {
      await table.reload();
    } finally {
      if (first) {
        first = false;
        ready(root);
      }
    }
  }, POLL_MS, root);
}
