// Leases: a Gantt chart per pool (one row a lease, today marked, bars
// coloured by org, the planned checkpoints and moves of GET /v1/upcoming as
// ticks with a tooltip), the list of leases with Terminate where the role
// may, and quote-then-create: POST /v1/leases/quote shows the policy decision
// (rules, citations), price and free capacity; only then Confirm creates.
import {
  add, api, can, dataTable, decisionView, errorBox, fetchAll, field, fmtGpus, fmtTime, h, poll, ready,
  replace, showFormError,
} from '../core.js';

const POLL_MS = 5000;
const DAY = 86400e3;
// Colour-blind-safe palette (Okabe–Ito, darkened for white text contrast).
const PALETTE = ['#0b5cad', '#b35900', '#1d7a55', '#a8327a', '#5b4bb0', '#8a6d00', '#2f6f8f', '#a3161a'];

function orgColour(org, orgs) {
  let i = orgs.indexOf(org);
  if (i < 0) i = [...org].reduce((n, c) => n + c.charCodeAt(0), 0);
  return PALETTE[i % PALETTE.length];
}

// The moves planned on the leases: lease ends and rule changes of /v1/upcoming
// that will checkpoint and move (or stop) jobs of a lease's org on its pool.
// Indexed once (by lease id and by pool+org), not searched per lease.
function movesIndex(upcoming) {
  const byLease = new Map();
  const byPoolOrg = new Map();
  const push = (map, k, v) => {
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(v);
  };
  upcoming.forEach((item, i) => {
    if (item.kind === 'lease_end' && item.lease) push(byLease, item.lease, i);
    const seen = new Set();
    for (const j of item.jobs || []) {
      const k = j.pool + '\u0000' + j.org;
      if (!seen.has(k)) {
        seen.add(k);
        push(byPoolOrg, k, i);
      }
    }
  });
  return (lease) => {
    const at = [...new Set([...(byLease.get(lease.id) || []),
                            ...(byPoolOrg.get(lease.pool + '\u0000' + lease.org) || [])])].sort((a, b) => a - b);
    return at.map((i) => {
      const item = upcoming[i];
      const jobs = (item.jobs || []).filter((j) => j.pool === lease.pool && j.org === lease.org);
      return {at: item.at, title: `${fmtTime(item.at)} ${item.title || item.kind}` +
        (jobs.length ? ': ' + jobs.map((j) => `${j.job} ${j.action.replace(/_/g, ' ')}`).join(', ')
                     : ': no job to move')};
    });
  };
}

function ganttFor(pool, leases, movesOn, orgs, from, to, now) {
  const ROW = 22;
  const LEFT = 150;
  const WIDTH = 900;
  const AXIS = 22;
  const span = to - from;
  const x = (t) => LEFT + ((Math.min(Math.max(t, from), to) - from) / span) * (WIDTH - LEFT - 10);
  const height = AXIS + leases.length * ROW + 6;
  const ticks = [];
  // Month ticks on the axis.
  const d = new Date(from);
  d.setUTCDate(1);
  d.setUTCHours(0, 0, 0, 0);
  for (d.setUTCMonth(d.getUTCMonth() + 1); d.getTime() < to; d.setUTCMonth(d.getUTCMonth() + 1)) {
    const t = d.getTime();
    // A month's label would overprint "today": left out next to it.
    const nearToday = Math.abs(x(t) - x(now)) < 42 && now >= from && now <= to;
    const atEdge = x(t) > WIDTH - 40;  // a label that would be cut by the chart's edge
    ticks.push(h('g', {},
      h('line', {x1: x(t), x2: x(t), y1: AXIS - 4, y2: height, stroke: '#d5d9df'}),
      nearToday || atEdge ? null : h('text', {x: x(t) + 2, y: 12}, d.getUTCMonth() === 0 ? String(d.getUTCFullYear())
        : d.toLocaleString('en-US', {month: 'short', timeZone: 'UTC'}))));
  }
  const rows = leases.map((l, i) => {
    const y = AXIS + i * ROW;
    const s = new Date(l.start).getTime();
    const e = new Date(l.terminated_at || l.end).getTime();
    const colour = orgColour(l.org, orgs);
    const moves = movesOn(l);
    return h('g', {'data-id': l.id, 'data-org': l.org},
      h('text', {x: 4, y: y + 15}, `${l.id} · ${l.org}`),
      h('rect', {x: x(s), y: y + 3, width: Math.max(2, x(e) - x(s)), height: ROW - 6, rx: 3,
                 fill: colour, opacity: l.state === 'terminated' || l.state === 'ended' ? 0.45 : 1},
        h('title', {}, `${l.id}: ${l.org}, ${fmtGpus(l.gpus)}, ${fmtTime(l.start)} → ${fmtTime(l.end)} (${l.state})`)),
      moves.map((m) => {
        const mx = x(new Date(m.at).getTime());
        return h('g', {class: 'move', 'data-testid': 'planned-move'},
          h('title', {}, m.title),
          h('line', {x1: mx, x2: mx, y1: y, y2: y + ROW, stroke: '#1b1f24', 'stroke-width': 3}),
          h('polygon', {points: `${mx - 5},${y} ${mx + 5},${y} ${mx},${y + 6}`, fill: '#1b1f24'}));
      }));
  });
  const today = x(now);
  return h('svg', {class: 'gantt', width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`,
                   role: 'img', 'aria-label': `Leases on ${pool}`},
    h('title', {}, `Leases on ${pool}`),
    ticks, rows,
    now >= from && now <= to ? h('g', {'data-testid': 'today'},
      h('line', {x1: today, x2: today, y1: 0, y2: height, stroke: '#a3161a', 'stroke-width': 2,
                 'stroke-dasharray': '4 3'}),
      h('text', {x: today + 3, y: 12, fill: '#a3161a', 'font-weight': 'bold'}, 'today')) : null);
}

// A legend swatch: SVG, since the CSP forbids style attributes.
function swatch(colour) {
  return h('svg', {width: 12, height: 12, class: 'swatch-svg', 'aria-hidden': 'true'},
           h('rect', {width: 12, height: 12, rx: 2, fill: colour}));
}

// Pools drawn a page at a time (a Gantt chart is a few hundred SVG nodes: a
// fleet of 1,000 pools at once would take seconds), filtered by pool or org.
const POOLS_PER_PAGE = 20;

function drawGantt(slot, leases, upcoming, now, view) {
  const byPool = new Map();
  for (const l of leases) {
    if (!byPool.has(l.pool)) byPool.set(l.pool, []);
    byPool.get(l.pool).push(l);
  }
  const orgs = [...new Set(leases.map((l) => l.org))].sort();
  let from = now - 30 * DAY;
  let to = now + 90 * DAY;
  for (const l of leases) {
    from = Math.min(from, new Date(l.start).getTime());
    to = Math.max(to, new Date(l.end).getTime());
  }
  // Keep the chart readable: at most a quarter back and a year and a half ahead.
  from = Math.max(from, now - 90 * DAY);
  to = Math.min(to, now + 540 * DAY);
  const q = (view.q || '').trim().toLowerCase();
  const pools = [...byPool.keys()].sort().filter((p) => !q || p.toLowerCase().includes(q) ||
    byPool.get(p).some((l) => l.org.toLowerCase().includes(q)));
  const pages = Math.max(1, Math.ceil(pools.length / POOLS_PER_PAGE));
  view.page = Math.min(Math.max(0, view.page || 0), pages - 1);
  const shown = pools.slice(view.page * POOLS_PER_PAGE, (view.page + 1) * POOLS_PER_PAGE);
  const movesOn = movesIndex(upcoming);
  const shownOrgs = new Set(shown.flatMap((p) => byPool.get(p).map((l) => l.org)));
  const pager = () => (pools.length > POOLS_PER_PAGE ? h('div', {class: 'pager'},
    h('button', {type: 'button', 'data-action': 'prev-pools', disabled: view.page <= 0,
                 onclick: () => view.go(view.page - 1)}, '← Previous pools'),
    h('span', {}, `Pools ${view.page * POOLS_PER_PAGE + 1}–` +
      `${view.page * POOLS_PER_PAGE + shown.length} of ${pools.length.toLocaleString('en-US')}`),
    h('button', {type: 'button', 'data-action': 'next-pools', disabled: view.page >= pages - 1,
                 onclick: () => view.go(view.page + 1)}, 'Next pools →')) : null);
  replace(slot,
    h('div', {class: 'legend'}, orgs.filter((o) => shownOrgs.has(o)).map((o) => h('span', {}, swatch(orgColour(o, orgs)), o)),
      h('span', {}, '▼ planned checkpoint/move (hover for the jobs)')),
    pager(),
    shown.length ? shown.map((p) => h('div', {class: 'gantt-pool', 'data-id': p},
      h('h3', {}, p),
      h('div', {class: 'scroll-x', tabindex: '0', role: 'region', 'aria-label': `Leases on ${p}`},
        ganttFor(p, byPool.get(p).sort((a, b) => a.start.localeCompare(b.start)), movesOn, orgs, from, to, now))))
      : h('p', {class: 'muted'}, q ? 'No pool or org matches.' : 'No leases.'),
    shown.length > 5 ? pager() : null);
}

// Every lease the caller sees, in pages as large as the server gives.
async function allLeases() {
  const items = [];
  let after;
  do {
    let page;
    try {
      page = await api('/v1/leases', {query: {limit: 1000, after}});
    } catch (e) {
      // A server with a smaller --max-items: its default paging.
      if (e.status === 400 && e.field === 'limit') return fetchAll('/v1/leases', {}, 20000);
      throw e;
    }
    items.push(...(page.items || []));
    after = page.next;
  } while (after && items.length < 20000);
  return items;
}

// The list of leases, server-paged: GET /v1/leases pages by cursor (after),
// so the cursor of each page reached is kept by offset (filters start over).
function leasesTable(who, onChanged, errSlot) {
  let cursors = new Map([[0, undefined]]);
  let lastFilters = '';
  const fetchPage = async ({offset, limit, filters}) => {
    const key = JSON.stringify(filters);
    if (key !== lastFilters) {
      lastFilters = key;
      cursors = new Map([[0, undefined]]);
    }
    if (!cursors.has(offset)) offset = 0;
    const query = {limit, after: cursors.get(offset)};
    for (const [k, v] of Object.entries(filters)) if ((v || '').trim()) query[k] = v.trim();
    const page = await api('/v1/leases', {query});
    if (page.next) cursors.set(offset + limit, page.next);
    const items = page.items || [];
    return {items, total: offset + items.length + (page.next ? 1 : 0)};
  };
  return dataTable({
    testid: 'leases-table', pageSize: 50, fetchPage, empty: 'No leases.',
    filters: [
      {name: 'pool', label: 'Pool'},
      ...(who.role === 'admin' || !who.org ? [{name: 'org', label: 'Org'}] : []),
      {name: 'state', label: 'State', type: 'select', options: [['', 'any'], 'active', 'ended', 'terminated']},
    ],
    columns: [
      {key: 'id', label: 'Lease'}, {key: 'org', label: 'Org'}, {key: 'pool', label: 'Pool'},
      {key: 'gpus', label: 'GPUs', render: (l) => String(l.gpus)},
      {key: 'start', label: 'Start', render: (l) => fmtTime(l.start)},
      {key: 'end', label: 'End', render: (l) => fmtTime(l.end)},
      {key: 'price', label: 'Price /GPU-h', render: (l) => l.price_per_gpu_hour},
      {key: 'state', label: 'State', render: (l) => h('span', {class: 'badge state-' + l.state}, l.state)},
      {key: 'actions', label: '', render: (l) => (can.terminateLeases(who) && l.state !== 'terminated' && l.state !== 'ended'
        ? h('button', {type: 'button', class: 'danger small', 'data-action': 'terminate', onclick: async (e) => {
            if (!confirm(`Terminate lease ${l.id}? Jobs on it will be checkpointed and moved.`)) return;
            e.target.disabled = true;
            try {
              await api(`/v1/leases/${encodeURIComponent(l.id)}/terminate`, {method: 'POST'});
              replace(errSlot);
              onChanged();
            } catch (err) {
              replace(errSlot, errorBox(err));
              e.target.disabled = false;
            }
          }}, 'Terminate')
        : '')},
    ]});
}

// datetime-local values are read as UTC (the console speaks UTC throughout).
function isoFromLocal(v) {
  return v ? new Date(v + ':00Z').toISOString().replace('.000Z', 'Z') : undefined;
}
function localFromMs(ms) {
  return new Date(ms).toISOString().slice(0, 16);
}

function quoteForm(who, pools, orgs, onCreated) {
  const start = Math.ceil(Date.now() / 3600e3) * 3600e3 + 3600e3;
  const fields = [
    who.role === 'admin' ? field({name: 'org', label: 'Org', type: 'select', options: orgs, required: true}) : null,
    field({name: 'pool', label: 'Pool', type: 'select', options: pools, required: true}),
    field({name: 'gpus', label: 'GPUs', type: 'number', value: 8, required: true, attrs: {min: 1, step: 1}}),
    field({name: 'start', label: 'Start (UTC)', type: 'datetime-local', value: localFromMs(start), required: true}),
    field({name: 'end', label: 'End (UTC)', type: 'datetime-local', value: localFromMs(start + 30 * DAY), required: true}),
  ].filter(Boolean);
  const result = h('div', {'aria-live': 'polite'});
  const form = h('form', {'data-testid': 'lease-quote-form', class: 'card', novalidate: true},
    h('h2', {}, 'Quote a lease'),
    who.role !== 'admin' && who.org ? h('p', {class: 'muted'}, `For org ${who.org}.`) : null,
    h('div', {class: 'form-grid'}, fields.map((f) => f.field)),
    h('div', {class: 'form-error'}),
    h('button', {type: 'submit', class: 'primary', 'data-action': 'quote'}, 'Quote'),
    result);
  const body = () => {
    const get = (n) => form.elements.namedItem(n);
    const b = {pool: get('pool').value, gpus: Number(get('gpus').value),
               start: isoFromLocal(get('start').value), end: isoFromLocal(get('end').value)};
    if (get('org')) b.org = get('org').value;
    return b;
  };
  // A changed form invalidates the quote: Confirm must follow the decision shown.
  form.addEventListener('input', () => result.replaceChildren());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(form, null);
    result.replaceChildren();
    const ask = body();
    let q;
    try {
      q = await api('/v1/leases/quote', {method: 'POST', body: ask});
    } catch (err) {
      showFormError(form, err);
      return;
    }
    const outcome = q.decision && q.decision.decision;
    const allowed = outcome === 'allow';
    const enough = q.available_gpus >= ask.gpus;
    const createSlot = h('div', {'aria-live': 'polite'});
    const confirmBtn = can.createLeases(who) && allowed && enough
      ? h('button', {type: 'button', class: 'primary', 'data-action': 'create', onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            const lease = await api('/v1/leases', {method: 'POST', body: ask});
            replace(createSlot, h('p', {class: 'notice', 'data-testid': 'created', 'data-id': lease.id},
                                  `Lease ${lease.id} created (${lease.state}).`));
            onCreated(lease);
          } catch (err) {
            replace(createSlot, errorBox(err), err.details && err.details.decision ? decisionView(err.details.decision) : null);
            ev.target.disabled = false;
          }
        }}, `Confirm: lease ${ask.gpus} GPUs`)
      : null;
    replace(result, h('div', {class: 'quote', 'data-testid': 'quote'},
      h('h3', {}, 'Quote'),
      h('p', {}, `${fmtGpus(q.gpus)} of ${q.pool} for ${q.org}, ${fmtTime(q.start)} → ${fmtTime(q.end)}: `,
        h('strong', {}, q.total), ` (${q.price_per_gpu_hour} per GPU-hour). `,
        `${fmtGpus(q.available_gpus)} free over the whole window.`),
      decisionView(q.decision, {title: 'Policy decision'}),
      !enough ? h('p', {class: 'error', 'data-testid': 'error'}, 'Not enough free GPUs over that window.') : null,
      !allowed ? h('p', {class: 'muted'}, 'The policy does not allow this lease as asked; nothing to confirm.') : null,
      allowed && enough && !can.createLeases(who) ? h('p', {class: 'muted'}, `A ${who.role} may quote but not create leases.`) : null,
      confirmBtn, createSlot));
  });
  return form;
}

export async function render(root, params, {who}) {
  const errSlot = h('div');
  const gantt = h('div', {'data-testid': 'leases-gantt'});
  const poolFilter = field({name: 'q', label: 'Pool or org', help: 'shows the pools whose name, or a lease\u2019s org, contains it'});
  const table = leasesTable(who, () => refresh(), errSlot);
  add(root, h('h1', {}, 'Leases'), errSlot,
    h('section', {class: 'card'}, h('h2', {}, 'Timeline per pool'),
      h('form', {class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault()}, poolFilter.field),
      gantt),
    h('section', {class: 'card'}, h('h2', {}, 'All leases'), table.el));
  let refresh = () => {};
  let data = null;
  const view = {page: 0, q: '', go: (page) => {
    view.page = page;
    if (data) drawGantt(gantt, data.leases, data.up, Date.now(), view);
  }};
  let debounce = null;
  poolFilter.input.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      view.q = poolFilter.input.value;
      view.go(0);
    }, 200);
  });
  // The quote form's lists (a thousand pools) load once the leases are drawn.
  const loadForm = () => {
    if (!can.quoteLeases(who)) return;
    const slot = h('div');
    root.appendChild(slot);
    Promise.all([
      fetchAll('/v1/pools').then((ps) => ps.filter((p) => !p.owner && !p.retired_at).map((p) => p.id)).catch(() => []),
      who.role === 'admin' ? fetchAll('/v1/orgs').then((os) => os.map((o) => o.id)).catch(() => []) : [],
    ]).then(([pools, orgs]) => replace(slot, quoteForm(who, pools, orgs, () => refresh())));
  };
  let last = '';
  let first = true;
  const draw = (leases, up) => {
    const key = JSON.stringify([leases, up]);
    if (key === last) return;
    last = key;
    data = {leases, up};
    drawGantt(gantt, leases, up, Date.now(), view);
  };
  const load = async () => {
    try {
      // /v1/upcoming (a year of planned moves) is the slow one: the first
      // drawing does not wait for it; its ticks are drawn when it answers.
      // The server answers the leases first, then is asked for the rest.
      const upcoming = () => api('/v1/upcoming', {query: {days: 365}}).then((u) => u.items || [], () => []);
      const later = first ? null : upcoming();
      const [leases] = await Promise.all([allLeases(), table.reload()]);
      replace(errSlot);
      if (first) {
        draw(leases, []);
        first = false;
        ready(root);
        loadForm();
      }
      draw(leases, await (later || upcoming()));
    } catch (e) {
      replace(errSlot, errorBox(e));
      if (first) {
        first = false;
        ready(root);
        loadForm();
      }
    }
  };
  refresh = load;
  poll(load, POLL_MS, root);
}
