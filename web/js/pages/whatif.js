// The What-if page (#/whatif, #/whatif/<run id>): pick a baseline and a
// what-if (a shipped scenario, or the live store's last N days under a rule
// set), have the server run the comparison in the background (POST
// /v1/whatif: admin, compliance), follow the runs with their progress, and
// read a finished run's figures and the comparison page `sim compare` makes.
//
// The report needs the bearer token, so it is fetched with api() as text. The
// console's CSP (no inline style or script, no frames from elsewhere) carries
// over to any document the console makes, so the page is shown without its
// inline <style> and <script> (the script only measures charts for a test),
// linking the same rules from css/pages2.css instead: in a sandboxed srcdoc
// iframe (no scripts, opaque origin), and in a new tab through a blob: URL.
import {api, can, errorBox, field, fmtTime, h, poll, ready, replace, showFormError, simpleTable} from '../core.js';
import {usePagesStyles} from './rules.js';

// "scenario:ID" / "ruleset:ID" / "live" into the API's shapes.
function choice(value, days) {
  const [kind, ...rest] = value.split(':');
  const id = rest.join(':');
  if (kind === 'live') return {live: {days: Number(days)}};
  return kind === 'ruleset' ? {ruleset: id} : {scenario: id};
}

function describe(side) {
  if (!side) return '—';
  if (side.live) return `live, last ${side.live.days} days`;
  if (side.ruleset) return `rule set ${side.ruleset}`;
  return side.scenario || JSON.stringify(side);
}

// A run's two sides, as given at its start (at the top or under "request").
const sides = (run) => {
  const asked = run.request || run;
  return `${describe(asked.baseline)} → ${describe(asked.whatif)}`;
};

function progressBar(run) {
  const p = run.progress || {};
  const total = Number(p.total) || 0;
  const done = run.state === 'done' ? total || 1 : Number(p.done) || 0;
  const label = `${p.stage || run.state}: ${done}${total ? ' of ' + total : ''}`;
  return h('div', {class: 'progress-cell'},
    h('progress', {'data-testid': 'progress', max: total || 1, value: Math.min(done, total || 1),
                   'aria-label': `Run ${run.id}: ${label}`}),
    h('span', {class: 'muted'}, ` ${label}`));
}

function whatifForm(scenarios, sets, onStarted) {
  const scen = scenarios.map((s) => [`scenario:${s.id}`, `${s.id} · ${s.title || s.file || ''}`]);
  const baseline = field({name: 'baseline', label: 'Baseline', type: 'select',
                          options: [...scen, ['live', 'the live store, last N days']]});
  const days = field({name: 'days', label: 'Days of the live store', type: 'number', value: 30,
                      attrs: {min: 1, max: 366}});
  const candidates = sets.filter((s) => s.state !== 'retired')
                         .map((s) => [`ruleset:${s.id}`, `rule set ${s.id} · ${s.name} (${s.state})`]);
  const whatif = field({name: 'whatif', label: 'What-if', type: 'select',
                        options: [...scen, ...candidates],
                        value: (candidates.find((c) => c[1].endsWith('(proposed)')) || scen[1] ||
                                scen[0] || [])[0]});
  const shown = () => { days.field.hidden = baseline.input.value !== 'live'; };
  baseline.input.addEventListener('change', shown);
  shown();
  const f = h('form', {'data-testid': 'whatif-form', class: 'card', novalidate: true},
    h('h2', {}, 'Run a comparison'),
    h('div', {class: 'form-grid'}, baseline.field, days.field, whatif.field),
    h('button', {type: 'submit', class: 'primary', 'data-action': 'run'}, 'Run'),
    h('div', {class: 'form-error', 'aria-live': 'assertive'}));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    showFormError(f, null);
    try {
      const run = await api('/v1/whatif', {method: 'POST', body: {
        baseline: choice(baseline.input.value, days.input.value),
        whatif: choice(whatif.input.value, days.input.value)}});
      await onStarted(run.id);
    } catch (err) {
      showFormError(f, err);
    }
  });
  return f;
}

// The summary's figures as label/value rows, one level of nesting flattened
// ("baseline.completed").
function figures(summary) {
  const rows = [];
  const add = (prefix, obj) => {
    for (const [k, v] of Object.entries(obj)) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v) && !prefix) add(name, v);
      else rows.push([name, typeof v === 'number' ? v.toLocaleString('en-US')
                          : Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v)
                          : String(v ?? '—')]);
    }
  };
  add('', summary || {});
  return h('dl', {class: 'kv', 'data-testid': 'whatif-summary'},
           rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// The comparison page made safe to show under the console's CSP: no script,
// its inline style replaced by the console's copy of the same rules.
function reportDocument(html) {
  // <style> and <script> go before parsing: even an inert parsed document
  // reports them as CSP violations in the console.
  const text = html.replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '');
  const doc = new DOMParser().parseFromString(text, 'text/html');
  doc.querySelectorAll('script, style, link, meta[http-equiv], base, iframe, object, embed')
     .forEach((n) => n.remove());
  doc.querySelectorAll('*').forEach((n) => {
    for (const a of [...n.attributes]) {
      if (a.name.startsWith('on') || a.name === 'style') n.removeAttribute(a.name);
    }
  });
  const css = doc.createElement('link');
  css.rel = 'stylesheet';
  css.href = new URL('/console/css/pages2.css', location.href).href;
  doc.head.appendChild(css);
  doc.body.classList.add('straits-report');
  return '<!doctype html>\n' + doc.documentElement.outerHTML;
}

async function showReport(run, slot) {
  replace(slot, h('p', {class: 'muted'}, 'Loading the comparison page…'));
  try {
    const page = reportDocument(await api(`/v1/whatif/${encodeURIComponent(run.id)}/report`,
                                          {raw: true}));
    const url = URL.createObjectURL(new Blob([page], {type: 'text/html'}));
    replace(slot,
      h('p', {}, h('a', {href: url, target: '_blank', rel: 'noopener', 'data-testid': 'report-link'},
                   'Open the comparison page in a new tab')),
      h('iframe', {class: 'report', sandbox: '', srcdoc: page, title: `Comparison of run ${run.id}`,
                   'data-testid': 'whatif-report'}));
  } catch (e) {
    replace(slot, errorBox(e));
  }
}

function runDetail(run, slot) {
  const report = h('div');
  replace(slot, h('h2', {}, `Run ${run.id} `, h('span', {class: `badge state-${run.state}`}, run.state)),
    h('p', {}, `${sides(run)}; started `,
      fmtTime(run.created_at), run.finished_at ? ['; finished ', fmtTime(run.finished_at)] : null),
    progressBar(run),
    run.error ? h('p', {class: 'error', 'data-testid': 'error'}, run.error) : null,
    run.summary ? figures(run.summary) : null,
    run.state === 'done' ? report : null);
  slot.hidden = false;
  if (run.state === 'done') showReport(run, report);
}

export async function render(root, params, {who}) {
  usePagesStyles();
  if (!can.readWhatIf(who)) {
    replace(root, h('h1', {}, 'What-if'), h('p', {class: 'error', 'data-testid': 'error'},
      `Your role (${who.role}) cannot see what-if runs.`));
    ready(root);
    return;
  }
  const tableSlot = h('div');
  const detail = h('section', {class: 'card', 'data-testid': 'whatif-detail', hidden: true,
                               'aria-live': 'polite'});
  let selected = params.id || null;
  let shownKey = '';
  let shownList = '';

  const select = (id) => {
    selected = id;
    shownKey = '';
    history.replaceState(null, '', `#/whatif/${encodeURIComponent(id)}`);
    refresh();
  };

  async function refresh() {
    const list = await api('/v1/whatif');
    const runs = list.items || [];
    // Redraw only on a change, so polling keeps the focus on a row's button.
    const listKey = JSON.stringify(runs);
    if (listKey !== shownList) {
      shownList = listKey;
      replace(tableSlot, simpleTable({
      testid: 'whatif-table', caption: 'Runs', rows: runs, empty: 'No run yet.',
      columns: [
        {key: 'id', label: 'Run', render: (r) => h('button', {type: 'button', class: 'linklike',
          'data-action': 'show', onclick: () => select(r.id)}, r.id)},
        {key: 'state', label: 'State', render: (r) => h('span', {class: `badge state-${r.state}`}, r.state)},
        {key: 'progress', label: 'Progress', render: progressBar},
        {key: 'what', label: 'Baseline → what-if', render: (r) => sides(r)},
        {key: 'created_at', label: 'Started', render: (r) => fmtTime(r.created_at)},
      ],
      }));
    }
    const run = selected && runs.find((r) => r.id === selected);
    if (selected && !run) {
      replace(detail, errorBox(new Error(`No what-if run '${selected}'.`)));
      detail.hidden = false;
    } else if (run) {
      // Redraw only when the run changed, so a report being read stays put.
      const key = JSON.stringify([run.state, run.progress, run.summary ? 1 : 0]);
      if (key !== shownKey) {
        shownKey = key;
        runDetail(await api(`/v1/whatif/${encodeURIComponent(run.id)}`), detail);
      }
    }
  }

  let form = null;
  if (can.runWhatIf(who)) {
    const [scenarios, sets] = await Promise.all([
      api('/v1/scenarios').then((a) => a.items || []),
      api('/v1/rulesets').then((a) => a.items || [])]);
    form = whatifForm(scenarios, sets, async (id) => select(id));
  }
  replace(root, h('h1', {}, 'What-if'),
    h('p', {class: 'muted'}, 'The same comparison `straits sim compare` makes, run by the ' +
      'server in the background.'), form, tableSlot, detail);
  await refresh();
  ready(root);
  // Every 2 s: a run's progress, and runs started elsewhere, show up.
  poll(refresh, 2000, root);
}
