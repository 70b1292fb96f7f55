// The browser peers of the benchmark, in one headless Chromium (Debian's, WebGPU through
// SwiftShader here): TensorFlow.js 4.x on the same GoogLeNet and DeepDream objective (webgpu and
// wasm backends), then our own page on WebGPU and on its CPU engine. Tab-separated output.
//
//   npm ci --prefix bench/peers && node bench/peers/web.mjs [--runs N] [--big] [--only a,b] [--builtin-lrn]
//
// --only takes tfjs-webgpu, tfjs-wasm, ours-webgpu, ours-cpu. --big (or PEERS_BIG=1) adds 512x512.
// --builtin-lrn uses tf.localResponseNormalization, whose WebGPU gradient is very slow (googlenet.js).
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../../tests/web/chromium.mjs';
import { serve } from '../../www/serve.mjs';
import { fixture, relL2 } from './fixture.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const PEERS = join(ROOT, 'bench/peers');
const WEIGHTS_SRC = resolve(ROOT, process.env.DEEPDREAM_WEIGHTS_SRC || '../shared/weights/bvlc_googlenet_caffejs');
const LONG = 1_800_000;
const ALL = ['tfjs-webgpu', 'tfjs-wasm', 'ours-webgpu', 'ours-cpu'];

const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, big: { type: 'boolean', default: false }, only: { type: 'string' },
    'builtin-lrn': { type: 'boolean', default: false } },
});
const runs = Number(opts.runs);
if (!(runs >= 1)) throw new Error('--runs must be at least 1');
const sides = opts.big || process.env.PEERS_BIG === '1' ? [224, 512] : [224];
const wanted = opts.only ? opts.only.split(',') : ALL;
for (const w of wanted) if (!ALL.includes(w)) throw new Error(`--only: unknown ${w} (one of ${ALL.join(', ')})`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = (...fields) => console.log(fields.join('\t'));
const stepLine = (side, times) =>
  out('gradient step (inception_4c/output)', `${side}x${side}`, median(times).toFixed(1), times.length);

// A static server for the TF.js page: bench/peers/ (page and node_modules), the raw caffejs
// weights and the test photos. No CDN: the page asks for nothing else.
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.png': 'image/png' };
const MOUNTS = { peers: PEERS, weights: WEIGHTS_SRC, images: join(ROOT, 'tests/images') };
function peerServer() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://localhost').pathname));
    const [, mount, ...rest] = path.split('/');
    try {
      if (!MOUNTS[mount] || path.includes('..')) throw new Error('not served');
      const body = await readFile(join(MOUNTS[mount], ...rest));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

const browser = await launchChromium();
async function newPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(LONG);
  page.on('console', (m) => { if (m.type() === 'error') console.error(`page: ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`page: ${e.message}`));
  return { context, page };
}
const adapterOf = (page) => page.evaluate(async () => {
  const adapter = await navigator.gpu?.requestAdapter();
  const info = adapter?.info;
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(', ') : 'no adapter';
});

let failed = false;
const started = Date.now();

// TensorFlow.js, one fresh page per backend.
const tfjsBackends = ['webgpu', 'wasm'].filter((b) => wanted.includes(`tfjs-${b}`));
if (tfjsBackends.length) {
  const server = await peerServer();
  const url = `http://127.0.0.1:${server.address().port}/peers/tfjs/index.html`;
  const fix = fixture();
  for (const backend of tfjsBackends) {
    const { context, page } = await newPage();
    try {
      await page.goto(url);
      await page.waitForFunction(() => window.peer);
      const info = await page.evaluate(([b, o]) => window.peer.init(b, o), [backend, { builtinLrn: opts['builtin-lrn'] }]);
      const detail = backend === 'wasm'
        ? `${info.simd ? 'SIMD' : 'no SIMD'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`
        : info.adapter || 'adapter info unavailable';
      const lrn = info.builtinLrn ? 'tf.localResponseNormalization' : 'LRN as square + band-matrix 1x1 conv';
      out('backend', `TensorFlow.js ${info.version} ${info.backend} (${detail}; ${lrn})`);
      const grad = await page.evaluate((f) => window.peer.gradient(f.pixels, f.height, f.width), fix);
      const err = relL2(grad, fix.expected);
      out('gradient check', `rel L2 ${err.toExponential(2)}`);
      if (!(err <= 1e-3)) {
        console.error(`TF.js ${backend}: gradient check failed (rel L2 ${err} > 1e-3)`);
        failed = true;
      }
      for (const side of sides) stepLine(side, await page.evaluate(([s, n]) => window.peer.time(s, n), [side, runs]));
    } catch (e) {
      console.error(`TF.js ${backend}: ${e.message}`);
      failed = true;
    }
    await context.close();
  }
  server.close();
}

// Our page, timed as tests/web/bench.mjs does it: the gaps between #progress-text updates, one
// per step. steps = runs + 1: the first step (photo decode, first pipelines) is the warm-up.
const oursEngines = ['webgpu', 'cpu'].filter((e) => wanted.includes(`ours-${e}`));
const missing = ['dist/index.html', 'dist/sw.js'].filter((p) => !existsSync(join(ROOT, p)));
if (oursEngines.length && missing.length) {
  console.error(`skipping our page: ${missing.join(', ')} missing (make dist builds them)`);
} else if (oursEngines.length) {
  const server = await serve(0);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const ready = (page) => page.waitForFunction(() => document.body.dataset.state === 'ready', null, { polling: 200 });
  const coffee = [...readFileSync(join(ROOT, 'tests/images/coffee.png'))];
  for (const engine of oursEngines) {
    const { context, page } = await newPage();
    try {
      // `engine=` forces the engine: on a software adapter the page would choose its CPU engine.
      await page.goto(`${base}?octaves=1&steps=${runs + 1}&jitter=0&engine=${engine}`);
      await ready(page);
      const backend = await page.evaluate(() => document.body.dataset.backend);
      if (backend !== (engine === 'cpu' ? 'cpu' : 'gpu')) throw new Error(`the page runs on ${backend}, not ${engine}`);
      out('backend', `ours page ${engine}${engine === 'webgpu' ? ` (${await adapterOf(page)})` : ''}`);
      out('gradient check', 'n/a (the engine is checked against the reference by tests/fidelity.rs)');
      for (const side of sides) {
        // The same square crop of the coffee photo as the TF.js page, drawn by Chromium's canvas.
        const png = await page.evaluate(async ([bytes, s]) => {
          const img = await createImageBitmap(new Blob([new Uint8Array(bytes)]));
          const canvas = new OffscreenCanvas(s, s);
          canvas.getContext('2d').drawImage(img, 100, 0, 400, 400, 0, 0, s, s);
          return [...new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer())];
        }, [coffee, side]);
        const photo = join(mkdtempSync(join(tmpdir(), 'deepdream-peers-')), `photo-${side}.png`);
        writeFileSync(photo, Buffer.from(png));
        await page.evaluate(() => {
          window.stepTimes = [];
          window.stepObserver ??= new MutationObserver(() => window.stepTimes.push(performance.now()));
          window.stepObserver.observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true });
          // The state is still 'done' from the last photo until this one is read: wait for a change.
          window.settled = null;
          const watch = new MutationObserver(() => {
            if (['done', 'error'].includes(document.body.dataset.state)) {
              window.settled = document.body.dataset.state;
              watch.disconnect();
            }
          });
          watch.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
        });
        await page.setInputFiles('#file', photo);
        await page.waitForFunction(() => window.settled, null, { polling: 200 });
        if (await page.evaluate(() => window.settled) === 'error') throw new Error(await page.textContent('[role="alert"]'));
        const times = await page.evaluate(() => window.stepTimes);
        // times: "Starting…", one entry per step, "Done.": the gaps after the first step.
        const gaps = times.slice(2, -1).map((t, i) => t - times[i + 1]);
        if (gaps.length !== runs) console.error(`ours ${engine}: ${gaps.length} step gaps seen, ${runs} expected`);
        stepLine(side, gaps);
      }
    } catch (e) {
      console.error(`ours ${engine}: ${e.message}`);
      failed = true;
    }
    await context.close();
  }
  server.close();
}

await browser.close();
console.error(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = failed ? 1 : 0;
