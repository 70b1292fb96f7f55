// `make bench-web`: what the page costs in headless Chromium here (WebGPU through SwiftShader):
// bytes on the wire, load time with an empty and a warm cache, and milliseconds per dream step.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchChromium } from './chromium.mjs';
import { serve } from '../../www/serve.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const mb = (n) => (n / 1e6).toFixed(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const [name, path] of [['wasm', 'www/pkg/deepdream_bg.wasm'], ['weights', 'weights/googlenet.safetensors'], ['js (glue+page+worker)', null]]) {
  const bytes = path ? readFileSync(join(ROOT, path))
    : Buffer.concat(['www/pkg/deepdream.js', 'www/app.js', 'www/worker.js', 'www/style.css', 'index.html'].map((p) => readFileSync(join(ROOT, p))));
  console.log(`${name}\t${mb(bytes.length)} MB raw\t${mb(gzipSync(bytes, { level: 6 }).length)} MB gzip`);
}

const server = await serve(0);
const base = `http://127.0.0.1:${server.address().port}/`;
const profile = mkdtempSync(join(tmpdir(), 'deepdream-bench-'));
const context = await launchChromium(profile);
const ready = (page) => page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 600_000 });

// Visits: the first downloads everything; later ones load from the service worker's cache and
// Cache Storage (from the third, Chromium also has the wasm's compiled code cached).
for (const visit of ['first visit (download)', 'second visit (cached)', 'third visit (cached)']) {
  const page = await context.newPage();
  const start = Date.now();
  await page.goto(`${base}?octaves=1&steps=6&jitter=0&engine=webgpu`);
  await ready(page);
  console.log(`load to ready, ${visit}\t${Date.now() - start} ms`);
  if (visit.startsWith('third')) {
    for (const side of [128, 224]) {
      const dir = mkdtempSync(join(tmpdir(), 'deepdream-bench-photo-'));
      const photo = join(dir, `photo-${side}.png`);
      // A square crop of the coffee photo at this size, drawn by Chromium's canvas.
      const source = [...readFileSync(join(ROOT, 'tests/images/coffee.png'))];
      const png = await page.evaluate(async ([bytes, s]) => {
        const img = await createImageBitmap(new Blob([new Uint8Array(bytes)]));
        const canvas = new OffscreenCanvas(s, s);
        canvas.getContext('2d').drawImage(img, 100, 0, 400, 400, 0, 0, s, s);
        const blob = await canvas.convertToBlob({ type: 'image/png' });
        return [...new Uint8Array(await blob.arrayBuffer())];
      }, [source, side]);
      writeFileSync(photo, Buffer.from(png));
      await page.evaluate(() => {
        window.stepTimes = [];
        window.stepObserver ??= new MutationObserver(() => window.stepTimes.push(performance.now()));
        window.stepObserver.observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true });
      });
      await page.setInputFiles('#file', photo);
      await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 600_000 });
      const times = await page.evaluate(() => window.stepTimes);
      // times: "Starting…", then one entry per step, then "Done.": the gaps between steps.
      const gaps = times.slice(2, -1).map((t, i) => t - times[i + 1]);
      console.log(`gradient step (inception_4c/output), ${side}x${side}\t${median(gaps).toFixed(0)} ms median of ${gaps.length}`);
    }
    // An animation's frames after the first (zoom, turn, one octave of 5 steps) at 640x360, as
    // `make bench` times them natively: the time between finished frames.
    const source = [...readFileSync(join(ROOT, 'tests/images/coffee.png'))];
    const png = await page.evaluate(async (bytes) => {
      const img = await createImageBitmap(new Blob([new Uint8Array(bytes)]));
      const canvas = new OffscreenCanvas(640, 360);
      canvas.getContext('2d').drawImage(img, 0, 0, 640, 360);
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      return [...new Uint8Array(await blob.arrayBuffer())];
    }, source);
    const photo = join(mkdtempSync(join(tmpdir(), 'deepdream-bench-photo-')), 'photo-640x360.png');
    writeFileSync(photo, Buffer.from(png));
    const frames = [];
    page.on('console', (message) => {
      if (/^deepdream frame \d+ /.test(message.text())) frames.push(Date.now());
    });
    await page.goto(`${base}?octaves=1&steps=1&jitter=0&frames=3&steps-per-frame=5&engine=webgpu`);
    await ready(page);
    await page.setInputFiles('#file', photo);
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 1_800_000 });
    const gaps = frames.slice(1).map((t, i) => t - frames[i]);
    console.log(`zoom frame (after the first: 1 octave x 5 steps), 640x360\t${median(gaps).toFixed(0)} ms median of ${gaps.length}`);
  }
  await page.close();
}
await context.close();
server.close();
