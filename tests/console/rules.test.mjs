// A rule change in a browser: a compliance officer has close-remote-access (the what-if pack
// of rules/scenarios/) pushed with its date a minute ahead, proposes it on the Rules page,
// reads its impact there (the running job in Singapore it would stop), adopts it, and the
// job's page shows the job checkpointed and moved to hanshan's own cluster in China before
// the instant. The same story as tests/e2e/rules_e2e_test.cc, on make run's world and clock.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readdirSync, readFileSync} from 'node:fs';
import {basename, join} from 'node:path';
import {
  api, eventually, html, newPage, screenshot, session, signIn, SOURCE_DIR, visit,
} from './lib.mjs';

const s = session();

// A pack folder as a push's "packs" entry (the name is the folder's, as `straits rules push`
// names it).
function pack(dir) {
  const path = join(SOURCE_DIR, dir);
  const files = {};
  for (const f of readdirSync(path).filter((n) => n.endsWith('.rules')).sort()) {
    files[f] = readFileSync(join(path, f), 'utf8');
  }
  return {name: basename(path), files};
}

// The button VERB of the rule set's detail (shown when its row's "show" is clicked).
function detailButton(page, verb) {
  return page.locator(`[data-testid="ruleset-detail"] button[data-action="${verb}"]`);
}

test('close-remote-access: proposed, weighed, adopted, and a job moves', async () => {
  const {browser, tok} = await s.start();
  const hanshan = tok['hanshan-ops'];
  // A job that may run on hanshan's leased H100s in Singapore or its own H800s in Ulanqab,
  // Singapore first (as the e2e test's), checkpointing often.
  const mover = await api(hanshan, '/v1/jobs', {method: 'POST', body: {
    name: `console-mover-${Date.now()}`, team: 'llm', gpus: 8, work: 200,
    eligible_chips: ['h100-sxm', 'h800'], checkpoint_gb: 10, checkpoint_interval: 'PT1M',
    preferences: {site_order: ['sg-tuas-1', 'cn-ulanqab-1']},
    command: 'straits-train --steps 3000 --step-ms 200 --checkpoint-every 25',
  }});
  await eventually(async () => {
    const j = await api(hanshan, `/v1/jobs/${mover.id}`);
    return j.state === 'running' && j.placement?.pool === 'sg-tuas-1-h100';
  }, `job ${mover.id} to run in Singapore`, 60_000);

  // The instant, whole seconds, far enough ahead for the clicks below, near enough to wait.
  const bites = new Date(Math.ceil(Date.now() / 1000) * 1000 + 75_000);
  const closeFrom = bites.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const set = await api(tok.compliance, '/v1/rulesets', {method: 'POST', body: {
    name: 'close-remote-access, from the console test',
    packs: [pack('rules/default'), pack('rules/scenarios/close-remote-access')],
    params: {close_from: closeFrom},
  }});
  assert.equal(set.state, 'draft');

  const page = await newPage(browser);
  page.on('dialog', (d) => d.accept());  // "Adopt this rule set?"
  await signIn(page, tok.compliance);
  await visit(page, '#/rules', 'rules');
  const row = page.locator(`[data-testid="rulesets-table"] [data-id="${set.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /draft/);

  await row.locator('button[data-action="show"]').click();
  await detailButton(page, 'propose').click();
  await eventually(async () => (await api(tok.compliance, `/v1/rulesets/${set.id}`)).state ===
                                   'proposed', `${set.id} to be proposed`, 15_000);
  // The detail is drawn again for the proposed set (an adopt button): click in that one.
  await detailButton(page, 'adopt').waitFor();

  // The impact names the mover, the pool it would leave and the rule.
  await detailButton(page, 'impact').click();
  const impact = page.locator('[data-testid="ruleset-detail"] [data-testid="impact"]');
  await impact.locator(`[data-id="${mover.id}"]`).first().waitFor({timeout: 20_000});
  const text = await impact.textContent();
  assert.ok(text.includes('sg-tuas-1-h100'), 'the impact names the pool the job would leave');
  assert.ok(text.includes('cn-ulanqab-1-h800'), 'the impact names where the job could go');
  assert.ok(text.includes('close-remote-access'), 'the impact names the rule');
  await impact.scrollIntoViewIfNeeded();
  await screenshot(page, 'rules-impact', 'rules-impact');

  // Adopt (effective now: the pack's own date is the instant): a tenant could not have
  // (roles.test.mjs); the officer can.
  await detailButton(page, 'adopt').click();
  await eventually(async () => (await api(tok.compliance, `/v1/rulesets/${set.id}`)).state ===
                                   'adopted', `${set.id} to be adopted`, 15_000);
  await page.locator(`[data-testid="rulesets-table"] [data-id="${set.id}"]`, {hasText: 'adopted'})
      .waitFor();
  assert.ok(Date.now() < bites.getTime(), 'adopted before the instant (the test was too slow)');

  // The owner watches the job: checkpointed and moved before the instant, placed at home.
  const owner = await newPage(browser);
  await signIn(owner, hanshan);
  await visit(owner, `#/jobs/${mover.id}`, 'job');
  const jobPage = owner.locator('[data-page="job"]');
  await jobPage.getByText('cn-ulanqab-1-h800').first().waitFor({timeout: 150_000});
  await jobPage.getByText(/moved/i).first().waitFor({timeout: 20_000});
  const after = await api(hanshan, `/v1/jobs/${mover.id}`);
  assert.equal(after.placement?.pool, 'cn-ulanqab-1-h800', 'the API agrees it moved');
  const kinds = (await api(hanshan, `/v1/jobs/${mover.id}/events`)).items
      .map((e) => e.kind);
  assert.ok(kinds.includes('moved'), `a moved event: ${[...new Set(kinds)]}`);
  assert.ok(!(await html(owner)).includes('bellhollow-web-crawl'), 'nothing of bellhollow');
  await screenshot(owner, 'job-moved', 'job-moved');
  assert.deepEqual(page.problems, []);
  assert.deepEqual(owner.problems, []);
});
