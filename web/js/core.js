// The console's shell: the API client, DOM building, the router's registry,
// polling tied to the page's life, formatting and the server-paged table.
// Every page module imports from here; nothing here knows any page.
// No innerHTML anywhere: text goes in as textContent, so data never runs.

const TOKEN_KEY = 'straits.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  whoCache = null;
}

// An error answer of the API ({"error":{"code","message","field"}}), or a
// network failure (status 0).
export class ApiError extends Error {
  constructor(status, code, message, field, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.details = details || null;  // e.g. a refused lease's {decision}
  }
}

// Listeners told when the API answers 401 (the token was revoked or is
// wrong): app.js sends the user back to the sign-in page.
const unauthorizedListeners = [];
export function onUnauthorized(fn) {
  unauthorizedListeners.push(fn);
}

function queryString(query) {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// Calls the API; resolves to the parsed JSON (or text for non-JSON answers),
// rejects with an ApiError. path is "/v1/...".
export async function api(path, {method = 'GET', body, query, raw = false} = {}) {
  const headers = {Accept: 'application/json'};
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server did not answer: ' + e.message, null);
  }
  const type = res.headers.get('Content-Type') || '';
  const text = await res.text();
  let data = text;
  if (type.includes('json') && text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'bad_json', 'The server answered invalid JSON', null);
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || String(res.status),
                             e.message || res.statusText || 'request failed', e.field, e.details);
    if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(err));
    throw err;
  }
  return raw ? text : data;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'rect', 'line', 'text', 'title', 'path', 'circle',
                          'polyline', 'polygon', 'tspan']);

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach((c) => append(el, c));
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

// Builds an element. attrs: "on<event>" functions become listeners; class,
// for, data-*, aria-* and the like become attributes; value, checked,
// disabled, selected and hidden are set as properties; null/false skip.
// SVG tags (svg, rect, line, text, title, g, ...) are made in the SVG namespace.
export function h(tag, attrs, ...children) {
  const isSvg = SVG_TAGS.has(tag);
  const el = isSvg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (!isSvg && ['value', 'checked', 'disabled', 'selected', 'hidden'].includes(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

// Appends children to el, skipping null/false (DOM append would write "null").
export function add(el, ...children) {
  append(el, children);
  return el;
}

// Replaces the children of el.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Routes: a name → render(root, params, ctx). app.js falls back to importing
// js/pages/<name>.js, so pages need not call this; it lets a page module (or a
// test) register a route under another name.
export const routes = new Map();
export function route(name, render) {
  routes.set(name, render);
}

export function navigate(hash) {
  if (!hash.startsWith('#')) hash = '#' + hash;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// Parses location.hash "#/name/rest?query" into {name, path, id, query}.
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [p, q = ''] = raw.split('?');
  const path = p.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(q));
  return {name: path[0] || '', path: path.slice(1), id: path[1] || null, query};
}

// Rewrites the hash's query (filters, sort, page) without re-rendering, so a
// link reproduces the view.
export function setHashQuery(query) {
  const {name, path} = parseHash();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  const hash = '#/' + [name, ...path].map(encodeURIComponent).join('/') + (s ? '?' + s : '');
  history.replaceState(null, '', hash);
}

let whoCache = null;
// The caller (GET /v1/whoami), fetched once per token.
export async function whoami() {
  if (!whoCache) {
    whoCache = api('/v1/whoami').catch((e) => {
      whoCache = null;
      throw e;
    });
  }
  return whoCache;
}

// Which roles may do what in the console, as the API enforces it
// (src/api/internal/auth.h): a control the role may not use is not shown.
export const can = {
  submitJobs: (who) => ['admin', 'tenant-admin', 'engineer'].includes(who.role),
  cancelJobs: (who) => ['admin', 'tenant-admin', 'engineer'].includes(who.role),
  quoteLeases: (who) => ['admin', 'tenant-admin', 'engineer'].includes(who.role),
  createLeases: (who) => ['admin', 'tenant-admin'].includes(who.role),
  terminateLeases: (who) => ['admin', 'tenant-admin', 'operator-admin'].includes(who.role),
  listAgents: (who) => ['admin', 'operator-admin', 'auditor', 'compliance'].includes(who.role),
  readAudit: (who) => ['admin', 'auditor', 'compliance'].includes(who.role),
  runWhatIf: (who) => ['admin', 'compliance'].includes(who.role),
  readWhatIf: (who) => ['admin', 'auditor', 'compliance'].includes(who.role),
  changeRules: (who) => ['admin', 'compliance'].includes(who.role),
};

// Instants: "2026-12-08 14:05 UTC" (the API speaks UTC; so does the console).
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

// A duration in seconds as "3d 4h", "5m", "12s".
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

// How long ago an instant was, "5m ago".
export function fmtAge(iso, now = Date.now()) {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  return fmtDuration((now - t) / 1000) + ' ago';
}

export function fmtGpus(n) {
  if (n === null || n === undefined) return '—';
  return Number(n).toLocaleString('en-US') + (n === 1 ? ' GPU' : ' GPUs');
}

// Polls of the current page; app.js calls stopPolls() when the page changes.
let polls = new Set();

// Runs fn now and then every ms after each run ends (never two at once);
// returns a function that stops it. Stopped by itself when the page changes,
// and, given the page's root, once that root has left the document (a page
// whose render was still loading when the user moved on).
export function poll(fn, ms, root = null) {
  let timer = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    polls.delete(stop);
  };
  const tick = async () => {
    if (root && !root.isConnected) stop();
    if (stopped) return;
    try {
      await fn();
    } catch (e) {
      console.warn('poll failed:', e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  polls.add(stop);
  tick();
  return stop;
}

export function stopPolls() {
  const old = polls;
  polls = new Set();
  old.forEach((stop) => stop());
}

// Marks a page root as drawn, for people (aria-busy) and tests (data-ready).
export function ready(root) {
  root.setAttribute('data-ready', 'true');
  root.removeAttribute('aria-busy');
}

// An API error as a visible message ([data-testid="error"]).
export function errorBox(err) {
  const text = err instanceof ApiError ? err.message : String(err && err.message || err);
  return h('p', {class: 'error', role: 'alert', 'data-testid': 'error'}, text);
}

let uid = 0;
// A unique element id, for <label for>.
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// One labelled form control. spec: {name, label, type ('text', 'number',
// 'select', 'textarea', ...), options ([value] or [[value, label]]), value,
// required, help, attrs}. Returns {field (the wrapper), input}.
export function field(spec) {
  const id = spec.id || uniqueId('f-' + spec.name);
  let input;
  const common = {id, name: spec.name, required: spec.required || null, ...(spec.attrs || {})};
  if (spec.type === 'select') {
    input = h('select', common, (spec.options || []).map((o) => {
      const [v, l] = Array.isArray(o) ? o : [o, o];
      return h('option', {value: v, selected: String(spec.value ?? '') === String(v)}, l);
    }));
  } else if (spec.type === 'textarea') {
    input = h('textarea', {...common, rows: spec.rows || 3});
    input.value = spec.value ?? '';
  } else {
    input = h('input', {...common, type: spec.type || 'text'});
    if (spec.value !== undefined && spec.value !== null) input.value = spec.value;
  }
  const fieldError = h('span', {class: 'field-error', 'data-field-error': spec.name,
                                'aria-live': 'polite'});
  const wrap = h('div', {class: 'field'}, h('label', {for: id}, spec.label), input,
                 spec.help ? h('small', {class: 'help'}, spec.help) : null, fieldError);
  return {field: wrap, input};
}

// Shows an API error next to the field it names (ApiError.field, e.g.
// "gpus" or "spec.gpus"), or in the form's general error slot.
export function showFormError(form, err) {
  form.querySelectorAll('[data-field-error]').forEach((e) => { e.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const general = form.querySelector('.form-error');
  if (general) general.replaceChildren();
  if (!err) return;
  const name = err.field ? String(err.field).split('.').pop().replace(/\[\d+\]$/, '') : null;
  const slot = name && form.querySelector(`[data-field-error="${CSS.escape(name)}"]`);
  if (slot) {
    slot.textContent = err.message;
    slot.setAttribute('data-testid', 'error');
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  } else if (general) {
    general.appendChild(errorBox(err));
  }
}

// A server-paged, sortable table.
//   columns: [{key, label, sort (the API's sort key, or absent), render(row) → node|text}]
//   fetchPage({offset, limit, sort, order, filters}) → {items, total}
//   filters: [{name, label, type ('text'|'select'), options}] drawn above the table
//   state: {offset, limit, sort, order, filters} to start from (e.g. from the hash)
//   onState(state): told whenever the user changes the view (to keep it in the hash)
//   rowId(row): the row's data-id; testid: the table's data-testid
// Returns {el, reload(), state}. Headers are buttons (Enter/Space sort), the
// current sort is aria-sort.
export function dataTable(opts) {
  const columns = opts.columns;
  const state = {
    offset: 0, limit: opts.pageSize || 50, sort: opts.defaultSort || null,
    order: opts.defaultOrder || 'asc', filters: {}, ...(opts.state || {}),
  };
  state.filters = {...(opts.state && opts.state.filters || {})};
  const rowId = opts.rowId || ((r) => r.id);
  const tbody = h('tbody');
  const status = h('p', {class: 'table-status', 'aria-live': 'polite'});
  const errorSlot = h('div');
  const headRow = h('tr');
  const table = h('table', {class: 'data', 'data-testid': opts.testid || null},
                  opts.caption ? h('caption', {}, opts.caption) : null, h('thead', {}, headRow),
                  tbody);
  const prev = h('button', {type: 'button', 'data-action': 'prev-page'}, '← Previous');
  const next = h('button', {type: 'button', 'data-action': 'next-page'}, 'Next →');
  const changed = () => opts.onState && opts.onState({...state, filters: {...state.filters}});

  function drawHead() {
    headRow.replaceChildren();
    for (const c of columns) {
      if (!c.sort) {
        headRow.appendChild(h('th', {scope: 'col'}, c.label));
        continue;
      }
      const active = state.sort === c.sort;
      const aria = active ? (state.order === 'desc' ? 'descending' : 'ascending') : 'none';
      const arrow = active ? (state.order === 'desc' ? ' ▼' : ' ▲') : '';
      headRow.appendChild(h('th', {scope: 'col', 'aria-sort': aria},
        h('button', {type: 'button', class: 'sort', 'data-sort': c.sort, onclick: () => {
          if (state.sort === c.sort) state.order = state.order === 'asc' ? 'desc' : 'asc';
          else { state.sort = c.sort; state.order = 'asc'; }
          state.offset = 0;
          changed();
          drawHead();
          // The header was redrawn: keep the keyboard on the column just sorted.
          headRow.querySelector(`button[data-sort="${c.sort}"]`).focus();
          load();
        }}, c.label, h('span', {'aria-hidden': 'true'}, arrow))));
    }
  }

  let filterForm = null;
  if (opts.filters && opts.filters.length) {
    filterForm = h('form', {class: 'filters', 'data-testid': opts.filterTestid || null,
                            role: 'search'});
    for (const f of opts.filters) {
      const {field: wrap, input} = field({...f, value: state.filters[f.name] ?? ''});
      const apply = () => {
        state.filters[f.name] = input.value;
        state.offset = 0;
        changed();
        load();
      };
      let debounce = null;
      input.addEventListener(f.type === 'select' ? 'change' : 'input', () => {
        clearTimeout(debounce);
        debounce = setTimeout(apply, f.type === 'select' ? 0 : 250);
      });
      filterForm.appendChild(wrap);
    }
    filterForm.addEventListener('submit', (e) => e.preventDefault());
  }

  let seq = 0;
  let lastKey = '';
  async function load() {
    const mine = ++seq;
    let page;
    try {
      page = await opts.fetchPage({...state, filters: {...state.filters}});
    } catch (e) {
      if (mine === seq) replace(errorSlot, errorBox(e));
      throw e;
    }
    if (mine !== seq) return;  // an older answer arriving late
    errorSlot.replaceChildren();
    const items = page.items || [];
    // Redraw only when something changed, so a poll keeps focus and selection.
    const key = JSON.stringify([items, page.total, state.offset]);
    if (key === lastKey) return;
    lastKey = key;
    tbody.replaceChildren();
    if (!items.length) {
      tbody.appendChild(h('tr', {class: 'empty'},
                          h('td', {colspan: columns.length}, opts.empty || 'Nothing to show.')));
    }
    for (const row of items) {
      tbody.appendChild(h('tr', {'data-id': rowId(row)},
        columns.map((c) => h('td', {'data-col': c.key},
                             c.render ? c.render(row) : (row[c.key] ?? '—')))));
    }
    const total = page.total ?? items.length;
    const first = total ? state.offset + 1 : 0;
    status.textContent = `${first}–${state.offset + items.length} of ${total.toLocaleString('en-US')}`;
    prev.disabled = state.offset <= 0;
    next.disabled = state.offset + items.length >= total;
  }
  prev.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - state.limit);
    changed();
    load();
  });
  next.addEventListener('click', () => {
    state.offset += state.limit;
    changed();
    load();
  });
  drawHead();
  const el = h('div', {class: 'table-block'}, filterForm, errorSlot,
               h('div', {class: 'scroll-x', tabindex: '0', role: 'region',
                         'aria-label': opts.caption || opts.testid || 'table'}, table),
               h('div', {class: 'pager'}, prev, status, next));
  return {el, reload: load, state};
}

// A simple client-side table (for short lists that come whole from the API).
export function simpleTable({columns, rows, rowId = (r) => r.id, testid, empty, caption}) {
  return h('div', {class: 'scroll-x', tabindex: '0', role: 'region',
                   'aria-label': caption || testid || 'table'},
    h('table', {class: 'data', 'data-testid': testid || null},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c.label)))),
      h('tbody', {}, rows.length ? rows.map((r) => h('tr', {'data-id': rowId(r)},
        columns.map((c) => h('td', {'data-col': c.key},
                             c.render ? c.render(r) : (r[c.key] ?? '—')))))
        : h('tr', {class: 'empty'}, h('td', {colspan: columns.length}, empty || 'None.')))));
}

// Fetches every page of a cursor-paged list (items/next), up to max items.
// Some lists (chips, orgs) come whole and take no paging query: a 400 naming
// 'limit' is answered by asking again without it.
export async function fetchAll(path, query = {}, max = 2000) {
  const items = [];
  let after;
  let paged = true;
  do {
    let page;
    try {
      page = await api(path, {query: paged ? {...query, limit: 500, after} : query});
    } catch (e) {
      if (!(paged && e instanceof ApiError && e.status === 400 && e.field === 'limit')) throw e;
      paged = false;
      continue;
    }
    items.push(...(page.items || []));
    after = paged ? page.next : null;
  } while (after && items.length < max);
  return items;
}

// A policy decision (policy/decision_json.h: {decision, action, at, rules:
// [{id, effect, title, source, licence?, obligation?, pack}], licences,
// obligations, valid_until}) drawn with each matched rule and its citation.
// [data-testid="decision"] carries data-outcome for the tests.
export function decisionView(d, {title} = {}) {
  if (!d) return null;
  const outcome = d.decision || d.outcome || 'unknown';
  const rules = d.rules || [];
  return h('div', {class: 'decision', 'data-testid': 'decision', 'data-outcome': outcome},
    h('div', {class: 'row'},
      title ? h('strong', {}, title) : null,
      h('span', {class: 'badge outcome-' + outcome}, outcome),
      d.action ? h('span', {class: 'muted'}, `${d.action} at ${fmtTime(d.at)}`) : null,
      d.valid_until ? h('span', {class: 'muted'}, `valid until ${fmtTime(d.valid_until)}`) : null),
    rules.length
      ? h('ul', {class: 'rules'}, rules.map((r) => h('li', {'data-id': r.id},
          h('code', {}, r.id), ` (${r.effect}) `, r.title || '',
          r.licence ? h('span', {class: 'muted'}, ` licence ${r.licence}`) : null,
          r.source ? h('div', {class: 'citation', 'data-testid': 'citation'}, 'Source: ' + r.source) : null)))
      : h('p', {class: 'muted'}, 'No rule matched (the default applies).'),
    (d.obligations || []).length
      ? h('p', {class: 'muted'}, 'Obligations: ' + d.obligations.join('; ')) : null,
    d.ruleset ? h('p', {class: 'muted'}, 'Rule set ' + String(d.ruleset).slice(0, 12)) : null);
}
