// BVLC GoogLeNet up to inception_4c/output in TensorFlow.js (NHWC), with Caffe's semantics as in
// tests/reference/reference.py, and one DeepDream gradient step. Uses the global `tf` of the
// @tensorflow/tfjs UMD bundle (tfjs-core's own bundle registers no gradients) plus the webgpu and
// wasm backends' bundles, all loaded by index.html. ../web.mjs calls window.peer.*.
const tf = globalThis.tf;
const WEIGHTS = '/weights/models/bvlc_googlenet/weights/';

// name, input channels, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj (deploy.prototxt)
const INCEPTIONS = [
  ['inception_3a', 192, 64, 96, 128, 16, 32, 32],
  ['inception_3b', 256, 128, 128, 192, 32, 96, 64],
  ['inception_4a', 480, 192, 96, 208, 16, 48, 64],
  ['inception_4b', 512, 160, 112, 224, 24, 64, 64],
  ['inception_4c', 512, 128, 128, 256, 24, 64, 64],
];
const POOL_AFTER = new Set(['inception_3b']); // pool3/3x3_s2; pool4 comes after 4e, past our layer
const MEAN_BGR = [104, 117, 123];

let params = null;

async function floats(path) {
  const response = await fetch(WEIGHTS + path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Float32Array(await response.arrayBuffer());
}

// caffejs stores filters OHWI; tf.conv2d wants HWIO.
async function loadConv(name, out, inC, k) {
  const [w, b] = await Promise.all([floats(`${name}_filter.bin`), floats(`${name}_bias.bin`)]);
  if (w.length !== out * k * k * inC || b.length !== out) throw new Error(`${name}: unexpected size`);
  const filter = tf.tidy(() => tf.transpose(tf.tensor4d(w, [out, k, k, inC]), [1, 2, 3, 0]));
  return { filter, bias: tf.tensor1d(b) };
}

async function loadParams() {
  const specs = [['conv1/7x7_s2', 64, 3, 7], ['conv2/3x3_reduce', 64, 64, 1], ['conv2/3x3', 192, 64, 3]];
  for (const [n, cin, c1, c3r, c3, c5r, c5, pp] of INCEPTIONS) {
    specs.push([`${n}/1x1`, c1, cin, 1], [`${n}/3x3_reduce`, c3r, cin, 1], [`${n}/3x3`, c3, c3r, 3],
      [`${n}/5x5_reduce`, c5r, cin, 1], [`${n}/5x5`, c5, c5r, 5], [`${n}/pool_proj`, pp, cin, 1]);
  }
  const convs = await Promise.all(specs.map(([name, out, inC, k]) => loadConv(name, out, inC, k)));
  return { ...Object.fromEntries(specs.map(([name], i) => [name, convs[i]])), band64: band(64), band192: band(192) };
}

// Conv + bias + ReLU in one fused op, as a TF.js user would write it. Its gradient also computes
// the filter's (unused here); unfused conv2d + add + relu measured no faster on either backend.
const convRelu = (x, name, stride = 1, pad = 0) =>
  tf.fused.conv2d({ x, ...params[name], strides: stride, pad, activation: 'relu' });

// Caffe's ceil-mode max pool: pad explicitly (the right/bottom pad may exceed p) with a value that
// never wins, then a 'valid' pool. Every pooled tensor here is a ReLU output (>= 0), so -1e30 is safe.
function caffePoolSize(n, k, s, p) {
  let out = Math.ceil((n + 2 * p - k) / s) + 1;
  if (p > 0 && (out - 1) * s >= n + p) out -= 1;
  return out;
}
function maxPool(x, k, s, p) {
  const [, h, w] = x.shape;
  const padH = (caffePoolSize(h, k, s, p) - 1) * s + k - h - p;
  const padW = (caffePoolSize(w, k, s, p) - 1) * s + k - w - p;
  return tf.maxPool(tf.pad(x, [[0, 0], [p, padH], [p, padW], [0, 0]], -1e30), k, s, 'valid');
}

// Caffe LRN across channels, local_size 5: x / (1 + 1e-4/5 * sum of x² over 5 channels)^0.75.
// tf.localResponseNormalization(x, 2, 1, 1e-4 / 5, 0.75) is the same function (depthRadius is the
// half-width, TF's alpha multiplies the plain sum), but TF.js's WebGPU LRNGrad kernel loops over
// every channel for every channel (O(C²) per value: ~6 min per 224² step on SwiftShader). So by
// default the window sum is a 1x1 convolution with a 0/1 band matrix, whose gradient is ordinary.
let builtinLrn = false;
function band(c) {
  const m = new Float32Array(c * c).map((_, i) => (Math.abs(Math.floor(i / c) - (i % c)) <= 2 ? 1 : 0));
  return tf.tensor4d(m, [1, 1, c, c]);
}
function lrn(x) {
  if (builtinLrn) return tf.localResponseNormalization(x, 2, 1, 1e-4 / 5, 0.75);
  const sum = tf.conv2d(tf.square(x), params[`band${x.shape[3]}`], 1, 0);
  return tf.mul(x, tf.pow(tf.add(tf.mul(sum, 1e-4 / 5), 1), -0.75));
}

function inception4c(rgb) {
  // RGB 0..255 -> Caffe's BGR minus the mean.
  let x = tf.sub(tf.reverse(rgb, 3), tf.tensor1d(MEAN_BGR));
  x = convRelu(x, 'conv1/7x7_s2', 2, 3);
  x = lrn(maxPool(x, 3, 2, 0));
  x = convRelu(x, 'conv2/3x3_reduce');
  x = convRelu(x, 'conv2/3x3', 1, 1);
  x = maxPool(lrn(x), 3, 2, 0);
  for (const [n] of INCEPTIONS) {
    const b1 = convRelu(x, `${n}/1x1`);
    const b3 = convRelu(convRelu(x, `${n}/3x3_reduce`), `${n}/3x3`, 1, 1);
    const b5 = convRelu(convRelu(x, `${n}/5x5_reduce`), `${n}/5x5`, 1, 2);
    const bp = convRelu(maxPool(x, 3, 1, 1), `${n}/pool_proj`);
    x = tf.concat([b1, b3, b5, bp], 3);
    if (POOL_AFTER.has(n)) x = maxPool(x, 3, 2, 0);
  }
  return x;
}

// d mean(inception_4c/output²) / d rgb, for rgb [1, H, W, 3] on 0..255.
const gradient = tf.grad((rgb) => tf.mean(tf.square(inception4c(rgb))));

// One DeepDream step: img += g * 1.5 / (mean|g| + 1e-7), clipped to 0..255.
const step = (img) => tf.tidy(() => {
  const g = gradient(img);
  const scale = tf.div(1.5, tf.add(tf.mean(tf.abs(g)), 1e-7));
  return tf.clipByValue(tf.add(img, tf.mul(g, scale)), 0, 255);
});

async function adapterDescription() {
  const adapter = await navigator.gpu?.requestAdapter();
  const info = adapter && (adapter.info ?? await adapter.requestAdapterInfo?.());
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(', ') : '';
}

window.peer = {
  async init(backend, options = {}) {
    builtinLrn = Boolean(options.builtinLrn);
    if (backend === 'wasm') {
      // Served from the local node_modules, never a CDN. Threads need cross-origin isolation
      // (SharedArrayBuffer), which this page does not have: it runs the 1-thread SIMD build.
      tf.wasm.setWasmPaths('/peers/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
    await tf.ready();
    params = await loadParams();
    const flags = backend === 'wasm'
      ? { simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), threads: tf.wasm.getThreadsCount() }
      : { adapter: await adapterDescription() };
    return { version: tf.version_core, backend: tf.getBackend(), builtinLrn, ...flags };
  },

  // The gradient for RGB bytes (H*W*3, row-major), returned as [3, H, W] RGB like the golden file.
  async gradient(pixels, height, width) {
    const g = tf.tidy(() => tf.transpose(
      tf.reshape(gradient(tf.tensor4d(Float32Array.from(pixels), [1, height, width, 3])), [height, width, 3]), [2, 0, 1]));
    const data = await g.data();
    g.dispose();
    return Array.from(data);
  },

  // Median milliseconds of `runs` steps after one warm-up, on coffee.png drawn at side x side.
  async time(side, runs) {
    const bitmap = await createImageBitmap(await (await fetch('/images/coffee.png')).blob());
    const canvas = new OffscreenCanvas(side, side);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 100, 0, 400, 400, 0, 0, side, side);
    const rgba = context.getImageData(0, 0, side, side).data;
    let img = tf.tensor4d(Float32Array.from(rgba.filter((_, i) => i % 4 !== 3)), [1, side, side, 3]);
    const times = [];
    for (let i = 0; i <= runs; i++) {
      const start = performance.now();
      const next = step(img);
      // Reading one value of the new image waits until the whole step has really run.
      const probe = tf.slice(next, [0, 0, 0, 0], [1, 1, 1, 1]);
      await probe.data();
      probe.dispose();
      img.dispose();
      img = next;
      if (i > 0) times.push(performance.now() - start);
    }
    img.dispose();
    return times;
  },
};
