// What the browser tests share: the built site (dist/) behind a plain static file server
// (Python's http.server: the page must need no server of ours), Debian's Chromium with WebGPU
// through SwiftShader, and helpers to drive the page.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { DIST, ROOT, launchChromium, staticSite } from './chromium.mjs';

export { DIST, ROOT, staticSite };
export const PHOTO = join(ROOT, 'tests/web/cat-96x72.png');
export const LONG = 600_000;

export const launch = () => launchChromium();

/** A fresh context on `base?query`, ready and with the link's recipe in the form: `{ page, context, foreign }` (requests off the site). */
export async function open(browser, base, query, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  const foreign = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`page: ${message.text()}`);
  });
  await page.goto(`${base}?${query}`);
  await state(page, 'ready');
  // The engine checks the link's recipe after 'ready'; the form shows it once it has.
  await page.waitForFunction(() => document.body.dataset.recipe === 'known', null, { timeout: LONG, polling: 100 });
  return { page, context, foreign };
}

/** The engine's worker script and its wasm glue, as the built site names them. */
export const WORKER = /\/assets\/worker\.[0-9a-f]+\.js$/;
export const GLUE = /\/assets\/deepdream\.[0-9a-f]+\.js$/;

/** Serves the site's scripts matching `pattern` in `context` with `before` and `after` added. */
export function patchScript(context, pattern, { before = '', after = '' }) {
  return context.route(pattern, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: `${before}${await response.text()}${after}` });
  });
}

export function state(page, wanted, timeout = LONG) {
  return page.waitForFunction((s) => document.body.dataset.state === s, wanted, { timeout, polling: 100 });
}

export async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: file.suggestedFilename(), bytes: readFileSync(await file.path()) };
}

/** The state the page settles in ('done' or 'error') after `file` is chosen. */
export async function dreamFile(page, file, timeout = LONG) {
  await page.evaluate(() => {
    window.settled = null;
    const observer = new MutationObserver(() => {
      const s = document.body.dataset.state;
      if (s === 'done' || s === 'error') {
        window.settled = s;
        observer.disconnect();
      }
    });
    observer.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  });
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => window.settled, null, { timeout, polling: 500 });
  return page.evaluate(() => window.settled);
}

export function meanAbsDiff(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/**
 * The built site behind a static server and one browser, for the tests of one file: registers
 * the before/after hooks that start and stop them. `open(query, options)` opens the page as
 * `open` above; `site` and `browser` are there once the hooks have run.
 */
export function withSite() {
  const env = {};
  before(async () => {
    env.site = await staticSite();
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.site?.close();
  });
  env.open = (query, options) => open(env.browser, env.site.base, query, options);
  return env;
}
