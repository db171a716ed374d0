// What the console's browser tests share: the world tests/console/run.sh started (its URL,
// tokens and binaries, from the environment), Debian's chromium launched through
// playwright-core, sign-in through the sign-in form, waiting for a page's data-ready,
// the API for setting up and checking, and screenshots into the build tree.
import {chromium} from 'playwright-core';
import {after} from 'node:test';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the console tests through tests/console/run.sh`);
  return v;
}

export const URL_ = env('STRAITS_URL');
export const RUN_DIR = env('STRAITS_RUN_DIR');
export const BIN = env('STRAITS_BIN');
export const SOURCE_DIR = env('STRAITS_SOURCE_DIR');
export const SHOTS = env('STRAITS_SCREENSHOTS');

// How long a page may take to draw its first data, and a job to run (the example program's
// short runs take seconds; the agent reports every few seconds).
export const PAGE_TIMEOUT = 15_000;
export const JOB_TIMEOUT = 90_000;

// The tokens of make run's world: the admin's (token file) and the seeded users'
// (seed-tokens.json: {"users":[{"user","role","org","token"}]}).
export function tokens() {
  const out = {admin: readFileSync(join(RUN_DIR, 'admin.token'), 'utf8').trim()};
  const seeded = JSON.parse(readFileSync(join(RUN_DIR, 'seed-tokens.json'), 'utf8'));
  for (const u of seeded.users) out[u.user] = u.token;
  return out;
}

// The flags of the environment notes: no GPU, no QUIC, and above all no background
// networking (the machine's network is closed; chromium would keep trying). playwright-core
// adds --headless and a fresh temporary --user-data-dir of its own to every launch.
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A test file's browser and the world's tokens: `await s.start()` gives {browser, tok}
// (launched once, on first call); closed after the file's tests.
export function session() {
  let started = null;
  const s = {
    start() {
      started ??= launch().then((browser) => ({browser, tok: tokens()}));
      return started;
    },
  };
  after(async () => { if (started) await (await started).browser.close(); });
  return s;
}

// A fresh context (its own sessionStorage) at a width; the page records console errors and
// any request to another host, which the tests assert never happen.
export async function newPage(browser, width = 1280) {
  const context = await browser.newContext({viewport: {width, height: 900}});
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== new URL(URL_).origin) {
      page.problems.push(`request to another host: ${r.url()}`);
    }
  });
  return page;
}

// Signs in through the sign-in form, as a person would, and waits for the overview.
export async function signIn(page, token) {
  await page.goto(URL_ + '/#/signin');
  const form = page.locator('form[data-testid="signin-form"]');
  await form.waitFor({timeout: PAGE_TIMEOUT});
  await form.locator('[name="token"]').fill(token);
  await form.locator('button[type="submit"], button[data-action="submit"]').first().click();
  await waitPage(page, 'overview');
}

// Waits for page NAME's root to be drawn (data-ready="true"); returns its locator.
export async function waitPage(page, name, timeout = PAGE_TIMEOUT) {
  const root = page.locator(`[data-page="${name}"][data-ready="true"]`);
  await root.waitFor({timeout});
  return root;
}

// Goes to a hash route and waits for its page.
export async function visit(page, hash, name) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  return waitPage(page, name);
}

// The data-id of every row under a locator.
export async function ids(locator) {
  return locator.locator('[data-id]').evaluateAll((els) => els.map((e) => e.dataset.id));
}

export async function html(page) {
  return page.evaluate(() => document.documentElement.outerHTML);
}

// The whole page into SHOTS/NAME.png; with doc, also the first screen (1280 x 900 at most)
// into SHOTS/docs/DOC.png, the pictures docs/console.md shows (copied from a run).
export async function screenshot(page, name, doc) {
  await page.screenshot({path: join(SHOTS, `${name}.png`), fullPage: true});
  if (doc) await page.screenshot({path: join(SHOTS, 'docs', `${doc}.png`)});
}

// The API, as the CLI and the tests' own setup use it.
export async function api(token, path, {method = 'GET', body} = {}) {
  const res = await fetch(URL_ + path, {
    method,
    headers: {Authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : {'Content-Type': 'application/json'})},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return data;
}

// The straits CLI against the world (STRAITS_URL and the given token).
export async function cli(token, args) {
  return promisify(execFile)(BIN, args, {
    env: {...process.env, STRAITS_URL: URL_, STRAITS_TOKEN: token},
    maxBuffer: 64 << 20,
  });
}

// Polls fn until it returns a truthy value or the time is up; then throws what it last saw.
export async function eventually(fn, what, timeout = JOB_TIMEOUT, every = 500) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
