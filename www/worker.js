// The engine's thread: loads the wasm module and the weights, then runs dream steps and posts
// previews, so the page never blocks. All DeepDream logic lives in the wasm engine. Every reply
// to a job carries the job's number, so the page can drop the replies of a job it gave up.
import init, {
  Engine, checkWeights, galleryRecipe, layerChannels, layers, normalizeRecipe, recipeOptions,
} from './pkg/deepdream.js';

const WEIGHTS = new URL('../weights/googlenet.safetensors', import.meta.url);
const PREVIEW_EVERY_MS = 250;

let engine = null;
let wasm = null; // the instance's exports, for its memory size
// The wasm compiles as soon as the worker starts: recipes can be checked before the weights are in.
const compiled = init().then((instance) => { wasm = instance; });
compiled.catch(() => {}); // a failed compile is reported where it is awaited
let running = null; // the job being dreamed
let stopRequested = false;
let weightsSha = null; // names the gallery's cached thumbnails
// The gallery being rendered: { id, layer, recipe, queue: channels not yet rendered, visible }.
let gallery = null;
let galleryRunning = false;
// Channels rendered together in one pass: more keeps a GPU busy, fewer answers sooner.
const GALLERY_BATCH = 8;

const post = (type, data = {}, transfer = []) => postMessage({ type, ...data }, transfer);
// An error the page acts on by its kind (the engine's errors carry theirs), never by its text.
const failure = (kind, message) => Object.assign(new Error(message), { kind });

// fetch, with "no connection" as an error of kind 'network'.
async function get(url, options) {
  try {
    return await fetch(url, options);
  } catch (error) {
    throw failure('network', `${url.pathname.split('/').pop()} could not be downloaded (${error.message})`);
  }
}
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

// Cache Storage, or null where there is none (an http:// LAN address, some private windows):
// the engine then runs without it.
async function openCache(name) {
  try {
    return await caches.open(name);
  } catch {
    return null;
  }
}

// The weights, from Cache Storage when this version was fetched before, else downloaded with
// byte progress, checked against their sha256 and only then cached: a corrupt download is
// fetched once more, and never kept. If the cache is full or missing, the dream goes on
// uncached. A cached copy is not checked here: the engine checks whatever it is given (`load`
// below), and hashing 28 MB twice would cost a cached start ~0.15 s.
async function weights() {
  const shaResponse = await get(new URL(WEIGHTS + '.sha256'));
  if (!shaResponse.ok) throw failure('network', `the weights' checksum could not be downloaded (HTTP ${shaResponse.status})`);
  const sha = (await shaResponse.text()).trim();
  const key = `${WEIGHTS}?sha256=${sha}`;
  const cache = await openCache('deepdream-weights');
  const cached = await cache?.match(key);
  if (cached) {
    post('weights', { loaded: 1, total: 1, cached: true });
    return { bytes: new Uint8Array(await cached.arrayBuffer()), sha, drop: () => cache.delete(key) };
  }
  await compiled;
  let bytes;
  try {
    bytes = await download();
    checkWeights(bytes, sha);
  } catch (first) {
    try {
      bytes = await download();
      checkWeights(bytes, sha);
    } catch (second) {
      throw failure('weights', `the weights failed twice (${first.message}; then ${second.message}). ` +
        'Check the connection and reload the page');
    }
  }
  if (!cache) {
    post('note', { message: 'this browser gives the page no storage here, so the weights will be downloaded again next time' });
    return { bytes, sha };
  }
  try {
    for (const old of await cache.keys()) await cache.delete(old);
    await cache.put(key, new Response(bytes));
  } catch {
    post('note', { message: 'the weights could not be kept in this browser (its storage is full), so they will be downloaded again next time' });
  }
  return { bytes, sha };
}

async function download() {
  const response = await get(WEIGHTS, { cache: 'no-store' });
  if (!response.ok) throw failure('network', `the weights could not be downloaded (HTTP ${response.status})`);
  const total = Number(response.headers.get('x-content-length') || response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post('weights', { loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

// The recipe table comes first (the form can be built while the weights load), then the engine
// on the device `mode` names ('auto', 'webgpu' or 'cpu').
async function load(mode) {
  await compiled;
  post('table', { layers: layers(), recipeOptions: recipeOptions() });
  let { bytes, sha, drop } = await weights();
  try {
    engine = await Engine.create(bytes, sha, mode);
  } catch (error) {
    if (!drop || error?.kind !== 'weights') throw error;
    // The cached copy was damaged on disk: forget it and download the weights again.
    await drop();
    ({ bytes, sha } = await weights());
    engine = await Engine.create(bytes, sha, mode);
  }
  weightsSha = sha;
  post('ready', { backend: engine.backend(), note: engine.note() ?? null });
}

// The preview's pixels are handed over, not copied: it is made for the page alone.
async function preview(job) {
  const image = await engine.preview();
  post('preview', { job, image }, [image.data.buffer]);
}

async function result(job) {
  const png = await engine.png();
  const jpeg = await engine.jpeg();
  // What the dream used: the tile side, the device's memory pool, the wasm heap (which only grows).
  const stats = { ...engine.stats(), wasmMemory: wasm.memory.buffer.byteLength };
  console.info(`deepdream stats ${JSON.stringify(stats)}`);
  post('done', { job, png, jpeg, stats }, [png.buffer, jpeg.buffer]);
}

// Steps until the dream ends or Stop arrives; previews a few times a second. An animation's
// finished frames go to the page whole, with their PNG (the page keeps them: a video, or a ZIP
// of PNGs), then the next frame starts from each one.
async function run(job) {
  running = job;
  stopRequested = false;
  let last = 0;
  try {
    for (;;) {
      await tick(); // lets a Stop message in
      if (stopRequested) break;
      const progress = engine.step();
      const frame = engine.frame();
      if (progress === null) {
        if (!frame) break;
        const image = await engine.frameImage();
        const png = await engine.png();
        // Memory per frame, for the animation's tests (flat over a long animation).
        console.info(`deepdream frame ${frame.index + 1} ${JSON.stringify({ ...engine.stats(), wasmMemory: wasm.memory.buffer.byteLength })}`);
        const more = engine.advance(new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength));
        post('frame', { job, image, png, index: frame.index, frames: frame.frames }, [image.data.buffer, png.buffer]);
        if (!more) break;
        continue;
      }
      const now = performance.now();
      if (now - last >= PREVIEW_EVERY_MS || progress.done === progress.total) {
        await preview(job);
        last = performance.now();
      }
      post('progress', { job, progress, frame });
    }
    await preview(job);
    await result(job);
  } finally {
    running = null;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A thumbnail's place in Cache Storage: the weights, the layer, the channel and the recipe
// name it, so it renders once per device and never stale.
function thumbKey(g, channel) {
  return new URL(`gallery/${weightsSha}/${encodeURIComponent(g.layer)}/${channel}?${g.recipe}`, self.location.href);
}

// The gallery's cache, with the thumbnails of other weights dropped (once per engine).
let galleryPruned = false;
async function galleryCache() {
  const cache = await openCache('deepdream-gallery');
  if (cache && !galleryPruned) {
    galleryPruned = true;
    const current = new URL(`gallery/${weightsSha}/`, self.location.href).href;
    for (const request of await cache.keys()) {
      if (!request.url.startsWith(current)) await cache.delete(request);
    }
  }
  return cache;
}

// Renders the gallery's thumbnails a batch at a time, those in view first; a dream the user
// starts runs first (the gallery waits between its steps), and a new layer drops the old one.
async function galleryLoop() {
  if (galleryRunning) return;
  galleryRunning = true;
  const cache = await galleryCache();
  try {
    while (gallery?.queue.length) {
      while (running) await sleep(50);
      const g = gallery;
      if (!g) break;
      const visible = g.queue.filter((c) => g.visible.has(c));
      const batch = [...visible, ...g.queue.filter((c) => !g.visible.has(c))].slice(0, GALLERY_BATCH);
      g.queue = g.queue.filter((c) => !batch.includes(c));
      const todo = [];
      for (const channel of batch) {
        const hit = await cache?.match(thumbKey(g, channel));
        if (hit) post('thumb', { job: g.id, channel, png: await hit.arrayBuffer() });
        else todo.push(channel);
      }
      if (!todo.length) continue;
      post('rendering', { job: g.id, channels: todo });
      engine.galleryBegin(g.layer, Uint32Array.from(todo), g.recipe);
      while (engine.galleryStep()) {
        await tick();
        while (running) await sleep(50);
        if (gallery !== g) break;
      }
      if (gallery !== g) continue;
      const pngs = await engine.galleryImages();
      for (const [k, channel] of todo.entries()) {
        const png = pngs[k];
        try {
          await cache?.put(thumbKey(g, channel), new Response(png.slice(0)));
        } catch {
          // Storage full: the thumbnail is shown, just not kept.
        }
        post('thumb', { job: g.id, channel, png: png.buffer }, [png.buffer]);
      }
    }
  } finally {
    galleryRunning = false;
  }
}

async function handle(message) {
  const { job } = message;
  switch (message.type) {
    case 'load':
      return load(message.engine);
    case 'recipe': {
      await compiled;
      try {
        return post('recipe', { job, recipe: normalizeRecipe(message.query) });
      } catch (error) {
        return post('recipe', { job, error: { message: String(error?.message ?? error), kind: error?.kind ?? 'recipe' } });
      }
    }
    case 'dream': {
      const bytes = message.bytes ? new Uint8Array(message.bytes) : undefined;
      const guide = message.guide ? new Uint8Array(message.guide) : undefined;
      const info = engine.begin(bytes, message.query, guide);
      post('started', { job, info });
      return run(job);
    }
    case 'more': {
      const recipe = engine.more(message.query);
      post('started', { job, info: null, recipe });
      return run(job);
    }
    case 'stop':
      stopRequested = true;
      return undefined;
    case 'gallery': {
      const layer = message.layer;
      const count = layerChannels(layer);
      const recipe = galleryRecipe(layer, `size=${message.size}`);
      const visible = gallery?.layer === layer ? gallery.visible : new Set();
      gallery = { id: job, layer, recipe, queue: [...Array(count).keys()], visible };
      post('gallery-started', { job, layer, count });
      galleryLoop().catch((error) => report(error, 'gallery', job)); // runs on between messages
      return undefined;
    }
    case 'gallery-visible':
      if (gallery) gallery.visible = new Set(message.channels);
      return undefined;
    case 'gallery-stop':
      gallery = null;
      return undefined;
    default:
      throw failure('internal', `unknown message ${message.type}`);
  }
}

onmessage = async (event) => {
  try {
    // A recipe is only read and normalised, so it may change while a dream runs.
    const alongside = ['stop', 'recipe', 'gallery', 'gallery-visible', 'gallery-stop'];
    if (!alongside.includes(event.data.type) && running) throw failure('busy', 'a dream is already running');
    if (!['load', 'recipe', 'stop'].includes(event.data.type) && !engine) {
      throw failure('internal', 'the engine has not loaded yet');
    }
    await handle(event.data);
  } catch (error) {
    report(error, event.data.type, event.data.job);
  }
};

// A Rust panic leaves a dead instance (a RuntimeError), and a lost or exhausted GPU a dead
// device (the engine marks those fatal): the page starts a new worker. The panic hook leaves
// its sentence.
function report(error, during, job) {
  const panicked = error instanceof WebAssembly.RuntimeError;
  const fatal = panicked || error?.fatal === true || engine === null;
  const kind = panicked ? 'panic' : error?.kind ?? 'internal';
  const message = panicked ? self.deepdreamPanic || 'the engine failed unexpectedly' : String(error?.message ?? error);
  post('error', { job, message, kind, fatal, during });
}
