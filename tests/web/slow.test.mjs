// The slow browser checks, run by `make test-slow` (and CI): a 12-megapixel photo dreamed at full
// size on SwiftShader (~8 minutes), and a GPU process that crashes mid-dream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPng, writePng } from '../../www/png.mjs';
import { LONG, PHOTO, ROOT, download, dreamFile, state, withSite } from './browser.mjs';

const env = withSite();
const { open } = env;

test('a GPU lost mid-dream is named, the last preview stays downloadable, and the next dream works', { timeout: LONG }, async () => {
  // On WebGPU: SwiftShader is a software adapter, where the page would choose its CPU engine.
  const { page, context } = await open('octaves=2&steps=40&jitter=0&engine=webgpu');
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => /step [2-9]\d* of 40/.test(document.getElementById('progress-text').textContent)
    && document.getElementById('canvas').width > 0, null, { timeout: LONG, polling: 100 });
  // DevTools can crash Chromium's GPU process: every WebGPU device in the browser is lost.
  await (await env.browser.newBrowserCDPSession()).send('Browser.crashGpuProcess');
  // The page shows the error and at once starts a new engine, so wait for the alert, not a state.
  await page.waitForFunction(() => !document.querySelector('[role="alert"]').hidden, null, { timeout: LONG, polling: 100 });
  const alert = await page.textContent('[role="alert"]');
  assert.match(alert, /^the GPU stopped working during the dream \(device lost: .+\)/);
  assert.match(await page.textContent('#progress-text'), /Stopped/);
  assert.match(alert, /last preview \(\d+×\d+\) is kept/);
  const kept = readPng((await download(page, '#download')).bytes);
  assert.ok(kept.width > 0 && kept.height > 0);
  await state(page, 'ready');
  // Another file: choosing the same one again would not change the input.
  const settled = await dreamFile(page, join(ROOT, 'tests/inputs/alpha.png'));
  assert.equal(settled, 'done', await page.textContent('[role="alert"]'));
  await context.close();
});

// A 12-megapixel photo: the cat scaled up to 4000×3000 (bilinear), written as a PNG.
function bigPhoto() {
  const cat = readPng(readFileSync(PHOTO));
  const [w, h] = [4000, 3000];
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const fy = Math.min((y + 0.5) * cat.height / h - 0.5, cat.height - 1.001);
    const y0 = Math.max(0, Math.floor(fy));
    const ty = Math.max(0, fy - y0);
    for (let x = 0; x < w; x++) {
      const fx = Math.min((x + 0.5) * cat.width / w - 0.5, cat.width - 1.001);
      const x0 = Math.max(0, Math.floor(fx));
      const tx = Math.max(0, fx - x0);
      for (let c = 0; c < 3; c++) {
        const at = (yy, xx) => cat.pixels[(yy * cat.width + xx) * 3 + c];
        const top = at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx;
        const bottom = at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx;
        out[(y * w + x) * 3 + c] = Math.round(top * (1 - ty) + bottom * ty);
      }
    }
  }
  const path = join(mkdtempSync(join(tmpdir(), 'deepdream-big-')), 'big-4000x3000.png');
  writeFileSync(path, writePng(w, h, out));
  return path;
}

// SwiftShader is slow: ~2 s per 224² step at inception_4c, and ~10 s per megapixel even at
// conv1. What this checks is memory, not the look: a full-size photo goes through decode,
// tiles, previews and PNG in the browser, so it takes the cheapest layer, 2 octaves × 1 step,
// and about 3 minutes here.
const BIG_RECIPE = process.env.BIG_RECIPE || 'layer=conv1/7x7_s2&octaves=2&steps=1&jitter=0';
const BIG_TIMEOUT = 45 * 60_000;

test('a 12-megapixel photo dreams at full size in the browser without running out of memory', { timeout: BIG_TIMEOUT }, async () => {
  const photo = bigPhoto();
  const { page, context } = await open(`${BIG_RECIPE}&engine=webgpu`);
  const stats = [];
  page.on('console', (message) => {
    const match = /^deepdream stats (.*)$/.exec(message.text());
    if (match) stats.push(JSON.parse(match[1]));
  });
  const started = Date.now();
  const settled = await dreamFile(page, photo, BIG_TIMEOUT);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(settled, 'done', await page.textContent('[role="alert"]'));
  assert.equal(await page.isHidden('#note'), true, 'not scaled down');
  const png = readPng((await download(page, '#download')).bytes);
  assert.deepEqual([png.width, png.height], [4000, 3000]);
  const [s] = stats;
  console.log(`12 MP dream (${BIG_RECIPE}): ${seconds.toFixed(0)} s, tile ${s.tile} px, ` +
    `GPU memory ${(s.deviceMemory / 1e6).toFixed(0)} MB, wasm memory ${(s.wasmMemory / 1e6).toFixed(0)} MB`);
  assert.ok(s.wasmMemory < 2 ** 31, 'the wasm heap stays under 2 GiB');
  assert.match(await page.textContent('#progress-text'), /^Done in .*: 4000×3000 px in tiles of up to \d+ px/);
  await context.close();
});
