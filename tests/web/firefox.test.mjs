// The built site in a second browser: Debian's Firefox ESR, driven by puppeteer-core over WebDriver
// BiDi. Firefox ESR on Linux has no WebGPU, so a new user there must get the page on its CPU engine
// by itself, with a calm note saying why (not the red error box), dream a photo, download a PNG
// with its recipe, and have the page again offline after one visit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { readPng, rgb } from '../../www/png.mjs';
import { LONG, PHOTO, meanAbsDiff, staticSite } from './browser.mjs';

// A small recipe: one octave of two steps on an early layer takes about a second on the CPU.
const QUERY = 'layer=inception_3a/output&octaves=1&steps=2&jitter=0&seed=3';
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

let site;
let browser;
const downloads = mkdtempSync(join(tmpdir(), 'deepdream-firefox-'));

before(async () => {
  site = await staticSite();
  browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    // One evaluate is short (the waits below poll), so a stuck call fails in a minute, not three.
    protocolTimeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
  await site?.close();
  rmSync(downloads, { recursive: true, force: true });
});

/**
 * A fresh user context (its own service workers and caches) on a new page, its downloads saved
 * into a folder of their own: `{ context, page, folder, problems }`, problems being the page's
 * console errors and uncaught exceptions.
 */
async function fresh() {
  const folder = mkdtempSync(join(downloads, 'context-'));
  const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: folder } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`exception: ${error.message}`));
  return { context, page, folder, problems };
}

/** Polls `fn(arg)` in the page until it is truthy; returns that value. */
async function until(page, fn, arg, timeout = LONG, what = String(fn)) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** What the page shows a user: its state and engine, the red box and the engine note if visible. */
function shown(page) {
  return page.evaluate(() => {
    const visible = (el) => !!el && !el.hidden && el.getClientRects().length > 0 &&
      getComputedStyle(el).visibility !== 'hidden';
    const text = (id) => {
      const el = document.getElementById(id);
      return visible(el) ? el.textContent.trim().replace(/\s+/g, ' ') : null;
    };
    return {
      state: document.body.dataset.state,
      backend: document.body.dataset.backend,
      alert: text('alert'),
      note: text('engine-note'),
    };
  });
}

/** Waits until the page has settled after loading ('ready', or 'error' when it failed), and checks it is ready on the CPU. */
async function readyOnCpu(page) {
  await until(page, () => ['ready', 'error'].includes(document.body.dataset.state), null, LONG, 'ready or error');
  const now = await shown(page);
  assert.equal(now.state, 'ready', `the page did not start by itself: ${JSON.stringify(now)}`);
  assert.equal(now.backend, 'cpu', JSON.stringify(now));
  assert.equal(now.alert, null, 'no red error box');
  assert.match(now.note ?? '', /WebGPU/, `a calm note says why the CPU: ${JSON.stringify(now)}`);
  return now;
}

/** Chooses `file` in the file input as a user would; the states the page goes through until it settles. */
async function dream(page, file) {
  await page.evaluate(() => {
    window.states = [];
    new MutationObserver(() => window.states.push(document.body.dataset.state))
      .observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  });
  await (await page.$('#file')).uploadFile(file);
  await until(page, () => ['done', 'error'].includes(document.body.dataset.state), null, LONG, 'done or error');
  return page.evaluate(() => window.states);
}

/** Clicks `selector` (a download link) and reads the file it saved: `{ name, bytes }`. */
async function download(page, folder, selector) {
  const before = new Set(readdirSync(folder));
  await page.click(selector);
  const end = Date.now() + 30_000;
  for (;;) {
    // Firefox writes NAME.part and renames it to NAME once the file is whole.
    const names = readdirSync(folder).filter((n) => !before.has(n));
    const name = names.find((n) => !n.endsWith('.part') && !names.includes(`${n}.part`) && statSync(join(folder, n)).size > 0);
    if (name) return { name, bytes: readFileSync(join(folder, name)) };
    if (Date.now() > end) throw new Error(`no download from ${selector} (${names.join(', ') || 'nothing'} in ${folder})`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

test('Firefox: the page starts on its CPU engine by itself, with a note on WebGPU and no error', { timeout: LONG }, async () => {
  const { context, page, problems } = await fresh();
  try {
    await page.goto(`${site.base}?${QUERY}`);
    const facts = await page.evaluate(() => ({
      gpu: 'gpu' in navigator, videoEncoder: typeof VideoEncoder, offscreen: typeof OffscreenCanvas,
      caches: typeof caches, serviceWorker: 'serviceWorker' in navigator,
    }));
    console.log(`${await browser.version()}: ${JSON.stringify(facts)}`);
    const now = await readyOnCpu(page);
    console.log(`engine note: ${now.note}`);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('Firefox: a chosen photo dreams on the CPU, and the PNG download carries its recipe', { timeout: LONG }, async () => {
  const { context, page, folder, problems } = await fresh();
  try {
    await page.goto(`${site.base}?${QUERY}`);
    await readyOnCpu(page);
    // The engine checks the link's recipe after 'ready'; the form shows it once it has.
    await until(page, () => document.body.dataset.recipe === 'known', null, LONG, 'the recipe known');
    const started = Date.now();
    const states = await dream(page, PHOTO);
    console.log(`dream of 96x72, 1 octave x 2 steps on Firefox's CPU engine: ${Date.now() - started} ms`);
    const settled = await shown(page);
    assert.deepEqual(states, ['dreaming', 'done'], JSON.stringify(settled));
    assert.equal(settled.alert, null);

    const file = await download(page, folder, '#download');
    assert.equal(file.name, 'cat-96x72-dream.png');
    const png = readPng(file.bytes);
    assert.deepEqual([png.width, png.height], [96, 72]);
    assert.ok(meanAbsDiff(rgb(png), rgb(readPng(readFileSync(PHOTO)))) > 0.5, 'it dreamed');
    assert.match(png.text.deepdream, /^layer=inception_3a\/output&octaves=1&octave-scale=1.4&steps=2&step-size=1.5&jitter=0&/);
    assert.match(png.text.deepdream, /&seed=3(&|$)/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('Firefox: after one visit the page starts on the CPU and dreams with the network gone', { timeout: LONG }, async () => {
  const own = await staticSite(); // this test stops its server
  const { context, page, folder, problems } = await fresh();
  try {
    await page.goto(`${own.base}?${QUERY}`);
    await readyOnCpu(page);
    // The first visit installs the service worker, which claims the page.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await until(page, () => navigator.serviceWorker.controller !== null, null, LONG, 'the service worker in control');

    await own.close(); // the network is gone: nothing answers on that port any more
    await page.setOfflineMode(true);
    await page.reload();
    await readyOnCpu(page);
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true, 'the service worker answered');
    assert.deepEqual(await dream(page, PHOTO), ['dreaming', 'done'], JSON.stringify(await shown(page)));
    const png = readPng((await download(page, folder, '#download')).bytes);
    assert.deepEqual([png.width, png.height], [96, 72]);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await own.close();
  }
});
