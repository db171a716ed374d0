// The Audit page for the auditor: the chain verified, the events listed, and a signed bundle
// exported from the browser that `straits audit verify-bundle` accepts offline, signed by the
// server's key (make run keeps it in public.key).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {
  api, cli, eventually, ids, newPage, RUN_DIR, screenshot, session, SHOTS, signIn, visit,
} from './lib.mjs';

const s = session();

test('the auditor exports a bundle that verifies offline', async () => {
  const {browser, tok} = await s.start();
  const page = await newPage(browser);
  await signIn(page, tok['audit-office']);
  const root = await visit(page, '#/audit', 'audit');
  const table = root.locator('[data-testid="audit-table"]');
  await eventually(async () => (await ids(table)).length > 0, 'audit events to be listed', 15_000);
  await screenshot(page, 'audit');

  // Filtered on the server, newest first: the page shows what the API answers for the same
  // filter (a link reproduces the view), and only that.
  const expected = (await api(tok['audit-office'],
                              '/v1/audit?order=desc&action=job.submit&limit=25')).items
      .map((e) => String(e.seq));
  assert.ok(expected.length > 0, 'make run\'s world has submissions');
  const filtered = (await visit(page, '#/audit?action=job.submit', 'audit'))
      .locator('[data-testid="audit-table"]');
  await eventually(async () => (await ids(filtered)).join() === expected.join(),
                   'the filtered events to be listed', 15_000);
  for (const text of await filtered.locator('tbody tr').allTextContents()) {
    assert.match(text, /job\.submit/, 'only job.submit events');
  }

  // The download, or the error the form shows instead (said at once, not after a timeout).
  const downloaded = page.waitForEvent('download', {timeout: 30_000});
  await root.locator('button[data-action="export"]').first().click();
  const error = root.locator('[data-testid="error"]').first();
  const refused = error.waitFor({timeout: 30_000}).then(async () => {
    throw new Error(`the export was refused: ${await error.textContent()}`);
  });
  const download = await Promise.race([downloaded, refused]);
  refused.catch(() => {});
  const file = join(SHOTS, '..', 'console-audit-bundle.json');
  await download.saveAs(file);
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  assert.ok(Array.isArray(bundle.events) && bundle.events.length > 0, 'the bundle holds events');

  const key = join(RUN_DIR, 'public.key');
  const {stdout} = await cli(tok['audit-office'], ['audit', 'verify-bundle', file,
                                                    '--public-key', key, '--json']);
  const verdict = JSON.parse(stdout);
  assert.equal(verdict.ok, true, `verify-bundle: ${stdout}`);

  // A bundle changed by one character no longer verifies: the check above can fail.
  const forged = file.replace(/\.json$/, '-forged.json');
  bundle.events[0].actor = `${bundle.events[0].actor}x`;
  writeFileSync(forged, JSON.stringify(bundle));
  await assert.rejects(cli(tok['audit-office'], ['audit', 'verify-bundle', forged,
                                                 '--public-key', key]),
                       'a forged bundle is refused');
  assert.deepEqual(page.problems, []);
});
