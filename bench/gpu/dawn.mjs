// `make bench-gpu`'s WebGPU half, without a browser: the page's own wasm engine (www/pkg, called as
// www/worker.js calls it) or TensorFlow.js's webgpu backend (bench/peers/tfjs/googlenet.js), on
// Dawn, Chrome's WebGPU, which the `webgpu` package's dawn.node gives Node. One part per process,
// so a crash in one loses nothing else. Prints tab-separated lines as bench/peers/web.mjs does.
//
//   node bench/gpu/dawn.mjs page|tfjs|adapter [--runs N] [--quick]
//
// adapter: only the adapter's lines (exit 1 without one).
// --quick: 224² steps only, no preset. DAWN_OPTIONS: comma-separated options for dawn.node's
// create() (e.g. backend=vulkan). Paths: DEEPDREAM_PKG (the wasm glue, www/pkg), DEEPDREAM_WEIGHTS
// (googlenet.safetensors), DEEPDREAM_WEIGHTS_SRC (the caffejs folder TF.js reads). DEEPDREAM_CONV:
// the page engine's convolution kernel, as natively (mirrored: register, workgroup: tiled).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runInThisContext } from 'node:vm';
import { create, globals } from 'webgpu';
import { readPng, rgb, writePng } from '../../www/png.mjs';
import { fixture, relL2 } from '../peers/fixture.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const PKG = resolve(ROOT, process.env.DEEPDREAM_PKG || 'www/pkg');
const WEIGHTS = resolve(ROOT, process.env.DEEPDREAM_WEIGHTS || 'weights/googlenet.safetensors');
const WEIGHTS_SRC = resolve(ROOT, process.env.DEEPDREAM_WEIGHTS_SRC || '../shared/weights/bvlc_googlenet_caffejs');
const TFJS = ['@tensorflow/tfjs/dist/tf.min.js', '@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js']
  .map((f) => join(ROOT, 'bench/peers/node_modules', f));

const { values: opts, positionals: [part] } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } },
});
const runs = Number(opts.runs);
const PARTS = { page: () => page(), tfjs: () => tfjs(), adapter: () => describeAdapter() };
if (!(runs >= 1) || !PARTS[part]) {
  console.error(`usage: node bench/gpu/dawn.mjs ${Object.keys(PARTS).join('|')} [--runs N] [--quick]`);
  process.exit(2);
}
const sides = opts.quick ? [224] : [224, 512];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = (...fields) => console.log(fields.join('\t'));
const stepLine = (side, times) =>
  out('gradient step (inception_4c/output)', `${side}x${side}`, median(times).toFixed(1), times.length);
const tick = () => new Promise((done) => setTimeout(done, 0));

// Dawn as the page sees WebGPU: navigator.gpu, and the constants (GPUBufferUsage, …) as globals.
// (TF.js reads navigator.userAgent to tell a phone.)
Object.assign(globalThis, globals);
const gpu = create((process.env.DAWN_OPTIONS || '').split(',').filter(Boolean));
Object.defineProperty(globalThis, 'navigator', {
  value: { gpu, userAgent: `Node.js ${process.version}, dawn.node` },
  configurable: true,
});

async function describeAdapter() {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no adapter (a Vulkan ICD: VK_ICD_FILENAMES, libvulkan.so.1)');
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(', ');
  out('adapter', `Dawn: ${name}`);
  out('fallback adapter', info.isFallbackAdapter ?? adapter.isFallbackAdapter ? 'yes' : 'no');
  return name;
}

// The square the peers dream on, as web.mjs draws it with Chromium's canvas: coffee.png's
// 400×400 from (100, 0), scaled bilinearly to side × side. RGBA.
const COFFEE = readPng(readFileSync(join(ROOT, 'tests/images/coffee.png')));
function draw(img, sx, sy, sw, sh, w, h) {
  const outPx = new Uint8ClampedArray(w * h * 4);
  const at = (x, y, c) => img.pixels[(y * img.width + x) * img.channels + c];
  for (let y = 0; y < h; y++) {
    const v = Math.min(Math.max(sy + ((y + 0.5) * sh) / h - 0.5, 0), img.height - 1);
    const y0 = Math.floor(v), y1 = Math.min(y0 + 1, img.height - 1), fy = v - y0;
    for (let x = 0; x < w; x++) {
      const u = Math.min(Math.max(sx + ((x + 0.5) * sw) / w - 0.5, 0), img.width - 1);
      const x0 = Math.floor(u), x1 = Math.min(x0 + 1, img.width - 1), fx = u - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx;
        const bottom = at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx;
        outPx[(y * w + x) * 4 + c] = top * (1 - fy) + bottom * fy;
      }
      outPx[(y * w + x) * 4 + 3] = 255;
    }
  }
  return outPx;
}
const square = (side) => draw(COFFEE, 100, 0, 400, 400, side, side);

// The page's engine, with the calls www/worker.js makes: Engine.create on the GPU, begin with the
// photo's PNG bytes and a recipe, step, preview.
async function page() {
  globalThis.WorkerGlobalScope ??= class WorkerGlobalScope {}; // wgpu finds navigator.gpu through it
  // web-sys builds previews with `new ImageData(pixels, width, height)`.
  globalThis.ImageData ??= class ImageData {
    constructor(data, width, height) { Object.assign(this, { data, width, height }); }
  };
  const adapter = await describeAdapter();
  const { default: init, Engine, force_convolutions } = await import(pathToFileURL(join(PKG, 'deepdream.js')));
  await init({ module_or_path: await readFile(join(PKG, 'deepdream_bg.wasm')) });
  // DEEPDREAM_CONV picks the kernel here as it does natively (mirrored, workgroup).
  if (process.env.DEEPDREAM_CONV) force_convolutions(process.env.DEEPDREAM_CONV);
  const weights = await readFile(WEIGHTS);
  const sha = createHash('sha256').update(weights).digest('hex');
  const engine = await Engine.create(weights, sha, 'webgpu');
  out('backend', `ours, page engine under Dawn (${engine.backend()}; ${adapter})`);
  out('gradient check', 'n/a (the engine is checked against the reference by tests/fidelity.rs)');
  out('convolutions', engine.stats().convolutions ?? 'not reported'); // which kernel this adapter got
  const photo = (side) => writePng(side, side, rgb({ pixels: square(side), channels: 4 }));

  // One octave, steps = runs + 1, the tile the whole image (as `deepdream bench`); each step is
  // timed to its preview's read-back, which waits for the GPU. The first is the warm-up.
  for (const side of sides) {
    engine.begin(photo(side), `octaves=1&steps=${runs + 1}&tile=${side}`, undefined);
    const times = [];
    let preview;
    for (;;) {
      const start = performance.now();
      if (engine.step() === null) break;
      preview = await engine.preview();
      times.push(performance.now() - start);
    }
    stepLine(side, times.slice(1));
    // What the steps made (seed 0), for tests to compare kernels by: DEEPDREAM_PREVIEW_DIR.
    if (process.env.DEEPDREAM_PREVIEW_DIR) {
      const rgbBytes = rgb({ pixels: preview.data, channels: 4 });
      await writeFile(join(process.env.DEEPDREAM_PREVIEW_DIR, `${side}.png`), writePng(preview.width, preview.height, rgbBytes));
    }
  }
  if (opts.quick) return;

  // The canonical preset on a 512² photo, stepped as worker.js's run() does (a preview at most
  // every 250 ms), timed from begin to the final image read back; one warm-up.
  const png = photo(512);
  const presetRuns = Math.min(runs, 3);
  const times = [];
  for (let i = 0; i <= presetRuns; i++) {
    const start = performance.now();
    engine.begin(png, '', undefined);
    let last = start;
    for (;;) {
      await tick();
      if (engine.step() === null) break;
      if (performance.now() - last >= 250) {
        await engine.preview();
        last = performance.now();
      }
    }
    await engine.preview();
    if (i > 0) times.push(performance.now() - start);
  }
  out('canonical preset (4 octaves x 10 steps)', '512x512', median(times).toFixed(1), presetRuns);
}

// TensorFlow.js on Dawn: its UMD bundles as index.html loads them, then googlenet.js unchanged, with
// what it takes from a browser made here: window, fetch of its two mounts, a canvas for its photo.
async function tfjs() {
  globalThis.window = globalThis; // googlenet.js publishes window.peer; TF.js's webgpu wants a window
  globalThis.require = createRequire(import.meta.url); // tf.min.js's Node platform asks for 'util'
  const mounts = { weights: WEIGHTS_SRC, images: join(ROOT, 'tests/images') };
  globalThis.fetch = async (url) => {
    const [, mount, ...rest] = String(url).split('/');
    try {
      return new Response(await readFile(join(mounts[mount], ...rest)));
    } catch {
      return new Response('not found', { status: 404 });
    }
  };
  globalThis.createImageBitmap = async (blob) => readPng(Buffer.from(await blob.arrayBuffer()));
  globalThis.OffscreenCanvas = class OffscreenCanvas {
    constructor(width, height) { Object.assign(this, { width, height }); }
    getContext() {
      return {
        drawImage: (img, sx, sy, sw, sh) => { this.data = draw(img, sx, sy, sw, sh, this.width, this.height); },
        getImageData: () => ({ data: this.data }),
      };
    }
  };
  for (const file of TFJS) runInThisContext(await readFile(file, 'utf8'), { filename: file });
  await import(pathToFileURL(join(ROOT, 'bench/peers/tfjs/googlenet.js')));
  await describeAdapter();
  const info = await window.peer.init('webgpu');
  const detail = `${info.adapter || 'adapter info unavailable'}; LRN as square + band-matrix 1x1 conv`;
  out('backend', `TensorFlow.js ${info.version} ${info.backend} under Dawn (${detail})`);
  const fix = fixture();
  const grad = await window.peer.gradient(fix.pixels, fix.height, fix.width);
  const err = relL2(grad, fix.expected);
  out('gradient check', `rel L2 ${err.toExponential(2)}`);
  if (!(err <= 1e-3)) throw new Error(`gradient check failed (rel L2 ${err} > 1e-3)`);
  for (const side of sides) stepLine(side, await window.peer.time(side, runs));
}

const started = Date.now();
try {
  await PARTS[part]();
  console.error(`${part}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  process.exit(0);
} catch (e) {
  // A Rust panic leaves its sentence where worker.js reads it.
  const panic = e instanceof WebAssembly.RuntimeError && globalThis.deepdreamPanic;
  console.error(`${part}: ${panic || (e?.message ?? e)}`);
  process.exit(1);
}
