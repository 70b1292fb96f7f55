// The static site as a host serves it and a user keeps it: dist/ behind Python's http.server,
// used offline after one visit, installable, and updated to a new version in one step, with a
// tab still open on the old version going on with its own files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPng, rgb } from '../../www/png.mjs';
import { LONG, PHOTO, ROOT, download, dreamFile, launch, meanAbsDiff, state, staticSite } from './browser.mjs';

const QUERY = 'layer=inception_3a/output&octaves=1&steps=1&jitter=0';
let browser;
let tree; // the tree the versions here are built from (see `build`)

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (tree) rmSync(tree, { recursive: true, force: true });
});

/**
 * This tree's site built into `dir` as `version`, from a copy of the tree (links to its files)
 * in which the engine's worker carries the version: as in a release that changed the engine, the
 * worker's hashed name, and so the names of the files that load it, differ between versions. The
 * icons, the same in every version and most of a build's time to draw, are drawn once.
 */
function build(dir, version) {
  if (!tree) {
    tree = mkdtempSync(join(tmpdir(), 'deepdream-tree-'));
    for (const entry of readdirSync(ROOT)) if (entry !== 'www') symlinkSync(join(ROOT, entry), join(tree, entry));
    mkdirSync(join(tree, 'www'));
    for (const entry of readdirSync(join(ROOT, 'www'))) {
      // build.mjs finds the tree from where it lies, so it is a copy; the rest are links.
      if (entry === 'build.mjs') copyFileSync(join(ROOT, 'www', entry), join(tree, 'www', entry));
      else if (entry !== 'worker.js') symlinkSync(join(ROOT, 'www', entry), join(tree, 'www', entry));
    }
  }
  writeFileSync(join(tree, 'www/worker.js'), `${readFileSync(join(ROOT, 'www/worker.js'), 'utf8')}\n// ${version}\n`);
  execFileSync('node', [join(tree, 'www/build.mjs'), dir, `--version=${version}`], { stdio: 'pipe' });
  const icons = join(tree, 'www/.icons'); // www/ is the copy's own folder, the rest links
  if (!existsSync(icons)) {
    mkdirSync(icons);
    const drawn = readdirSync(join(dir, 'assets')).filter((f) => /^icon-\d+\./.test(f));
    for (const file of drawn) copyFileSync(join(dir, 'assets', file), join(icons, `${/^icon-(\d+)/.exec(file)[1]}.png`));
    unlinkSync(join(tree, 'www/icon.mjs'));
    writeFileSync(join(tree, 'www/icon.mjs'), `import { readFileSync } from 'node:fs';
export * from ${JSON.stringify(join(ROOT, 'www/icon.mjs'))};
export const icon = (size) => readFileSync(${JSON.stringify(icons)} + \`/\${size}.png\`);
`);
  }
}

/** What the service worker built into `dir` precaches, and the cache it keeps that in. */
function shell(dir) {
  const sw = readFileSync(join(dir, 'sw.js'), 'utf8');
  return {
    files: JSON.parse(/const FILES = (\[.*\]);/.exec(sw)[1]),
    cache: `deepdream-site-${/const VERSION = '([^']+)';/.exec(sw)[1]}`,
  };
}

/** A new tab of `context` on the site at `base`, ready and controlled by its service worker. */
async function visit(context, base, query = QUERY) {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`page: ${message.text()}`);
  });
  await page.goto(`${base}?${query}`);
  await state(page, 'ready');
  await controlled(page);
  return page;
}

/** Reloads `page`, still on its version, until it offers the new one the host now has. */
async function offered(page) {
  await page.reload(); // a navigation is when the browser looks for a new service worker
  await state(page, 'ready');
  await page.waitForSelector('#update:not([hidden])', { timeout: LONG });
}

/** Clicks `selector` and waits for the page to load again. */
async function reloadsOn(page, selector) {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
  await state(page, 'ready');
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
    // A first visit's service worker taking the page over is no new version.
    await page.waitForTimeout(500);
    assert.equal(await page.isHidden('#update'), true, 'a first visit offers no update');
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

test('the service worker answers only for the page, not for the other pages in its scope', { timeout: LONG }, async () => {
  // At an origin's root the worker's scope holds the owner's other pages too.
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-site-'));
  build(dir, 'scope');
  writeFileSync(join(dir, 'other.html'), '<!doctype html><title>Another page</title>');
  const site = await staticSite(dir);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${site.base}?${QUERY}`);
    await controlled(page);
    for (const path of [`?${QUERY}`, `index.html?${QUERY}`]) {
      const response = await page.goto(`${site.base}${path}`);
      assert.equal(response.fromServiceWorker(), true, path);
      assert.match(await page.title(), /^DeepDream/, path);
    }
    const other = await page.goto(`${site.base}other.html`);
    assert.equal(other.fromServiceWorker(), false, 'other.html is not the page');
    assert.equal(await page.title(), 'Another page');
    const missing = await page.goto(`${site.base}other/page.html`);
    assert.equal(missing.status(), 404);
    assert.doesNotMatch(await page.content(), /<title>DeepDream/);
  } finally {
    await context.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new version of the site replaces the old one in one step, never a mix, and the one before stays cached', { timeout: LONG }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-site-'));
  build(dir, 'first');
  const kept = [shell(dir).cache]; // the caches of the versions, in order
  const site = await staticSite(dir);
  const context = await browser.newContext();
  try {
    const page = await visit(context, site.base);
    assert.match(await page.textContent('#version'), /Version first\./);
    // Two updates: the second shows that only the version just before the new one stays cached.
    for (const [old, version] of [['first', 'second'], ['second', 'third']]) {
      build(dir, version); // published while the page is open
      const { files, cache } = shell(dir);
      kept.push(cache);
      await offered(page);
      // The old version still runs, whole, and offers the new one.
      assert.match(await page.textContent('#version'), new RegExp(`Version ${old}\\.`));
      await reloadsOn(page, '#update-now');
      assert.match(await page.textContent('#version'), new RegExp(`Version ${version}\\.`));
      // The new version's cache holds exactly its files, the version before's is kept for a tab
      // still on it, older ones are gone; and the page ran only the new version's files.
      const cached = await page.evaluate(async (name) => ({
        names: (await caches.keys()).filter((k) => k.startsWith('deepdream-site-')),
        urls: (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname.slice(1) || './'),
      }), cache);
      assert.deepEqual(cached.names.sort(), kept.slice(-2).sort(), version);
      assert.deepEqual(cached.urls.sort(), [...files].sort(), version);
      const loaded = await page.evaluate(() => performance.getEntriesByType('resource')
        .map((e) => new URL(e.name).pathname.slice(1)).filter((p) => p.startsWith('assets/')));
      assert.ok(loaded.some((p) => /^assets\/app\./.test(p)), loaded.join(', '));
      for (const path of loaded) assert.ok(files.includes(path), `${path} is not the ${version} version's`);
    }
  } finally {
    await context.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two tabs and an update: the tab that did not take it goes on with its own version until it reloads', { timeout: LONG }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-site-'));
  build(dir, 'first');
  const worker = shell(dir).files.find((f) => /^assets\/worker\./.test(f));
  const site = await staticSite(dir);
  const context = await browser.newContext({ acceptDownloads: true });
  try {
    const [one, two] = [await visit(context, site.base), await visit(context, site.base)];
    build(dir, 'second'); // the host now has only the second version's files
    assert.equal((await fetch(`${site.base}${worker}`)).status, 404, 'the first version\'s worker is gone from the host');
    await offered(one);
    await reloadsOn(one, '#update-now');
    assert.match(await one.textContent('#version'), /Version second\./);

    // The other tab says so, and goes on with the first version.
    await two.waitForFunction(() => /installed in another tab/.test(document.getElementById('update-text').textContent),
      null, { timeout: LONG, polling: 100 });
    assert.equal(await two.isVisible('#update'), true);
    assert.equal((await two.textContent('#update-now')).trim(), 'Reload');
    assert.match(await two.textContent('#version'), /Version first\./);
    // It still loads its own files: a new engine worker (the first version's worker script, which
    // only that version's cache still has) comes up, and dreams.
    await two.evaluate(() => {
      window.seen = [];
      new MutationObserver(() => window.seen.push(document.body.dataset.state))
        .observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
    });
    await two.click('#advanced > summary');
    // The box shows the engine's device: on the CPU already, it goes off and on, a worker each time.
    if (await two.isChecked('#cpu')) await two.uncheck('#cpu');
    await two.check('#cpu');
    await two.waitForFunction(() => window.seen.includes('loading') && ['ready', 'error'].includes(document.body.dataset.state),
      null, { timeout: LONG, polling: 100 });
    assert.equal(await two.getAttribute('body', 'data-state'), 'ready', await two.textContent('[role="alert"]'));
    assert.equal(await dreamFile(two, PHOTO), 'done', await two.textContent('[role="alert"]'));
    assert.equal(await two.getAttribute('body', 'data-backend'), 'cpu');
    assert.match(await two.textContent('#version'), /Version first\./);

    // Reload: the result is not downloaded, so the first click warns and the second reloads.
    await two.click('#update-now');
    assert.match(await two.textContent('#update-text'), /the last dream, which has not been downloaded/);
    assert.match(await two.textContent('#version'), /Version first\./);
    await reloadsOn(two, '#update-now');
    assert.match(await two.textContent('#version'), /Version second\./);
  } finally {
    await context.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Update now during a dream does not reload: it warns, and updates once the result is downloaded', { timeout: LONG }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-site-'));
  build(dir, 'first');
  const site = await staticSite(dir);
  const context = await browser.newContext({ acceptDownloads: true });
  try {
    // A dream of a second or two: Update now is clicked a moment after it starts.
    const page = await visit(context, site.base, 'layer=inception_3a/output&octaves=2&steps=10&jitter=0');
    build(dir, 'second');
    await offered(page);
    let reloaded = false;
    page.on('load', () => { reloaded = true; });
    await page.setInputFiles('#file', PHOTO);
    await state(page, 'dreaming');
    await page.click('#update-now');
    assert.match(await page.textContent('#update-text'), /the dream in progress would be lost/);
    await page.waitForFunction(() => document.body.dataset.state !== 'dreaming', null, { timeout: LONG, polling: 100 });
    assert.equal(reloaded, false, 'the page reloaded');
    assert.equal(await page.getAttribute('body', 'data-state'), 'done', await page.textContent('[role="alert"]'));
    assert.match(await page.textContent('#version'), /Version first\./);
    // The finished dream is new at stake: Update now warns again, and still does not reload.
    await page.click('#update-now');
    assert.match(await page.textContent('#update-text'), /the last dream, which has not been downloaded/);
    assert.equal(reloaded, false, 'the page reloaded with a result not downloaded');
    // Downloaded, nothing is lost: Update now updates at once.
    await download(page, '#download');
    await reloadsOn(page, '#update-now');
    assert.match(await page.textContent('#version'), /Version second\./);
  } finally {
    await context.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
