// Every role of make run's world signs in through the form and visits every page; each sees
// what the API lets it see and nothing of another tenant (not even in the DOM's text or
// attributes), and is shown no control its role may not use.
import {test, before} from 'node:test';
import assert from 'node:assert/strict';
import {
  api, html, ids, newPage, screenshot, session, signIn, URL_, visit, waitPage,
} from './lib.mjs';

const s = session();
let browser;
let tok;
let jobs;    // every job of the world, as the admin sees it
let leases;  // every lease

before(async () => {
  ({browser, tok} = await s.start());
  jobs = (await api(tok.admin, '/v1/jobs?limit=500')).items;
  leases = (await api(tok.admin, '/v1/leases?limit=500')).items;
  assert.ok(jobs.some((j) => j.org === 'hanshan-sg') && jobs.some((j) => j.org === 'bellhollow'),
            'the seeded world has jobs of both tenants');
});

const PAGES = ['overview', 'jobs', 'leases', 'rules', 'audit', 'whatif'];
// Buttons that change something: none may be shown to a role that may not use them. (The
// job submit form is checked on its own: "submit" also names other forms' buttons.)
const WRITES = ['cancel', 'create', 'propose', 'adopt', 'run'];

// What each role is expected to see and do. org: the tenant's own org, other: the other
// tenant, hidden from it; operator: sees the leases on its pools; all: reads everything.
// submit: has the job submit form; must: buttons it is shown (on the pages visited here:
// adopt needs a proposed set, cancel a live job); may: buttons it may be shown.
const ROLES = [
  {user: 'admin', all: true, audit: true, submit: true, must: ['propose', 'run'], may: WRITES,
   shots: true},
  {user: 'hanshan-ops', org: 'hanshan-sg', other: 'bellhollow', submit: true, must: [],
   may: ['cancel', 'create'], shots: true},
  {user: 'bellhollow-ops', org: 'bellhollow', other: 'hanshan-sg', submit: true, must: [],
   may: ['cancel', 'create']},
  {user: 'lionpoint-noc', operator: 'lionpoint', must: [], may: []},
  {user: 'audit-office', all: true, audit: true, must: [], may: [], shots: true},
  {user: 'compliance', all: true, audit: true, must: ['propose', 'run'],
   may: ['propose', 'adopt', 'run']},
];

// The ids the role must not find anywhere in the DOM: other tenants' jobs (ids and names)
// and leases.
function hidden(role, visibleJobs, visibleLeases) {
  if (role.all) return [];
  const seenJobs = new Set(visibleJobs);
  const seenLeases = new Set(visibleLeases);
  const out = [];
  for (const j of jobs) {
    // An operator may be shown the jobs on the pools it leases out; tenants never others'.
    if (seenJobs.has(j.id)) continue;
    if (role.operator && leases.some((l) => seenLeases.has(l.id) && l.pool === j.placement?.pool)) {
      continue;
    }
    out.push(j.id, j.spec.name);
  }
  for (const l of leases) if (!seenLeases.has(l.id)) out.push(l.id);
  return out;
}

for (const role of ROLES) {
  test(`${role.user} sees its own and nothing of the others`, async () => {
    const token = tok[role.user];
    assert.ok(token, `a token for ${role.user}`);
    const mine = {
      jobs: (await api(token, '/v1/jobs?limit=500')).items.map((j) => j.id),
      leases: (await api(token, '/v1/leases?limit=500')).items.map((l) => l.id),
    };
    if (role.all) {
      assert.equal(mine.jobs.length, jobs.length);
      assert.equal(mine.leases.length, leases.length);
    }
    if (role.org) {
      assert.ok(mine.jobs.length > 0, `${role.org} has jobs in the seeded world`);
    }
    if (role.operator) {
      assert.ok(mine.leases.length > 0 && mine.leases.length < leases.length,
                'the operator sees the leases on its pools only');
    }
    const forbidden = hidden(role, mine.jobs, mine.leases);
    const page = await newPage(browser);
    await signIn(page, token);
    const who = await page.locator('[data-testid="who"]').textContent();
    assert.match(who, new RegExp(role.user === 'admin' ? 'admin' : role.user.replace('.', '\\.')));

    const writesSeen = new Set();
    for (const name of PAGES) {
      const root = await visit(page, `#/${name}`, name);
      const dom = await html(page);
      for (const id of forbidden) {
        assert.ok(!dom.includes(id), `${role.user} on ${name}: the DOM holds ${id}, another's`);
      }
      if (role.other) {
        for (const t of ['jobs-table', 'leases-gantt', 'upcoming-list']) {
          const text = await page.locator(`[data-testid="${t}"]`).allTextContents();
          assert.ok(!text.join(' ').includes(role.other),
                    `${role.user} on ${name}: ${t} names ${role.other}`);
        }
      }
      for (const verb of WRITES) {
        if (await root.locator(`button[data-action="${verb}"]:visible`).count()) writesSeen.add(verb);
      }

      if (name === 'jobs') {
        const shown = await ids(page.locator('[data-testid="jobs-table"]'));
        assert.deepEqual([...new Set(shown)].sort(), [...mine.jobs].sort(),
                         `${role.user}: the jobs table lists the jobs the API shows it`);
        const form = await page.locator('form[data-testid="submit-job-form"]').count();
        assert.equal(form > 0, !!role.submit,
                     `${role.user}: the submit form is shown only to who may submit`);
      }
      if (name === 'leases') {
        const shown = new Set(await ids(root));
        for (const l of mine.leases) assert.ok(shown.has(l), `${role.user}: lease ${l} is drawn`);
      }
      if (name === 'overview') {
        assert.ok(await root.locator('[data-testid="pools-table"]').count(),
                  `${role.user}: the overview shows the fleet`);
      }
      if (name === 'audit') {
        const table = await root.locator('[data-testid="audit-table"]').count();
        assert.equal(table > 0, !!role.audit, `${role.user}: the audit table`);
        if (!role.audit) {
          await root.locator('[data-testid="error"]').first().waitFor();
          assert.match(await root.locator('[data-testid="error"]').first().textContent(),
                       /audit/i, `${role.user}: told it cannot read the audit log`);
        } else {
          assert.ok((await ids(root.locator('[data-testid="audit-table"]'))).length > 0,
                    `${role.user}: audit events are listed`);
        }
      }
      if (name === 'whatif') {
        const form = await root.locator('form[data-testid="whatif-form"]').count();
        assert.equal(form > 0, role.must.includes('run'),
                     `${role.user}: the what-if form only for who may run one`);
      }
      if (role.shots) {
        await screenshot(page, `${role.user}-${name}`, role.user === 'admin' ? name : null);
      }
    }

    // A job page: its own first job; a tenant asking for another's gets "not found" and
    // nothing of it.
    if (mine.jobs.length) {
      await visit(page, `#/jobs/${mine.jobs[0]}`, 'job');
      const state = await page.locator('[data-testid="job-state"]').textContent();
      for (const verb of WRITES) {
        if (await page.locator(`[data-page="job"] button[data-action="${verb}"]:visible`).count()) {
          writesSeen.add(verb);
        }
      }
      assert.ok(state.trim().length > 0, 'the job page shows the state');
      if (role.shots) {
        await screenshot(page, `${role.user}-job`, role.user === 'hanshan-ops' ? 'job' : null);
      }
    }
    if (role.org) {
      const theirs = jobs.find((j) => j.org === role.other);
      await visit(page, `#/jobs/${theirs.id}`, 'job');
      await page.locator('[data-testid="error"]').first().waitFor();
      const dom = await html(page);
      assert.ok(!dom.includes(theirs.spec.name) && !dom.includes(theirs.spec.command),
                `${role.user}: another tenant's job page shows nothing of it`);
    }
    for (const verb of WRITES) {
      if (!role.may.includes(verb)) {
        assert.ok(!writesSeen.has(verb), `${role.user} is shown a "${verb}" button`);
      }
    }
    for (const verb of role.must) {
      assert.ok(writesSeen.has(verb), `${role.user} has a "${verb}" button`);
    }
    assert.deepEqual(page.problems, [], `${role.user}: no page error, no other host`);
    await page.context().close();
  });
}

test('the console at 390 px: overview, jobs and a job', async () => {
  const page = await newPage(browser, 390);
  await signIn(page, tok['hanshan-ops']);
  await screenshot(page, 'narrow-overview');
  await visit(page, '#/jobs', 'jobs');
  await screenshot(page, 'narrow-jobs', 'narrow-jobs');
  const id = jobs.find((j) => j.org === 'hanshan-sg').id;
  await visit(page, `#/jobs/${id}`, 'job');
  await screenshot(page, 'narrow-job');
  // Nothing wider than the screen: the page scrolls down, not sideways.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390 + 1, `the job page is ${width} px wide at 390 px`);
  await page.context().close();
});

test('signing out forgets the token', async () => {
  const page = await newPage(browser);
  await page.goto(URL_ + '/#/signin');
  await waitPage(page, 'signin');
  await screenshot(page, 'signin', 'signin');
  await signIn(page, tok['li.wei']);
  await page.locator('button[data-action="signout"]').click();
  await waitPage(page, 'signin');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('straits.token')), null);
  assert.equal((await page.context().cookies()).length, 0, 'no cookies, ever');
  await page.context().close();
});

test('the console is served self-contained: a strict CSP, no cookies', async () => {
  const res = await fetch(URL_ + '/');
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') || '';
  for (const part of ["default-src 'none'", "script-src 'self'", "connect-src 'self'",
                      "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(part), `the CSP has ${part}: ${csp}`);
  }
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('set-cookie'), null);
  const page = await res.text();
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(page), 'no inline script');
  assert.ok(!/https?:\/\//i.test(page.replace(/<!--[\s\S]*?-->/g, '')), 'no other host named');
});
