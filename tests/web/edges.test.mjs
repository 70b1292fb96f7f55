// The page's edge cases, each found by a review as a dead end or a lost result: a failing video
// writer, an engine that dies mid-animation, a link with keys that are not the recipe's, controls
// used before the engine is up, and the like. Faults are injected the way a browser would show
// them (an encoder that throws, a wasm trap), never through a hook in the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readPng, rgb } from '../../www/png.mjs';
import {
  GLUE, LONG, PHOTO, WORKER, download, dreamFile, meanAbsDiff, patchScript, state, withSite,
} from './browser.mjs';

const QUICK = 'layer=inception_3a/output&octaves=1&steps=1&jitter=0';
const ANIMATION = `${QUICK}&frames=4&zoom=1.1&steps-per-frame=1&fps=12`;

const env = withSite();
const { open } = env;

/** A context whose wasm glue module gets `code` appended (it can wrap the Engine's methods). */
async function patchedEngine(code, options = {}) {
  const context = await env.browser.newContext({ acceptDownloads: true, serviceWorkers: 'block', ...options });
  await patchScript(context, GLUE, { after: `\n${code}` });
  return context;
}

/** Opens `query` in `context` and waits for the engine and the link's recipe. */
async function openIn(context, query) {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`page: ${message.text()}`);
  });
  await page.goto(`${env.site.base}?${query}`);
  await state(page, 'ready');
  await page.waitForFunction(() => document.body.dataset.recipe === 'known');
  return page;
}

/** Makes the engine's `method` trap (as a Rust panic does) on its `nth` call. */
const trapOn = (method, nth) => `{
  const original = Engine.prototype.${method};
  let calls = 0;
  Engine.prototype.${method} = function (...args) {
    if (++calls === ${nth}) throw new WebAssembly.RuntimeError('unreachable executed (injected)');
    return original.apply(this, args);
  };
}`;

test('a video that cannot be finished still ends the job: the still result stays and the frames come as a ZIP', { timeout: LONG }, async () => {
  const context = await env.browser.newContext({ acceptDownloads: true });
  await context.addInitScript(() => {
    VideoEncoder.prototype.flush = () => Promise.reject(new Error('the encoder failed at the end (injected)'));
  });
  const page = await openIn(context, ANIMATION);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  assert.match(await page.textContent('#note'), /the video could not be finished.*ZIP of PNGs/);
  assert.equal((await download(page, '#download-video')).name, 'cat-96x72-zoom.zip');
  assert.equal(readPng((await download(page, '#download')).bytes).width, 96);
  // Not stuck: the next photo dreams.
  assert.equal(await dreamFile(page, 'tests/inputs/alpha.png'), 'done');
  await context.close();
});

test('no codec for the size, or an encoder failing mid-way: the frames come as a ZIP, and the page says why', { timeout: LONG }, async () => {
  const none = await env.browser.newContext({ acceptDownloads: true });
  await none.addInitScript(() => {
    VideoEncoder.isConfigSupported = async (config) => ({ supported: false, config });
  });
  let page = await openIn(none, ANIMATION);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  assert.match(await page.textContent('#note'), /no video encoder of this browser takes 96×72 frames, so the frames come as a ZIP/);
  assert.equal((await download(page, '#download-video')).name, 'cat-96x72-zoom.zip');
  await none.close();
  const failing = await env.browser.newContext({ acceptDownloads: true });
  await failing.addInitScript(() => {
    const encode = VideoEncoder.prototype.encode;
    let frames = 0;
    VideoEncoder.prototype.encode = function (...args) {
      if (++frames === 3) throw new Error('out of encoder memory (injected)');
      return encode.apply(this, args);
    };
  });
  page = await openIn(failing, ANIMATION);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  assert.match(await page.textContent('#note'), /the video encoder failed at frame 3.*ZIP of PNGs/);
  const zip = await download(page, '#download-video');
  assert.equal(zip.name, 'cat-96x72-zoom.zip');
  assert.equal(zip.bytes.readUInt32LE(zip.bytes.length - 22), 0x06054b50, 'a whole ZIP');
  assert.equal(zip.bytes.readUInt16LE(zip.bytes.length - 12), 4, 'all four frames in it');
  await failing.close();
});

test('an engine that dies mid-animation keeps the finished frames, and a new engine comes up', { timeout: LONG }, async () => {
  // The third frame's hand-over traps: two frames are finished.
  const context = await patchedEngine(trapOn('advance', 3));
  const page = await openIn(context, ANIMATION);
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => !document.getElementById('alert').hidden, null, { timeout: LONG, polling: 100 });
  assert.match(await page.textContent('#alert'), /the 2 finished frames are kept as a video.*restarted/);
  const video = await download(page, '#download-video');
  assert.equal(video.name, 'cat-96x72-zoom.mp4');
  assert.ok(video.bytes.length > 1000);
  // The engine is up again (the next dream is the next test's).
  await state(page, 'ready');
  await context.close();
});

test('a failed dream leaves the last result downloadable under its own name', { timeout: LONG }, async () => {
  // The second dream traps at its start, before any preview of it.
  const context = await patchedEngine(trapOn('begin', 2));
  const page = await openIn(context, QUICK);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  const first = await download(page, '#download');
  await page.setInputFiles('#file', { name: 'other.png', mimeType: 'image/png', buffer: readFileSync('tests/inputs/alpha.png') });
  await page.waitForFunction(() => !document.getElementById('alert').hidden, null, { timeout: LONG, polling: 100 });
  assert.equal(await page.isVisible('#download'), true, 'the last result is still offered');
  const kept = await download(page, '#download');
  assert.equal(kept.name, 'cat-96x72-dream.png', 'named after its own photo');
  assert.deepEqual(kept.bytes, first.bytes);
  // A refused file (not a crash) keeps it too.
  await state(page, 'ready');
  await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('just text') });
  await state(page, 'error');
  assert.equal((await download(page, '#download')).name, 'cat-96x72-dream.png');
  await context.close();
});

test('a link with keys that are not the recipe’s opens with its recipe, and they leave the address', { timeout: LONG }, async () => {
  const { page, context } = await open(`${QUICK}&seed=7&fbclid=IwAR0xyz&utm_source=chat`);
  assert.equal(await page.isVisible('[role="alert"]'), false);
  const search = await page.evaluate(() => location.search);
  assert.match(search, /seed=7/);
  assert.doesNotMatch(search, /fbclid|utm_source/);
  assert.equal(await page.inputValue('#recipe input[name="steps"]'), '1');
  // A bad value of the recipe's own keys is still refused by name.
  const bad = await open(`${QUICK}&steps=zero&fbclid=x`);
  assert.match(await bad.page.textContent('#alert'), /steps = zero/);
  await context.close();
  await bad.context.close();
});

test('controls used while the network loads wait for it, and the link’s other settings survive', { timeout: LONG }, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route(/\/weights\/googlenet\.[0-9a-f]+\.safetensors\.sha256$/, async (route) => {
    await held;
    await route.continue();
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${env.site.base}?${QUICK}&seed=5&steps=2`);
  await page.waitForSelector('#presets button[data-layer="inception_4a/output"]');
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'loading');
  await page.click('#presets button[data-layer="inception_4a/output"]');
  await page.setInputFiles('#file', PHOTO);
  release();
  await state(page, 'done');
  const search = await page.evaluate(() => location.search);
  assert.match(search, /^\?layer=inception_4a\/output&octaves=1&.*steps=2&.*seed=5/);
  assert.equal(await page.isVisible('[role="alert"]'), false);
  assert.deepEqual(errors, []);
  await context.close();
});

test('Dream more is the recipe’s next pass: the address and the PNG make the same picture again', { timeout: LONG }, async () => {
  const { page, context } = await open(QUICK);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  for (const passes of [2, 3]) {
    await page.click('#more');
    await page.waitForFunction((n) => location.search.includes(`passes=${n}`), passes);
    await state(page, 'done');
  }
  const more = readPng((await download(page, '#download')).bytes);
  assert.match(more.text.deepdream, /passes=3/);
  // The same recipe from the start, in one go.
  const again = await open(more.text.deepdream);
  assert.equal(await dreamFile(again.page, PHOTO), 'done');
  const once = readPng((await download(again.page, '#download')).bytes);
  assert.equal(meanAbsDiff(rgb(once), rgb(more)), 0);
  // A new photo starts at one pass again.
  assert.equal(await dreamFile(page, 'tests/inputs/alpha.png'), 'done');
  assert.doesNotMatch(await page.evaluate(() => location.search), /passes=/);
  await context.close();
  await again.context.close();
});

test('an animation’s last frame carries the animation’s recipe', { timeout: LONG }, async () => {
  const { page, context } = await open(ANIMATION);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  const png = readPng((await download(page, '#download')).bytes);
  assert.match(png.text.deepdream, /^layer=inception_3a\/output&octaves=1&.*frames=4&zoom=1.1&.*steps-per-frame=1&fps=12/);
  assert.match(png.text.deepdream, /seed=0/);
  await context.close();
});

test('two quick changes during a dream dream the second; a half-typed Animate field blocks nothing', { timeout: LONG }, async () => {
  const { page, context } = await open('layer=inception_3a/output&octaves=1&steps=60&jitter=0');
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => /step \d+ of 60/.test(document.getElementById('progress-text').textContent));
  await page.click('#presets button[data-layer="inception_4a/output"]');
  await page.click('#presets button[data-layer="inception_3b/output"]');
  await page.waitForFunction(() => location.search.startsWith('?layer=inception_3b/output&'));
  await page.click('#stop');
  await state(page, 'done');
  assert.match(readPng((await download(page, '#download')).bytes).text.deepdream, /^layer=inception_3b\/output&/);
  // A value Animate refuses, typed but not used, does not stop Advanced's changes.
  await page.click('#animate summary');
  await page.fill('#motion input[name="zoom"]', '-3');
  await page.click('#advanced summary');
  await page.fill('#recipe input[name="steps"]', '1');
  await page.press('#recipe input[name="steps"]', 'Tab');
  await page.waitForFunction(() => /[?&]steps=1&/.test(location.search));
  await state(page, 'done');
  assert.equal(await page.isVisible('[role="alert"]'), false);
  await context.close();
});

test('Start from noise after "Show the original" shows the dream', { timeout: LONG }, async () => {
  const { page, context } = await open(QUICK);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  await page.check('#compare');
  await page.click('#noise');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('start') === 'noise');
  await state(page, 'done');
  assert.equal(await page.isVisible('#canvas'), true);
  assert.equal(await page.isChecked('#compare'), false);
  await context.close();
});

test('switching to the CPU mid-dream starts the dream again there and says so', { timeout: LONG }, async () => {
  const { page, context } = await open('layer=inception_3a/output&octaves=1&steps=4&jitter=0&engine=webgpu');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'gpu');
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => /step \d+ of 4/.test(document.getElementById('progress-text').textContent));
  await page.click('#advanced summary');
  await page.check('#cpu');
  await page.waitForFunction(() => document.body.dataset.backend === 'cpu' && document.body.dataset.state === 'done',
    null, { timeout: LONG, polling: 100 });
  assert.match(await page.textContent('#note'), /starts again on the CPU/);
  assert.equal(readPng((await download(page, '#download')).bytes).width, 96);
  await context.close();
});

test('without Cache Storage the engine runs, and says the weights are not kept', { timeout: LONG }, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  await patchScript(context, WORKER, {
    before: 'Object.defineProperty(self, "caches", { get() { throw new DOMException("no storage", "SecurityError"); } });\n',
  });
  const page = await openIn(context, QUICK);
  assert.match(await page.textContent('#note'), /no storage here, so the weights will be downloaded again/);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  await context.close();
});

test('the gallery shows quiet placeholders, which ones are rendering, and where it renders', { timeout: LONG }, async () => {
  const { page, context } = await open(QUICK);
  // A thumbnail kept for other weights (an older version's) is dropped when the gallery opens.
  const stale = await page.evaluate(async () => {
    const cache = await caches.open('deepdream-gallery');
    const key = new URL('assets/gallery/0000older0000/inception_3a%2F5x5_reduce/0?size=64', location.href).href;
    await cache.put(key, new Response('old'));
    return key;
  });
  await page.click('#gallery summary');
  await page.selectOption('#gallery-size', '64');
  await page.selectOption('#gallery-layer', 'inception_3a/5x5_reduce');
  await page.waitForSelector('#gallery-grid [data-rendering]');
  assert.equal(await page.$$eval('#gallery-grid img:not([src])', (imgs) => imgs.length), 0, 'no broken images');
  assert.ok(await page.$$eval('#gallery-grid .pending', (p) => p.length) > 0);
  assert.match(await page.textContent('#gallery'), /render on this computer’s CPU/);
  assert.equal(await page.evaluate(async (key) => Boolean(await (await caches.open('deepdream-gallery')).match(key)), stale), false);
  // A size change while the first renders: every thumbnail shown is of the last size asked.
  await page.selectOption('#gallery-size', '96');
  await page.waitForFunction(() => document.querySelectorAll('#gallery-grid [data-ready]').length === 16, null, { timeout: LONG, polling: 200 });
  const sizes = await page.$$eval('#gallery-grid img', (imgs) => imgs.map((i) => i.naturalWidth));
  assert.deepEqual([...new Set(sizes)], [96]);
  await context.close();
});

test('previews are handed over, not copied, and a guide’s picture is let go when replaced or dropped', { timeout: LONG }, async () => {
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  // The worker marks each preview with whether it went with a transfer list; the page records it.
  await patchScript(context, WORKER, {
    before: 'const postAsIs = self.postMessage.bind(self);\n' +
      'self.postMessage = (m, t = []) => postAsIs(m.type === "preview" ? { ...m, handed: t.length > 0 } : m, t);\n',
  });
  await context.addInitScript(() => {
    window.previews = [];
    window.revoked = [];
    const revoke = URL.revokeObjectURL;
    URL.revokeObjectURL = (url) => { window.revoked.push(url); revoke(url); };
    const Base = window.Worker;
    window.Worker = class extends Base {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', (e) => { if (e.data.type === 'preview') window.previews.push(e.data.handed); });
      }
    };
  });
  const page = await openIn(context, 'layer=inception_3b/output&octaves=1&steps=2&jitter=0');
  assert.equal(await dreamFile(page, PHOTO), 'done');
  const previews = await page.evaluate(() => window.previews);
  assert.ok(previews.length > 0 && previews.every(Boolean), `previews handed over: ${previews}`);
  await page.click('#advanced summary');
  const guide = async (before = '') => {
    await page.setInputFiles('#guide-file', PHOTO);
    await page.waitForFunction((b) => {
      const thumb = document.getElementById('guide-thumb');
      return !thumb.hidden && thumb.src && thumb.src !== b;
    }, before);
    const src = await page.getAttribute('#guide-thumb', 'src');
    await state(page, 'done');
    return src;
  };
  const first = await guide();
  const second = await guide(first);
  assert.notEqual(first, second);
  await page.click('#guide-clear');
  await page.waitForFunction(() => document.getElementById('guide-thumb').hidden);
  const revoked = await page.evaluate(() => window.revoked);
  assert.ok(revoked.includes(first), 'the replaced guide is let go');
  assert.ok(revoked.includes(second), 'the dropped guide is let go');
  await context.close();
});
