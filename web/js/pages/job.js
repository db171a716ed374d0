// One job (#/jobs/<id>): its state and spec, the timeline of its events
// (GET /v1/jobs/{id}/events?after=, polled: only new events are fetched),
// its attempts and run, each placement with its policy decision (the rules
// that matched and their citations), why it waits when queued
// (?explain=true: the decisions blocking it, pool by pool), the tail of its
// logs following as it grows, its checkpoints, and Cancel where allowed.
import {
  add, api, can, decisionView, errorBox, fmtTime, h, poll, ready, replace, simpleTable,
} from '../core.js';
import {stateBadge} from './jobs.js';

const POLL_MS = 3000;
const FINAL = ['succeeded', 'failed', 'cancelled'];

function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function specView(spec) {
  const s = spec || {};
  const list = (v) => (Array.isArray(v) && v.length ? v.join(', ') : null);
  const cmd = Array.isArray(s.command) ? s.command.join(' ') : s.command;
  return kv([
    ['Name', s.name], ['Team', s.team], ['GPUs', s.gpus != null ? String(s.gpus) : null],
    ['Work', s.work != null ? `${s.work} GPU-hours` : null], ['Eligible chips', list(s.eligible_chips) || 'any'],
    ['Priority', s.priority != null ? String(s.priority) : null], ['Purpose', s.purpose],
    ['Datasets', list(s.datasets)], ['Checkpoint interval', s.checkpoint_interval],
    ['Checkpoint size', s.checkpoint_gb ? `${s.checkpoint_gb} GB` : null],
    ['Deadline', s.deadline ? fmtTime(s.deadline) : null], ['Time limit', s.time_limit],
    ['Command', cmd ? h('code', {}, cmd) : null],
  ]);
}

function placementView(job) {
  const p = job.placement;
  if (!p) return h('p', {class: 'muted'}, 'Not placed.');
  const nodes = p.nodes || [];
  return kv([
    ['Pool', p.pool], ['Site', p.site], ['Chip', p.chip],
    ['Nodes', nodes.length ? `${nodes.length} (${nodes.map((n) => `#${n.node}×${n.gpus}`).join(', ')})` : null],
    ['Started', p.started_at ? fmtTime(p.started_at) : null],
    ['Expected end', p.expected_end ? fmtTime(p.expected_end) : null],
    ['Must leave by', p.must_leave_by ? fmtTime(p.must_leave_by) : null],
    ['Why it must leave', p.cut_reason], ['Rule set', p.ruleset ? String(p.ruleset).slice(0, 12) : null],
  ]);
}

function runView(run) {
  if (!run) return h('p', {class: 'muted'}, 'No attempt yet.');
  const r = run.result;
  return h('div', {},
    kv([
      ['Attempt', String(run.attempt)], ['Agent', run.agent], ['Run handle', run.handle],
      ['Started', run.started_at ? fmtTime(run.started_at) : null],
      ['Active', run.active ? 'yes' : 'no'], ['Requeues', String(run.requeues ?? 0)],
      ['Stop asked', run.stop ? `${run.stop}: ${run.stop_reason || ''}` : null],
    ]),
    r ? h('div', {}, h('h3', {}, `Last result (attempt ${r.attempt})`), kv([
      ['Outcome', r.outcome], ['Exit code', r.exit_code != null ? String(r.exit_code) : null],
      ['Signal', r.signal != null ? String(r.signal) : null], ['Detail', r.detail],
      ['At', r.at ? fmtTime(r.at) : null]])) : null);
}

// Events that name a decision (a placement's "placed" event carries it in its data).
function eventDecision(ev) {
  const d = ev.data;
  if (!d || typeof d !== 'object') return null;
  if (d.decision && typeof d.decision === 'object') return d.decision;
  if (Array.isArray(d.rules) && d.decision) return d;
  return null;
}

function eventItem(ev) {
  const decision = eventDecision(ev);
  const d = ev.data && typeof ev.data === 'object' ? ev.data : null;
  const extra = d && !decision
    ? Object.entries(d).filter(([k, v]) => typeof v !== 'object' && !['log_tail', 'at', 'path', 'note'].includes(k))
      .map(([k, v]) => `${k}: ${v}`).join(' · ')
    : '';
  const where = d && decision ? [d.pool, d.site].filter(Boolean).join(' at ') : '';
  if (ev.kind === 'placed' && d) {
    return h('li', {'data-id': String(ev.seq), 'data-kind': ev.kind},
      h('div', {class: 'row'}, h('strong', {}, ev.kind), h('span', {class: 'muted'}, fmtTime(ev.at))),
      h('div', {}, ev.message),
      h('div', {class: 'muted'}, [d.site && `site ${d.site}`, d.chip && `chip ${d.chip}`,
        d.nodes && `${d.nodes.length} nodes`, d.ruleset && `rule set ${String(d.ruleset).slice(0, 12)}`]
        .filter(Boolean).join(' · ')));
  }
  return h('li', {'data-id': String(ev.seq), 'data-kind': ev.kind},
    h('div', {class: 'row'}, h('strong', {}, ev.kind), h('span', {class: 'muted'}, fmtTime(ev.at))),
    h('div', {}, ev.message),
    extra ? h('div', {class: 'muted'}, extra) : null,
    decision ? decisionView(decision, {title: where ? `Decision for ${where}` : 'Decision'}) : null);
}

// Attempts as the events tell them: "started" opens attempt N (data.attempt)
// on the pool of the "placed" event before it; the attempt's result event
// (succeeded, failed, timed_out, ...) or a requeue, move, stop or cancel ends it.
const ENDS = ['succeeded', 'failed', 'timed_out', 'node_failure', 'lost', 'requeued', 'moved',
              'stopped', 'cancelled'];
function attemptsOf(events) {
  const byAttempt = new Map();
  let place = null;
  let last = null;
  for (const ev of events) {
    const d = ev.data && typeof ev.data === 'object' ? ev.data : {};
    if (ev.kind === 'placed') {
      place = d;
    } else if (ev.kind === 'started') {
      last = {n: d.attempt ?? byAttempt.size + 1, pool: place && place.pool, site: place && place.site,
              agent: d.agent, started: ev.at, ended: null, outcome: '', detail: ''};
      byAttempt.set(last.n, last);
    } else if (ENDS.includes(ev.kind)) {
      const a = (d.attempt != null && byAttempt.get(d.attempt)) || last;
      if (a && !a.ended) {
        a.ended = ev.at;
        a.outcome = ev.kind;
        a.detail = d.detail || ev.message;
      }
    }
  }
  return [...byAttempt.values()];
}

// The checkpoints the agents reported ("checkpointed" events: path, note).
function checkpointsOf(events) {
  return events.filter((ev) => ev.kind === 'checkpointed' && ev.data && typeof ev.data === 'object')
    .map((ev) => ({seq: ev.seq, at: ev.data.at || ev.at, attempt: ev.data.attempt,
                   note: ev.data.note || '', path: ev.data.path || ''}));
}

// Why a queued job waits (?explain=true's "blocking": per pool, the lease
// and run decisions that are not allow). Pools blocked by the same decision
// are drawn once, with their names together.
function blockingView(blocking) {
  const groups = new Map();
  for (const b of blocking) {
    const strip = (d) => d && {decision: d.decision, rules: (d.rules || []).map((r) => r.id)};
    const key = JSON.stringify([strip(b.lease), strip(b.run)]);
    if (!groups.has(key)) groups.set(key, {pools: [], lease: b.lease, run: b.run});
    groups.get(key).pools.push(b.pool);
  }
  return h('section', {class: 'card', 'data-testid': 'blocking'}, h('h2', {}, 'What blocks it'),
    groups.size
      ? [...groups.values()].map((g) => h('div', {class: 'blocked-group'},
          h('h3', {}, g.pools.length === 1 ? `Pool ${g.pools[0]}` : `${g.pools.length} pools: `,
            g.pools.length === 1 ? null : g.pools.map((p, i) => [i ? ', ' : '', h('span', {'data-id': p}, p)])),
          g.lease ? decisionView(g.lease, {title: 'Lease'}) : null,
          g.run ? decisionView(g.run, {title: 'Run'}) : null))
      : h('p', {class: 'muted'}, 'No rule blocks it: it waits for capacity or its turn.'));
}

// A <pre> that stays at the bottom as lines arrive unless the reader scrolled up.
function logsPane() {
  const pre = h('pre', {class: 'logs', 'data-testid': 'logs', tabindex: '0', 'aria-label': 'Logs'});
  let last = null;
  return {
    el: pre,
    set(lines) {
      const text = lines.join('\n');
      if (text === last) return;
      last = text;
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
      pre.textContent = text || '(no output yet)';
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    },
  };
}

export async function render(root, params, {who}) {
  const id = params.id;
  const head = h('div');
  const errSlot = h('div');
  const blockingSlot = h('div');
  const decisionSlot = h('div');
  const specSlot = h('div');
  const placementSlot = h('div');
  const runSlot = h('div');
  const attemptsSlot = h('div');
  const checkpointsSlot = h('div');
  const timeline = h('ol', {class: 'timeline', 'data-testid': 'events-list'});
  const logs = logsPane();
  add(root,
    h('p', {}, h('a', {href: '#/jobs'}, '← Jobs')), head, errSlot,
    h('div', {class: 'grid'},
      h('section', {class: 'card'}, h('h2', {}, 'Spec'), specSlot),
      h('section', {class: 'card'}, h('h2', {}, 'Placement'), placementSlot),
      h('section', {class: 'card'}, h('h2', {}, 'Run'), runSlot)),
    decisionSlot,
    blockingSlot,
    h('section', {class: 'card'}, h('h2', {}, 'Attempts'), attemptsSlot),
    h('section', {class: 'card'}, h('h2', {}, 'Logs (last 200 lines)'), logs.el),
    h('section', {class: 'card'}, h('h2', {}, 'Checkpoints (newest first)'), checkpointsSlot),
    h('section', {class: 'card'}, h('h2', {}, 'Timeline'), timeline));

  const events = [];
  let after = 0;
  let lastJob = '';
  let first = true;
  let stopAfterFinal = 0;

  const drawHead = (job) => {
    const name = job.spec && job.spec.name;
    const cancel = can.cancelJobs(who) && !FINAL.includes(job.state)
      ? h('button', {type: 'button', class: 'danger', 'data-action': 'cancel', onclick: async (e) => {
          if (!confirm(`Cancel job ${job.id}?`)) return;
          e.target.disabled = true;
          try {
            await api(`/v1/jobs/${encodeURIComponent(job.id)}/cancel`, {method: 'POST'});
            replace(errSlot);
          } catch (err) {
            replace(errSlot, errorBox(err));
            e.target.disabled = false;
          }
        }}, 'Cancel job')
      : null;
    replace(head,
      h('div', {class: 'row'}, h('h1', {}, `Job ${job.id}`, name ? ` — ${name}` : ''),
        h('span', {'data-testid': 'job-state', class: 'badge state-' + job.state}, job.state), cancel),
      kv([['Org', job.org], ['Team', job.team], ['Submitted', `${fmtTime(job.submitted_at)} by ${job.submitted_by}`],
          ['Updated', fmtTime(job.updated_at)],
          ['Queue position', job.queue_position != null ? String(job.queue_position) : null],
          ['Waiting because', job.waiting ? job.waiting.reason + (job.waiting.rule ? ` [rule ${job.waiting.rule}]` : '') : null]]));
  };

  const drawJob = (job) => {
    drawHead(job);
    replace(specSlot, specView(job.spec));
    replace(placementSlot, placementView(job));
    replace(decisionSlot, job.decision ? h('section', {class: 'card'},
      h('h2', {}, 'Decision of the current placement'),
      decisionView(job.decision, {title: job.placement ? `run on ${job.placement.pool}` : ''})) : null);
    replace(runSlot, runView(job.run));
    replace(blockingSlot, job.state === 'queued' ? blockingView(job.blocking || []) : null);
  };

  const drawEvents = () => {
    replace(attemptsSlot, simpleTable({
      testid: 'attempts-table', rows: attemptsOf(events), rowId: (a) => String(a.n),
      empty: 'No attempt yet.',
      columns: [
        {key: 'n', label: 'Attempt', render: (a) => String(a.n)},
        {key: 'pool', label: 'Pool (site)', render: (a) => (a.pool ? `${a.pool} (${a.site})` : '—')},
        {key: 'agent', label: 'Agent', render: (a) => a.agent || '—'},
        {key: 'started', label: 'Started', render: (a) => fmtTime(a.started)},
        {key: 'ended', label: 'Ended', render: (a) => (a.ended ? fmtTime(a.ended) : 'running')},
        {key: 'outcome', label: 'Outcome', render: (a) => (a.outcome ? stateBadge(a.outcome) : '—')},
        {key: 'detail', label: 'Detail', render: (a) => a.detail || '—'},
      ]}));
    const cps = checkpointsOf(events).reverse();
    const SHOWN = 20;
    replace(checkpointsSlot, simpleTable({
      testid: 'checkpoints-table', rows: cps.slice(0, SHOWN), rowId: (c) => String(c.seq),
      empty: 'No checkpoint yet.',
      columns: [
        {key: 'at', label: 'At', render: (c) => fmtTime(c.at)},
        {key: 'attempt', label: 'Attempt', render: (c) => String(c.attempt ?? '—')},
        {key: 'note', label: 'Note'},
        {key: 'path', label: 'Path', render: (c) => h('code', {}, c.path)},
      ]}), cps.length > SHOWN ? h('p', {class: 'muted'}, `and ${cps.length - SHOWN} earlier`) : null);
  };

  const stop = poll(async () => {
    try {
      const [job, evs, lg] = await Promise.all([
        api(`/v1/jobs/${encodeURIComponent(id)}`, {query: {explain: 'true'}}),
        api(`/v1/jobs/${encodeURIComponent(id)}/events`, {query: {after}}),
        api(`/v1/jobs/${encodeURIComponent(id)}/logs`, {query: {tail: 200}}),
      ]);
      replace(errSlot);
      const key = JSON.stringify(job);
      if (key !== lastJob) {
        lastJob = key;
        drawJob(job);
      }
      const fresh = (evs.items || []).filter((e) => e.seq > after);
      for (const ev of fresh) {
        events.push(ev);
        after = Math.max(after, ev.seq);
        // Output and checkpoints have their own sections.
        if (ev.kind !== 'log' && ev.kind !== 'checkpointed') timeline.appendChild(eventItem(ev));
      }
      if (fresh.length || first) drawEvents();
      logs.set(lg.lines || []);
      // A finished job changes no more: a few more polls for late reports, then stop.
      if (FINAL.includes(job.state) && ++stopAfterFinal > 3) stop();
    } catch (e) {
      replace(errSlot, errorBox(e));
      if (e.status === 404) {
        replace(head, h('h1', {}, `Job ${id}`));
      }
    } finally {
      if (first) {
        first = false;
        ready(root);
      }
    }
  }, POLL_MS, root);
}
