// The static site as a host serves it and a user keeps it: dist/ behind Python's http.server,
// used offline after one visit, installable, and updated to a new version in one step.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPng, rgb } from '../../www/png.mjs';
import { LONG, PHOTO, ROOT, download, dreamFile, launch, meanAbsDiff, state, staticSite } from './browser.mjs';

const QUERY = 'layer=inception_3a/output&octaves=1&steps=1&jitter=0';
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

function build(dir, version) {
  execFileSync('node', [join(ROOT, 'www/build.mjs'), dir, `--version=${version}`], { stdio: 'pipe' });
}

/** The page once its service worker controls it (a first visit installs it and claims the page). */
async function controlled(page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: LONG });
}

test('every file a version needs has a hashed name, and the host headers are written', () => {
  const dir = join(ROOT, 'dist');
  const top = readdirSync(dir).sort();
  assert.deepEqual(top, ['.nojekyll', '_headers', 'assets', 'index.html', 'manifest.webmanifest', 'sw.js', 'weights']);
  const files = readdirSync(dir, { recursive: true }).filter((f) => /^(assets|weights)\/.*\./.test(f));
  assert.ok(files.some((f) => f.startsWith('assets/samples/')) && files.some((f) => f.startsWith('assets/looks/')));
  for (const file of files) assert.match(file, /\.[0-9a-f]{12}\.(js|css|wasm|png|jpg|safetensors)(\.sha256)?$/, file);
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /www\//, 'no source paths left');
  assert.match(html, /<link rel="manifest" href="manifest.webmanifest">/);
  const headers = readFileSync(join(dir, '_headers'), 'utf8');
  assert.match(headers, /^\/\*\n {2}content-security-policy: .*frame-ancestors 'none'/m);
  assert.match(headers, /^\/assets\/\*\n {2}cache-control: public, max-age=31536000, immutable/m);
  assert.match(headers, /^\/sw\.js\n {2}cache-control: no-cache/m);
});

test('after one visit the page loads, dreams and downloads with the network gone', { timeout: LONG }, async () => {
  const site = await staticSite();
  const context = await browser.newContext({ acceptDownloads: true });
  try {
    const page = await context.newPage();
    await page.goto(`${site.base}?${QUERY}`);
    await state(page, 'ready');
    await controlled(page);
    // Installable: a manifest with icons drawn at 192 and 512 px.
    const manifest = await page.evaluate(async () => (await fetch('manifest.webmanifest')).json());
    assert.equal(manifest.display, 'standalone');
    const sizes = [];
    for (const { src, sizes: declared } of manifest.icons) {
      const bytes = await page.evaluate(async (url) => [...new Uint8Array(await (await fetch(url)).arrayBuffer())], src);
      const png = readPng(Buffer.from(bytes));
      assert.equal(`${png.width}x${png.height}`, declared);
      const values = rgb(png);
      const range = values.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [255, 0]);
      assert.ok(range[1] - range[0] > 200, 'the icon is a picture, not a flat placeholder');
      sizes.push(declared);
    }
    assert.deepEqual(sizes, ['192x192', '512x512']);

    await site.close(); // the network is gone: nothing answers on that port any more
    await context.setOffline(true);
    await page.reload();
    await state(page, 'ready');
    assert.equal(await page.isHidden('[role="alert"]'), true, await page.textContent('[role="alert"]'));
    assert.equal(await dreamFile(page, PHOTO), 'done', await page.textContent('[role="alert"]'));
    const png = readPng((await download(page, '#download')).bytes);
    assert.deepEqual([png.width, png.height], [96, 72]);
    assert.ok(meanAbsDiff(rgb(png), rgb(readPng(readFileSync(PHOTO)))) > 0.5, 'it dreamed');
  } finally {
    await context.close();
    await site.close();
  }
});

test('a new version of the site replaces the old one in one step, never a mix', { timeout: LONG }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-site-'));
  build(dir, 'first');
  const site = await staticSite(dir);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${site.base}?${QUERY}`);
    await state(page, 'ready');
    await controlled(page);
    assert.match(await page.textContent('#version'), /Version first\./);

    build(dir, 'second'); // published while the page is open
    const files = JSON.parse(/const FILES = (\[.*\]);/.exec(readFileSync(join(dir, 'sw.js'), 'utf8'))[1]);
    await page.reload();
    // The old version still runs, whole, and offers the new one.
    await state(page, 'ready');
    assert.match(await page.textContent('#version'), /Version first\./);
    await page.waitForSelector('#update:not([hidden])', { timeout: LONG });
    await Promise.all([page.waitForEvent('load'), page.click('#update-now')]);
    await state(page, 'ready');
    assert.match(await page.textContent('#version'), /Version second\./);
    // One cache, holding exactly the new version's files, and the page ran only those.
    const cached = await page.evaluate(async () => {
      const names = (await caches.keys()).filter((k) => k.startsWith('deepdream-site-'));
      const cache = await caches.open(names[0]);
      const urls = (await cache.keys()).map((r) => new URL(r.url).pathname.slice(1) || './');
      return { names, urls };
    });
    assert.equal(cached.names.length, 1, cached.names.join(', '));
    assert.deepEqual(cached.urls.sort(), [...files].sort());
    const loaded = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => new URL(e.name).pathname.slice(1)).filter((p) => p.startsWith('assets/')));
    for (const path of loaded) assert.ok(files.includes(path), `${path} is not the new version's`);
  } finally {
    await context.close();
    await site.close();
  }
});
