// Overview: the fleet by country → site → pool (GET /v1/fleet), what happens
// in the next 30 days (GET /v1/upcoming), and the site agents' health
// (GET /v1/agents). Polled every 5 s; a section is redrawn only when its data
// changed, so reading (and keyboard focus) is not disturbed.
import {
  add, api, ApiError, can, errorBox, fetchAll, fmtAge, fmtGpus, fmtTime, h, poll, ready, replace,
  simpleTable,
} from '../core.js';

const POLL_MS = 5000;
// An agent silent for longer than this is shown stale (agents heartbeat every
// few seconds; docs/agents.md).
const STALE_SECONDS = 60;

// leased / used / free of one pool as a bar: used GPUs, then leased but idle,
// then free. The figures are in its <title> (a tooltip) and in the table.
function usageBar(p) {
  const total = Math.max(p.gpus || 0, 1);
  const used = Math.min(p.used || 0, total);
  const leased = Math.min(Math.max(p.leased || 0, used), total);
  const pct = (n) => (100 * n) / total;
  // Figures the caller may not see (null) are left out of the words, not said as "null".
  const words = [['used', p.used], ['leased', p.leased], ['free', p.free]]
    .filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${v} ${k}`);
  const text = `${words.length ? words.join(', ') + ' of ' : ''}${p.gpus} GPUs`;
  return h('svg', {class: 'bar', viewBox: '0 0 100 10', preserveAspectRatio: 'none',
                   role: 'img', 'aria-label': text},
    h('title', {}, `${p.pool}: ${text}`),
    h('rect', {x: 0, y: 0, width: 100, height: 10, fill: '#dfe3e8'}),
    h('rect', {x: 0, y: 0, width: pct(leased), height: 10, fill: '#3b6fb6'}),
    h('rect', {x: 0, y: 0, width: pct(used), height: 10, fill: '#1f8a4c'}));
}

function sum(pools, key) {
  return pools.reduce((n, p) => n + (Number(p[key]) || 0), 0);
}

function totalsText(pools) {
  // A figure the server left out (null: not the caller's to see, or unknown) is not summed as 0.
  const total = (key) => (pools.some((p) => p[key] === null || p[key] === undefined)
    ? null : sum(pools, key).toLocaleString('en-US'));
  return [fmtGpus(sum(pools, 'gpus')), ...['leased', 'used', 'free'].map((k) => total(k) && `${total(k)} ${k}`)]
    .filter(Boolean).join(' · ');
}

// Beyond this many pools, each site is drawn as one row with its totals and
// a button that shows its pools (a fleet of 1,000 pools at once is slow to
// draw and to read).
const COLLAPSE_OVER = 60;

function poolRow(p, num) {
  return h('tr', {'data-id': p.pool},
    h('td', {}, p.pool), h('td', {class: 'bar-cell'}, usageBar(p)), h('td', {}, p.chip),
    num(p.gpus), num(p.leased), num(p.used), num(p.free), num(p.leases));
}

function fleetTable(fleet, expanded, redraw) {
  const rows = [];
  const num = (v) => h('td', {class: 'num'}, v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US'));
  const count = (fleet.countries || []).reduce((n, c) =>
    n + (c.sites || []).reduce((m, s) => m + (s.pools || []).length, 0), 0);
  const collapse = count > COLLAPSE_OVER;
  for (const country of fleet.countries || []) {
    const countryPools = (country.sites || []).flatMap((s) => s.pools || []);
    rows.push(h('tr', {class: 'group country', 'data-country': country.country},
                h('th', {colspan: 8, scope: 'rowgroup'}, h('span', {}, `${country.country} — ${totalsText(countryPools)}`))));
    for (const site of country.sites || []) {
      const pools = site.pools || [];
      const open = !collapse || expanded.has(site.site);
      const toggle = collapse && pools.length ? h('button', {
        type: 'button', class: 'small', 'data-action': 'toggle-site', 'aria-expanded': String(open),
        onclick: () => {
          if (open) expanded.delete(site.site);
          else expanded.add(site.site);
          redraw(site.site);
        }}, open ? 'Hide pools' : `Show ${pools.length} pools`) : null;
      rows.push(h('tr', {class: 'group site', 'data-site': site.site},
        h('th', {colspan: 8, scope: 'rowgroup'}, h('span', {},
          `${site.name || site.site} (${site.site}${site.operator ? ', ' + site.operator : ''}) — ${totalsText(pools)} `,
          toggle))));
      if (open) for (const p of pools) rows.push(poolRow(p, num));
    }
  }
  if (!rows.length) rows.push(h('tr', {class: 'empty'}, h('td', {colspan: 8}, 'No pools visible to you.')));
  const head = ['Pool', 'Use', 'Chip', 'GPUs', 'Leased', 'Used', 'Free', 'Leases'];
  return h('div', {class: 'scroll-x', tabindex: '0', role: 'region', 'aria-label': 'Fleet'},
    collapse ? h('p', {class: 'muted'}, `${count.toLocaleString('en-US')} pools: each site shows its totals; ` +
      '\u201cShow pools\u201d lists its pools.') : null,
    h('table', {class: 'data fleet', 'data-testid': 'pools-table'},
      h('thead', {}, h('tr', {}, head.map((t, i) =>
        h('th', {scope: 'col', class: i >= 3 ? 'num' : null}, t)))),
      h('tbody', {}, rows)));
}

// The fleet from GET /v1/fleet; from a server without it (404), the same
// shape drawn from the pools, sites and leases the caller sees: capacity and
// leased GPUs, with used left unknown.
async function fetchFleet() {
  try {
    return await api('/v1/fleet');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const [pools, sites, leases] = await Promise.all([
    fetchAll('/v1/pools'), fetchAll('/v1/sites'), fetchAll('/v1/leases')]);
  const now = Date.now();
  const countries = new Map();
  const siteOf = new Map(sites.map((s) => [s.id, s]));
  for (const p of pools.filter((x) => !x.retired_at)) {
    const site = siteOf.get(p.site) || {id: p.site, name: p.site, country: '?'};
    if (!countries.has(site.country)) countries.set(site.country, new Map());
    const bySite = countries.get(site.country);
    if (!bySite.has(site.id)) {
      bySite.set(site.id, {site: site.id, name: site.name, operator: site.operator, pools: []});
    }
    const active = leases.filter((l) => l.pool === p.id && l.state === 'active' &&
                                        new Date(l.start).getTime() <= now);
    const gpus = p.gpus_per_node * p.nodes;
    const leased = active.reduce((n, l) => n + l.gpus, 0);
    bySite.get(site.id).pools.push({pool: p.id, chip: p.chip, gpus, leased, used: null,
                                    free: gpus - leased, leases: active.length});
  }
  return {at: new Date(now).toISOString(), countries: [...countries].sort()
    .map(([country, bySite]) => ({country, sites: [...bySite.values()]}))};
}

function drawFleet(slot, fleet) {
  const tenantNote = (fleet.countries || []).some((c) => (c.sites || []).some((s) =>
    (s.pools || []).some((p) => 'others_leased' in p && p.others_leased === null)));
  // The sites opened stay open when the fleet is redrawn by the poll.
  if (!slot.expandedSites) slot.expandedSites = new Set();
  const tableSlot = h('div');
  const redraw = (focusSite) => {
    replace(tableSlot, fleetTable(fleet, slot.expandedSites, redraw));
    if (focusSite) {
      const b = tableSlot.querySelector(`tr[data-site="${CSS.escape(focusSite)}"] button`);
      if (b) b.focus();
    }
  };
  redraw();
  replace(slot,
    h('div', {class: 'legend'},
      h('span', {}, h('span', {class: 'swatch used'}), 'used by placed jobs'),
      h('span', {}, h('span', {class: 'swatch leased'}), 'leased, idle'),
      h('span', {}, h('span', {class: 'swatch free'}), 'free (not leased)'),
      h('span', {}, 'as of ' + fmtTime(fleet.at))),
    tenantNote ? h('p', {class: 'muted'}, 'Leased and used count your org only; other tenants\u2019 use (and so what is free) is not shown.') : null,
    tableSlot);
}

const ACTION_TEXT = {checkpoint_and_move: 'checkpoint and move', stop: 'stop'};

function upcomingItem(item) {
  const id = item.lease || item.rule || item.ruleset || `${item.kind}-${item.at}`;
  const what = [];
  if (item.pool) what.push('pool ' + item.pool);
  if (item.org) what.push('org ' + item.org);
  const citation = Array.isArray(item.citation) ? item.citation.join('; ') : item.citation;
  const jobs = item.jobs || [];
  return h('li', {'data-id': id, 'data-kind': item.kind},
    h('div', {class: 'row'},
      h('strong', {}, fmtTime(item.at)),
      h('span', {class: 'badge'}, item.kind.replace(/_/g, ' ')),
      h('span', {}, item.title || id)),
    what.length ? h('div', {class: 'muted'}, what.join(' · ')) : null,
    citation ? h('div', {class: 'citation'}, 'Source: ' + citation) : null,
    jobs.length
      ? h('ul', {class: 'jobs'}, jobs.map((j) => h('li', {'data-id': j.job},
          h('a', {href: '#/jobs/' + encodeURIComponent(j.job)}, j.job), ' ',
          j.name ? `“${j.name}” ` : '', `(${j.org}, on ${j.pool}): `,
          h('strong', {}, ACTION_TEXT[j.action] || j.action))))
      : h('div', {class: 'muted'}, 'No running job is affected.'));
}

// The first items of the window are drawn; the rest on demand.
const UPCOMING_FIRST = 50;

function drawUpcoming(slot, up) {
  const items = up.items || [];
  const list = h('ol', {class: 'timeline', 'data-testid': 'upcoming-list'},
    items.length ? items.slice(0, UPCOMING_FIRST).map(upcomingItem)
      : h('li', {class: 'empty'}, 'Nothing ends or changes in the next 30 days.'));
  const more = items.length > UPCOMING_FIRST ? h('button', {type: 'button', 'data-action': 'show-all',
    onclick: () => {
      add(list, items.slice(UPCOMING_FIRST).map(upcomingItem));
      more.remove();
    }}, `Show all ${items.length.toLocaleString('en-US')}`) : null;
  replace(slot,
    h('p', {class: 'muted'}, `From ${fmtTime(up.from)} to ${fmtTime(up.to)}` +
      (more ? `: the first ${UPCOMING_FIRST} of ${items.length.toLocaleString('en-US')}.` : '.')),
    list, more);
}

function drawAgents(slot, agents, now) {
  replace(slot, simpleTable({
    testid: 'agents-table', caption: null, empty: 'No agents registered.', rows: agents,
    columns: [
      {key: 'id', label: 'Agent', render: (a) => a.name && a.name !== a.id ? `${a.id} (${a.name})` : a.id},
      {key: 'sites', label: 'Sites', render: (a) => (a.sites || []).join(', ') || '—'},
      {key: 'backend', label: 'Backend'},
      {key: 'state', label: 'State', render: (a) => h('span', {class: 'badge state-' + a.state}, a.state)},
      {key: 'last_seen', label: 'Last heartbeat', render: (a) => fmtAge(a.last_seen, now)},
      {key: 'health', label: 'Health', render: (a) => {
        const age = (now - new Date(a.last_seen).getTime()) / 1000;
        const healthy = a.state !== 'retired' && Number.isFinite(age) && age <= STALE_SECONDS;
        return h('span', {class: 'badge ' + (healthy ? 'state-healthy' : 'state-stale')},
                 healthy ? 'healthy' : 'silent');
      }},
      {key: 'version', label: 'Version'},
    ],
  }));
}

// Draws a section from a fetch, keeping the last good drawing on error (with the error above it).
function section(title, testid) {
  const body = h('div', {'data-section': testid});
  const err = h('div');
  return {el: h('section', {class: 'card'}, h('h2', {}, title), err, body), body, err, last: ''};
}

async function refresh(sec, fetcher, draw) {
  try {
    const data = await fetcher();
    replace(sec.err);
    const key = JSON.stringify(data);
    if (key !== sec.last) {
      sec.last = key;
      draw(sec.body, data);
    }
  } catch (e) {
    replace(sec.err, errorBox(e));
  }
}

export async function render(root, params, {who}) {
  const fleet = section('Fleet', 'fleet');
  const upcoming = section('What happens next (30 days)', 'upcoming');
  // Tenants do not see the agents (GET /v1/agents answers them 403).
  const agents = can.listAgents(who) ? section('Agents', 'agents') : null;
  add(root, h('h1', {}, 'Overview'), fleet.el, upcoming.el);
  if (agents) add(root, agents.el);
  let first = true;
  poll(async () => {
    const now = Date.now();
    await Promise.all([
      refresh(fleet, fetchFleet, drawFleet),
      refresh(upcoming, () => api('/v1/upcoming', {query: {days: 30}}), drawUpcoming),
      // Agent ages change every tick: redraw with the current time.
      agents && refresh(agents, async () => ({items: (await api('/v1/agents', {query: {limit: 500}})).items || [], now}),
              (slot, d) => drawAgents(slot, d.items, d.now)),
    ]);
    if (first) {
      first = false;
      ready(root);
    }
  }, POLL_MS, root);
}
