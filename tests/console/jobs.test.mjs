// A tenant submits a job through the console's form and watches it run to the end through
// make run's local agent (the example training program), then submits another and cancels it.
import {test, before} from 'node:test';
import assert from 'node:assert/strict';
import {
  api, eventually, JOB_TIMEOUT, newPage, screenshot, session, signIn, visit,
} from './lib.mjs';

const s = session();
let page;
let tok;

before(async () => {
  const started = await s.start();
  tok = started.tok;
  page = await newPage(started.browser);
  page.on('dialog', (d) => d.accept());  // "Cancel this job?" and the like
  await signIn(page, tok['hanshan-ops']);
});
// Fills the submit form's fields that exist (names are the API's fields) and submits it;
// returns the new job as the API lists it.
async function submit(name, command) {
  await visit(page, '#/jobs', 'jobs');
  const form = page.locator('form[data-testid="submit-job-form"]');
  await form.waitFor();
  // A form folded away behind a disclosure is opened first.
  const summary = page.locator('details:has(form[data-testid="submit-job-form"]) > summary');
  if (await summary.count() && !(await form.isVisible())) await summary.click();
  const values = {name, team: 'console', gpus: '8', work: '10', command};
  for (const [field, value] of Object.entries(values)) {
    const input = form.locator(`[name="${field}"]`);
    assert.ok(await input.count(), `the submit form has a "${field}" field`);
    const id = await input.getAttribute('id');
    assert.ok(id && await form.locator(`label[for="${id}"]`).count(), `"${field}" is labelled`);
    await input.fill(value);
  }
  await form.locator('button[data-action="submit"]').click();
  return eventually(async () => {
    const err = await form.locator('[data-testid="error"]').allTextContents();
    if (err.join('').trim()) throw new Error(`the form answered: ${err.join(' ')}`);
    const all = (await api(tok['hanshan-ops'], "/v1/jobs?limit=500")).items;
    return all.find((j) => j.spec.name === name);
  }, `job ${name} to be submitted`, 15_000);
}

async function jobState() {
  return (await page.locator('[data-testid="job-state"]').textContent()).trim();
}

test('a job submitted through the form runs to completion, logs and all', async () => {
  const name = `console-short-${Date.now()}`;
  const job = await submit(name,
                           'straits-train --steps 20 --step-ms 100 --checkpoint-every 5');
  assert.equal(job.org, 'hanshan-sg');
  await visit(page, `#/jobs/${job.id}`, 'job');
  // The page follows the job by itself: no reload here.
  await page.locator('[data-testid="job-state"]', {hasText: 'succeeded'})
      .waitFor({timeout: JOB_TIMEOUT});
  const logs = page.locator('pre[data-testid="logs"]');
  await eventually(async () => ((await logs.textContent()) || '').trim().split('\n').length >= 2,
                   'the logs tail to show lines', 20_000);
  assert.match(await logs.textContent(), /step/i, 'the logs are the training program\'s');
  await screenshot(page, 'job-succeeded');
  assert.deepEqual(page.problems, []);
});

test('a running job is cancelled from its page', async () => {
  const name = `console-long-${Date.now()}`;
  const job = await submit(name,
                           'straits-train --steps 3000 --step-ms 1000 --checkpoint-every 100');
  await visit(page, `#/jobs/${job.id}`, 'job');
  await eventually(async () => ['assigned', 'running'].includes(await jobState()),
                   `job ${job.id} to start`);
  await page.locator('[data-page="job"] button[data-action="cancel"]').click();
  await page.locator('[data-testid="job-state"]', {hasText: 'cancelled'})
      .waitFor({timeout: JOB_TIMEOUT});
  const after = await api(tok['hanshan-ops'], `/v1/jobs/${job.id}`);
  assert.equal(after.state, 'cancelled');
  assert.equal(await page.locator('[data-page="job"] button[data-action="cancel"]:visible').count(),
               0, 'no cancel button on a finished job');
  await screenshot(page, 'job-cancelled');
  assert.deepEqual(page.problems, []);
});
