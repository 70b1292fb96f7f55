// The page in a real browser: the built site (dist/) behind a plain static server, in Debian's
// Chromium with WebGPU through SwiftShader. Small photos and few steps: SwiftShader takes seconds
// per step at 224 px. The slow checks (12 MP, a lost GPU) are in slow.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPng, rgb } from '../../www/png.mjs';
import {
  LONG, PHOTO, ROOT, WORKER, download, dreamFile, launch, meanAbsDiff, open as openIn, patchScript, state,
  staticSite,
} from './browser.mjs';

const RECIPE = 'layer=inception_4c/output&octaves=2&steps=2&jitter=0&seed=3';

let site;
let browser;
let base;

before(async () => {
  site = await staticSite();
  base = site.base;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

const open = (query, options) => openIn(browser, base, query, options);

test('dreams a photo on WebGPU, offers a PNG with its recipe, and agrees with the CLI', { timeout: LONG }, async () => {
  // SwiftShader is a software adapter, where the page would choose its CPU engine: force WebGPU.
  const { page, context, foreign } = await open(`${RECIPE}&engine=webgpu`);
  const stats = [];
  page.on('console', (message) => {
    const match = /^deepdream stats (.*)$/.exec(message.text());
    if (match) stats.push(JSON.parse(match[1]));
  });
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'gpu');
  assert.equal(await page.isVisible('#download'), false, 'nothing to download yet');
  const started = Date.now();
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  // SwiftShader is a fallback adapter: it keeps the register kernel, which is fastest there.
  assert.equal(stats[0]?.convolutions, 'Mirrored', `convolutions on SwiftShader: ${JSON.stringify(stats[0])}`);
  // The dream shows, not the photo, until "Show the original" swaps them.
  assert.deepEqual([await page.isVisible('#canvas'), await page.isVisible('#original')], [true, false]);
  await page.check('#compare');
  assert.deepEqual([await page.isVisible('#canvas'), await page.isVisible('#original')], [false, true]);
  await page.uncheck('#compare');
  console.log(`dream of 96x72, 2 octaves x 2 steps: ${Date.now() - started} ms`);
  assert.match(await page.textContent('#progress-text'), /Done/);

  const png = await download(page, '#download');
  assert.equal(png.name, 'cat-96x72-dream.png');
  const result = readPng(png.bytes);
  const input = readPng(readFileSync(PHOTO));
  assert.equal(result.width, 96);
  assert.equal(result.height, 72);
  assert.match(result.text.deepdream, /^layer=inception_4c\/output&octaves=2&octave-scale=1.4&steps=2&step-size=1.5&jitter=0/);
  assert.ok(meanAbsDiff(rgb(result), rgb(input)) > 2, 'the dream changed the photo');
  const jpeg = await download(page, '#download-jpeg');
  assert.equal(jpeg.name, 'cat-96x72-dream.jpg');
  assert.deepEqual([...jpeg.bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);

  // The same photo and recipe through the command line (jitter 0, so only the backends differ).
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-web-'));
  const cliOut = join(dir, 'cli.png');
  const cli = process.env.DEEPDREAM_CLI || join(process.env.CARGO_TARGET_DIR || 'target', 'release/deepdream');
  execFileSync(cli, ['dream', PHOTO, cliOut, '--octaves', '2', '--steps', '2', '--jitter', '0', '--seed', '3'],
    { cwd: ROOT, stdio: 'pipe', env: { ...process.env, XDG_RUNTIME_DIR: dir } });
  const expected = rgb(readPng(readFileSync(cliOut)));
  const got = rgb(result);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  console.log(`browser vs CLI: worst ${worst} grey levels, mean ${meanAbsDiff(got, expected).toFixed(3)}`);
  assert.ok(worst <= 4, `browser and CLI differ by ${worst} grey levels`);

  assert.deepEqual(foreign, [], 'the page asked for nothing but its own files');
  await context.close();
});

test('a file that is not an image gets an alert, and the next photo still dreams', { timeout: LONG }, async () => {
  const { page, context } = await open(RECIPE.replace('octaves=2&steps=2', 'octaves=1&steps=1'));
  await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('just text') });
  await state(page, 'error');
  assert.match(await page.textContent('[role="alert"]'), /not a JPEG, PNG, WebP or GIF/);
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  assert.equal(await page.isHidden('[role="alert"]'), true);
  const png = readPng((await download(page, '#download')).bytes);
  assert.equal(png.width, 96);
  await context.close();
});

test('Stop keeps the result so far at full size, and Dream more goes on from it', { timeout: LONG }, async () => {
  const { page, context } = await open('octaves=2&steps=40&jitter=0');
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => /step \d+ of 40/.test(document.getElementById('progress-text').textContent),
    null, { timeout: LONG, polling: 100 });
  await page.click('#stop');
  await state(page, 'done');
  const stopped = readPng((await download(page, '#download')).bytes);
  assert.equal(stopped.width, 96);
  assert.equal(stopped.height, 72);
  assert.ok(meanAbsDiff(rgb(stopped), rgb(readPng(readFileSync(PHOTO)))) > 0.5, 'the steps so far are kept');
  await page.click('#more');
  await page.waitForFunction(() => /step \d+ of 40/.test(document.getElementById('progress-text').textContent),
    null, { timeout: LONG, polling: 100 });
  await page.click('#stop');
  await state(page, 'done');
  const more = readPng((await download(page, '#download')).bytes);
  assert.ok(meanAbsDiff(rgb(more), rgb(stopped)) > 0.1, 'dreaming more changed the result again');
  await context.close();
});

test('an invalid recipe in the URL is named with its allowed range', { timeout: LONG }, async () => {
  const { page, context } = await open('steps=-1&octave-scale=1.4');
  await page.waitForFunction(() => !document.querySelector('[role="alert"]').hidden, null, { timeout: LONG });
  assert.match(await page.textContent('[role="alert"]'), /steps = -1/);
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
  await context.close();
});

test('a link with several layers dreams, typed by hand or as the page writes it', { timeout: LONG }, async () => {
  const canonical = 'layer=inception_3b/output*2%2Binception_3a/output*1';
  // As the page itself writes it, as URLSearchParams encodes it, and with a raw `+` typed by hand.
  for (const layer of ['inception_3b/output*2%2Binception_3a/output', 'inception_3b%2Foutput*2%2Binception_3a%2Foutput',
    'inception_3b/output*2+inception_3a/output']) {
    const { page, context } = await open(`layer=${layer}&octaves=1&steps=1&jitter=0`);
    // The engine's answer puts the canonical recipe in the URL, just after the page is ready.
    await page.waitForFunction((c) => location.search.startsWith(`?${c}&`), canonical, { timeout: 30_000 });
    assert.equal(await dreamFile(page, PHOTO), 'done', await page.textContent('[role="alert"]'));
    const png = readPng((await download(page, '#download')).bytes);
    assert.ok(png.text.deepdream.startsWith(`${canonical}&octaves=1&`), png.text.deepdream);
    await context.close();
  }
});

test('a photo dropped while the network loads dreams with the link’s recipe', { timeout: LONG }, async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}?layer=inception_3a/output&octaves=1&steps=1&jitter=0&seed=5`);
  assert.notEqual(await page.evaluate(() => document.body.dataset.state), 'ready', 'still loading');
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const png = readPng((await download(page, '#download')).bytes);
  assert.ok(png.text.deepdream.startsWith('layer=inception_3a/output&octaves=1&'), png.text.deepdream);
  assert.match(png.text.deepdream, /&steps=1&.*&jitter=0&.*&seed=5&/);
  await context.close();
});

test('a new look during a dream restarts it, after a dream redreams the photo, and Dream more uses the recipe shown', { timeout: LONG }, async () => {
  const { page, context } = await open('layer=inception_3a/output&octaves=1&steps=8&jitter=0&seed=2');
  const recipe = async () => readPng((await download(page, '#download')).bytes).text.deepdream;
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => Number(document.getElementById('progress').value) >= 1, null, { timeout: LONG });
  await page.click('#presets button:text("Textures")'); // inception_3b, while the 3a dream runs
  await page.waitForFunction(() => new URLSearchParams(location.search).get('layer') === 'inception_3b/output');
  await state(page, 'done');
  assert.equal(await page.isHidden('[role="alert"]'), true, await page.textContent('[role="alert"]'));
  assert.match(await recipe(), /^layer=inception_3b\/output&octaves=1&.*&seed=2&/);

  // After the dream: another look dreams the original photo again.
  await page.click('#presets button:text("Patterns")');
  await state(page, 'dreaming');
  await state(page, 'done');
  const patterns = await recipe();
  assert.match(patterns, /^layer=inception_4a\/output&octaves=1&.*&seed=2&/);

  // Dream more goes on with the recipe shown, as its next pass (which takes the next seed).
  await page.click('#advanced summary');
  await page.selectOption('#recipe [name="layer"]', 'inception_3a/output');
  await state(page, 'dreaming');
  await state(page, 'done');
  await page.click('#more');
  await state(page, 'dreaming');
  await state(page, 'done');
  assert.match(await recipe(), /^layer=inception_3a\/output&octaves=1&.*&seed=2&passes=2&/);
  await context.close();
});

test('a corrupt download of the weights is fetched again, and only a good one is cached', { timeout: LONG }, async () => {
  // A proxy in front of the page's server that spoils the next `spoil` downloads of the weights.
  let spoil = 0;
  const proxy = createServer(async (req, res) => {
    const upstream = await fetch(new URL(req.url, base), { headers: { 'accept-encoding': 'identity' } });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (/^\/weights\/googlenet\.[0-9a-f]+\.safetensors$/.test(new URL(req.url, base).pathname) && spoil > 0) {
      spoil--;
      body[body.length - 1] ^= 0xff;
    }
    const headers = Object.fromEntries(['content-type', 'content-security-policy']
      .map((h) => [h, upstream.headers.get(h)]).filter(([, v]) => v));
    res.writeHead(upstream.status, headers).end(body);
  });
  await new Promise((done) => proxy.listen(0, '127.0.0.1', done));
  const via = `http://127.0.0.1:${proxy.address().port}/?layer=inception_3a/output&octaves=1&steps=1&jitter=0`;
  const real = readFileSync(join(ROOT, 'weights/googlenet.safetensors'));
  const cachedWeights = (page) => page.evaluate(async () => {
    const cache = await caches.open('deepdream-weights');
    const [key] = await cache.keys();
    if (!key) return null;
    const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
    return { length: bytes.length, last: bytes[bytes.length - 1] };
  });
  try {
    // One bad download: fetched again, the good one cached, the page ready and dreaming.
    spoil = 1;
    let context = await browser.newContext({ acceptDownloads: true });
    let page = await context.newPage();
    await page.goto(via);
    await state(page, 'ready');
    assert.equal(spoil, 0);
    assert.deepEqual(await cachedWeights(page), { length: real.length, last: real[real.length - 1] });
    assert.equal(await dreamFile(page, PHOTO), 'done');
    // The cached copy damaged on disk: the engine refuses it, and a good one is fetched again.
    await page.evaluate(async () => {
      const cache = await caches.open('deepdream-weights');
      const [key] = await cache.keys();
      const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
      bytes[bytes.length - 1] ^= 0xff;
      await cache.put(key, new Response(bytes));
    });
    assert.notDeepEqual(await cachedWeights(page), { length: real.length, last: real[real.length - 1] });
    await page.reload();
    await state(page, 'ready');
    assert.deepEqual(await cachedWeights(page), { length: real.length, last: real[real.length - 1] });
    await context.close();

    // Two bad downloads: the page says so, and nothing is cached for the next visit to trip on.
    spoil = 2;
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(via);
    await state(page, 'error');
    assert.match(await page.textContent('[role="alert"]'), /failed twice.*corrupt.*reload/s);
    assert.equal(await cachedWeights(page), null);
    await context.close();
  } finally {
    proxy.close();
  }
});

test('a file that cannot be read is named, and the next photo still dreams', { timeout: LONG }, async () => {
  const { page, context } = await open('layer=inception_3a/output&octaves=1&steps=1&jitter=0');
  await page.evaluate(() => {
    const file = new File([new Uint8Array(8)], 'gone.jpg', { type: 'image/jpeg' });
    file.arrayBuffer = () => Promise.reject(new DOMException('the file was removed', 'NotReadableError'));
    const data = new DataTransfer();
    data.items.add(file);
    Object.defineProperty(data, 'files', { value: [file] });
    document.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => !document.querySelector('[role="alert"]').hidden, null, { timeout: LONG });
  assert.match(await page.textContent('[role="alert"]'), /“gone\.jpg” could not be read \(the file was removed\)/);
  assert.equal(await dreamFile(page, PHOTO), 'done');
  await context.close();
});

test('without WebGPU the page starts on its CPU engine by itself and says why in one calm line', { timeout: LONG }, async () => {
  const context = await browser.newContext({ acceptDownloads: true, serviceWorkers: 'block' });
  // No WebGPU anywhere: not in the page, not in the engine's worker.
  await context.addInitScript(() => { delete Object.getPrototypeOf(navigator).gpu; });
  await patchScript(context, WORKER, { before: 'delete WorkerNavigator.prototype.gpu;\n' });
  const page = await context.newPage();
  await page.goto(`${base}?octaves=1&steps=1&jitter=0`);
  await state(page, 'ready');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
  assert.equal(await page.isVisible('[role="alert"]'), false, 'no error');
  assert.equal(await page.isVisible('#no-gpu'), false);
  assert.match(await page.textContent('#engine-note'), /^This browser has no WebGPU, so the dream runs on the CPU.*Chrome and Edge/);
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const png = readPng((await download(page, '#download')).bytes);
  assert.equal(png.width, 96);
  assert.ok(meanAbsDiff(rgb(png), rgb(readPng(readFileSync(PHOTO)))) > 0.5);
  // Asked for by name, a missing WebGPU is an error, with the CPU offered.
  await page.goto(`${base}?octaves=1&steps=1&jitter=0&engine=webgpu`);
  await state(page, 'error');
  assert.match(await page.textContent('#no-gpu'), /no usable WebGPU.*Chrome and Edge/s);
  await page.click('#use-cpu');
  await state(page, 'ready');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
  await context.close();
});

test('a software WebGPU adapter gives way to the CPU engine, and engine= in the link chooses', { timeout: LONG }, async () => {
  // Chromium here offers SwiftShader, a fallback adapter: slower than the page's CPU engine.
  const { page, context } = await open('octaves=1&steps=1&jitter=0');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
  assert.match(await page.textContent('#engine-note'), /software renderer.*runs on the CPU/);
  assert.equal(await page.isVisible('[role="alert"]'), false);
  const forced = await open('octaves=1&steps=1&jitter=0&engine=webgpu');
  assert.equal(await forced.page.evaluate(() => document.body.dataset.backend), 'gpu');
  assert.equal(await forced.page.isVisible('#engine-note'), false);
  // engine= is not part of the recipe, and it stays in the address the page rewrites.
  assert.match(await forced.page.evaluate(() => location.search), /^\?layer=.*&engine=webgpu$/);
  await context.close();
  await forced.context.close();
});

test('a WebGPU that finds no adapter is told apart by its kind, and the CPU takes over', { timeout: LONG }, async () => {
  // The engine's worker sees a WebGPU with no adapter to give (a blocklisted GPU, say). The page
  // decides on the error's kind, so this runs on the CPU with a note, not a failure.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await patchScript(context, WORKER, { before: 'GPU.prototype.requestAdapter = async () => null;\n' });
  const page = await context.newPage();
  await page.goto(`${base}?octaves=1&steps=1&jitter=0`);
  await state(page, 'ready');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
  assert.match(await page.textContent('#engine-note'), /^No usable GPU was found.*runs on the CPU/);
  await page.goto(`${base}?octaves=1&steps=1&jitter=0&engine=webgpu`);
  await state(page, 'error');
  assert.equal(await page.isVisible('#no-gpu'), true);
  assert.match(await page.textContent('#no-gpu'), /no usable GPU was found/);
  await page.click('#use-cpu');
  await state(page, 'ready');
  assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
  await context.close();
});

const luma = ({ pixels, channels }) => {
  const out = new Float64Array(pixels.length / channels);
  for (let i = 0; i < out.length; i++) {
    const p = i * channels;
    out[i] = 0.299 * pixels[p] + 0.587 * pixels[p + 1] + 0.114 * pixels[p + 2];
  }
  return out;
};
const alphaOf = ({ pixels }) => pixels.filter((_, i) => i % 4 === 3);

test('every kind of file dreams upright with its alpha, or gets one sentence and the page goes on', { timeout: LONG }, async () => {
  const { page, context } = await open('octaves=1&steps=1&jitter=0');
  const inputs = join(ROOT, 'tests/inputs');
  const cat = readPng(readFileSync(PHOTO));
  const ramp = alphaOf(readPng(readFileSync(join(inputs, 'alpha.png'))));
  // Each bad file is followed by a good one, which must dream as if nothing had happened.
  const matrix = [
    ['empty.jpg', /the file is empty/],
    ['alpha.png', { alpha: true }],
    ['text.jpg', /not a JPEG, PNG, WebP or GIF image/],
    ['rgba16.png', { alpha: true }],
    ['truncated.jpg', /the JPEG image is damaged or incomplete/],
    ['gray.png', { grey: true }],
    ['corrupt.png', /the PNG image is damaged or incomplete/],
    ['gray16.png', { grey: true }],
    ['drawing.svg', /SVG drawings are not supported/],
    ['palette.png', {}],
    ['one-pixel.png', /1×1 px, too small for layer inception_4c\/output/],
    ['cmyk.jpg', {}],
    ['bomb.png', /too large to open/],
    ['rotated.jpg', {}],
    ['animated.gif', {}],
    ['photo.webp', {}],
  ];
  for (const [name, expected] of matrix) {
    const settled = await dreamFile(page, join(inputs, name));
    const alert = await page.textContent('[role="alert"]');
    if (expected instanceof RegExp) {
      assert.equal(settled, 'error', name);
      assert.match(alert, expected, name);
      assert.equal(alert.trim().split('\n').length, 1, `${name}: one sentence`);
      continue;
    }
    assert.equal(settled, 'done', `${name}: ${alert}`);
    assert.equal(await page.isHidden('[role="alert"]'), true, name);
    const png = readPng((await download(page, '#download')).bytes);
    assert.deepEqual([png.width, png.height], [96, 72], name);
    const diff = expected.grey ? meanAbsDiff(luma(png), luma(cat)) : meanAbsDiff(rgb(png), rgb(cat));
    assert.ok(diff < 6, `${name}: ${diff.toFixed(1)} levels from the upright cat`);
    assert.equal(png.channels === 4, Boolean(expected.alpha), `${name}: alpha channel`);
    if (expected.alpha) assert.deepEqual(alphaOf(png), ramp, `${name}: alpha kept`);
  }
  await context.close();
});

test('the first minute on a phone, by keyboard alone: a drop zone, a sample dreamed, the result saved', { timeout: LONG }, async () => {
  const { page, context } = await open('octaves=1&steps=1&jitter=0', { viewport: { width: 390, height: 844 } });
  // Ready: where to drop, samples and looks with their previews; nothing that cannot be used yet.
  assert.match(await page.textContent('#drop'), /Drop a photo here.*paste.*pick one/s);
  assert.equal(await page.isVisible('#drop'), true);
  for (const id of ['#stop', '#more', '#download', '#download-jpeg', '#compare-label', '#another', '#status']) {
    assert.equal(await page.isHidden(id), true, `${id} is shown before it can be used`);
  }
  const previews = await page.$$eval('#presets img, #sample-list img', (imgs) => imgs.map((i) => i.complete && i.naturalWidth));
  assert.equal(previews.length, 7);
  assert.ok(previews.every((w) => w > 0), 'every look and sample shows its picture');
  const fits = () => page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth);
  assert.ok(await fits(), 'nothing wider than the phone');

  // Tab to the cat sample and press Enter: it dreams.
  for (let i = 0; i < 10 && await page.evaluate(() => document.activeElement?.textContent) !== 'Cat'; i++) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cat');
  await page.keyboard.press('Enter');
  await state(page, 'dreaming');
  assert.equal(await page.isVisible('#stop'), true);
  await state(page, 'done');
  assert.ok(await fits(), 'the dream fits the phone');
  const status = await page.$eval('#status', (e) => e.getBoundingClientRect().height);
  assert.ok(status < 40, `the status is one line (${status} px high)`);
  const shown = await page.$eval('#canvas', (c) => [c.getBoundingClientRect().width, c.width]);
  assert.ok(shown[0] <= 390 && shown[1] === 451, `${shown}`);

  // Tab on to the PNG download and take it with Enter.
  for (let i = 0; i < 20 && await page.evaluate(() => document.activeElement?.id) !== 'download'; i++) {
    await page.keyboard.press('Tab');
  }
  const [file] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  assert.equal(file.suggestedFilename(), 'cat-dream.png');
  const png = readPng(readFileSync(await file.path()));
  assert.deepEqual([png.width, png.height], [451, 300]);
  await context.close();
});

test('a photo dragged onto the page lights the stage, dreams, and shows at most 2× and pixel-exact', { timeout: LONG }, async () => {
  // The README's screenshots come from here: DEEPDREAM_SCREENSHOTS=docs keeps them.
  const shots = process.env.DEEPDREAM_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'deepdream-shots-'));
  const { page, context } = await open('layer=inception_4c/output&octaves=1&steps=2&jitter=0', { viewport: { width: 1000, height: 900 } });
  await page.screenshot({ path: join(shots, 'ready.png') });
  const drag = await page.evaluateHandle((bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], 'cat.jpg', { type: 'image/jpeg' }));
    return data;
  }, [...readFileSync(join(ROOT, 'www/samples/cat.jpg'))]);
  await page.dispatchEvent('body', 'dragenter', { dataTransfer: drag });
  assert.equal(await page.evaluate(() => document.body.classList.contains('dragging')), true, 'the stage lights up');
  await page.dispatchEvent('body', 'drop', { dataTransfer: drag });
  assert.equal(await page.evaluate(() => document.body.classList.contains('dragging')), false);
  await page.waitForFunction(() => Number(document.getElementById('progress').value) >= 1, null, { timeout: LONG });
  await page.screenshot({ path: join(shots, 'dreaming.png') });
  await state(page, 'done');
  await page.screenshot({ path: join(shots, 'done.png') });
  // 451×300 in a 1000×900 page: shown at exactly 2×, without smoothing.
  const view = await page.$eval('#canvas', (c) => [c.getBoundingClientRect().width, c.width, getComputedStyle(c).imageRendering]);
  assert.deepEqual(view, [902, 451, 'pixelated']);
  const png = readPng((await download(page, '#download')).bytes);
  assert.equal(png.width, 451);
  await context.close();
});
