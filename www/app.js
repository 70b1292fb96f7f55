// The page: hands photos and recipes to the engine's worker and draws what comes back.
// It holds no image math and no DeepDream logic; the engine validates every recipe.
import { LOOKS } from './looks.mjs';

// The video module (and the muxer it carries) loads only when an animation is made.
const videoModule = () => import('./video.mjs');

const $ = (id) => document.getElementById(id);
const VERSION = 'dev'; // `make dist` writes the site's version here
// Public-domain photos (tests/images/README.md) that dream with one click: label, path relative
// to here (`make dist` renames the file), and the name downloads are called after.
const SAMPLES = [['Cat', 'samples/cat.jpg', 'cat.jpg'], ['Coffee', 'samples/coffee.jpg', 'coffee.jpg']];
const NO_GPU = 'This browser offers no WebGPU, so the dream cannot run on your GPU. ' +
  'Chrome and Edge (version 113 or later), and Safari 26, have it. ' +
  'You can dream on the CPU instead: the same engine, about 10 to 50 times slower.';

let worker = null;
let query = ''; // the last recipe the engine accepted
const linked = location.search.slice(1);
let photo = null; // { bytes, name }, or { noise: true, name } for a dream from noise
let guide = null; // the guide image's bytes, when one is chosen
let options = []; // the engine's recipe table (its rows the page shows)
// The animation being made: { writer (null: frames go to a ZIP instead), added (a promise
// chain, so frames reach the encoder in order), extension }.
let movie = null;
let canVideo = null; // whether this browser has a video encoder (WebCodecs), set once below
let pending = false; // a photo waits for the engine and its recipe
let linkOpened = false; // the link's own recipe has been answered once
let restart = false; // the user changed the recipe: dream the photo again with it
let started = 0;
let urls = [];
let size = ''; // of the photo being dreamed, e.g. "4000×3000"
let dims = null; // [width, height] of the photo being dreamed

// What can be used now is shown; what cannot is hidden, not greyed out.
function setState(state) {
  document.body.dataset.state = state;
  const busy = state === 'dreaming' || state === 'done';
  $('stop').hidden = state !== 'dreaming';
  $('more').hidden = state !== 'done' || animating(query);
  $('compare-label').hidden = !photo || photo.noise || !busy;
  $('another').hidden = !photo;
  $('status').hidden = !busy;
  $('views').hidden = !photo;
  $('drop').hidden = Boolean(photo);
  if (state === 'dreaming') {
    $('download').hidden = true;
    $('download-jpeg').hidden = true;
    $('download-video').hidden = true;
  }
}

// The dream on screen: as large as the viewport allows, but never more than twice its size,
// and then pixel for pixel (an integer scale, no smoothing) rather than blurred.
function fitView() {
  if (!dims) return;
  const [w, h] = dims;
  const room = Math.min($('stage').clientWidth / w, (window.innerHeight * 0.75) / h);
  const scale = room >= 2 ? 2 : room >= 1 ? 1 : room;
  const canvas = $('canvas');
  for (const view of [canvas, $('original')]) {
    view.style.width = `${Math.floor(w * scale)}px`;
    view.classList.toggle('enlarged', scale > 1 && view === canvas && canvas.width === w);
  }
}

function alertUser(message) {
  $('alert').textContent = message;
  $('alert').hidden = !message;
}

function noteUser(message) {
  $('note').textContent = message;
  $('note').hidden = !message;
}

function startWorker(gpu) {
  if (worker) worker.terminate();
  // `data-recipe="known"`: the engine has answered the recipe since it (re)started, so the form
  // shows the link's recipe (the tests wait for it too).
  delete document.body.dataset.recipe;
  worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (event) => handlers[event.data.type](event.data);
  worker.onerror = (event) => failed(`The engine could not start: ${event.message}`);
  setState('loading');
  $('load').hidden = false;
  worker.postMessage({ type: 'load', gpu });
}

function failed(message) {
  alertUser(message);
  setState('error');
}

// The Advanced form, one control per row of the engine's recipe table: a new option needs no
// edit here. Each control's tooltip is the row's help and range.
function buildForm(rows, layers) {
  options = rows;
  $('recipe').replaceChildren();
  $('motion').replaceChildren();
  for (const o of rows.filter((row) => row.listed)) {
    const form = o.applies === 'motion' ? $('motion') : $('recipe');
    const label = document.createElement('label');
    label.title = `${o.help}: ${o.allowed}.`;
    label.dataset.applies = o.applies;
    let input;
    if (o.kind === 'layers' || o.kind === 'choice') {
      input = document.createElement('select');
      for (const value of o.kind === 'layers' ? layers : o.choices) input.add(new Option(value, value));
    } else {
      input = document.createElement('input');
      if (o.kind === 'switch') {
        input.type = 'checkbox';
        label.className = 'switch';
      } else {
        input.type = 'number';
        input.step = o.kind === 'real' ? 'any' : '1';
        if (o.min !== null) input.min = o.min;
        if (o.max !== null && o.max <= Number.MAX_SAFE_INTEGER) input.max = o.max;
        input.placeholder = o.default;
      }
    }
    input.name = o.key;
    if (o.kind === 'switch') label.append(input, o.label);
    else label.append(o.label, input);
    form.append(label);
  }
}

const startOf = (recipe) => new URLSearchParams(recipe).get('start') || 'photo';

const formInputs = () => [...$('recipe').elements, ...$('motion').elements];
const animating = (recipe) => Number(new URLSearchParams(recipe).get('frames') || 0) > 0;

function fillForm(recipe) {
  const params = new URLSearchParams(recipe);
  // A still's recipe has no motion: the Animate form keeps what was typed there until Animate.
  const inputs = animating(recipe) ? formInputs() : [...$('recipe').elements];
  for (const input of inputs) {
    const value = params.get(input.name) ?? '';
    if (input.type === 'checkbox') {
      input.checked = value === '1';
    } else {
      // A link may name a layer the list leaves out (a pre-ReLU value): show it anyway.
      if (input.tagName === 'SELECT' && value && ![...input.options].some((o) => o.value === value)) {
        input.add(new Option(value, value));
      }
      input.value = value;
    }
  }
  // Options of the other kind of start are hidden (a photo's maximum size, noise's size).
  const start = startOf(recipe);
  for (const label of $('recipe').children) {
    label.hidden = label.dataset.applies !== 'always' && label.dataset.applies !== start;
  }
  for (const button of $('presets').querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(params.get('layer') === button.dataset.layer && !params.get('channel')));
  }
  // An animation's recipe opens the Animate section, and a photo dropped then animates.
  if (animating(recipe)) $('animate').open = true;
  $('animate-start').hidden = animating(recipe);
  $('animate-stop').hidden = !animating(recipe);
  // Motion's own values show what Animate will use, even before frames are asked for.
  for (const input of $('motion').elements) {
    if (input.value === '') input.placeholder = options.find((o) => o.key === input.name)?.default ?? '';
  }
}

function formQuery() {
  // The options with their own controls (start, guide) keep their values; the rest are the form's.
  const params = new URLSearchParams(query);
  for (const input of formInputs()) {
    const value = input.type === 'checkbox' ? (input.checked ? '1' : '') : input.value;
    if (value !== '') params.set(input.name, value);
    else params.delete(input.name);
  }
  return params.toString(); // form-encoded: the engine decodes it as a browser would
}

// The current recipe with `changes` made (a value of null drops the key).
function withChanges(changes) {
  const params = new URLSearchParams(query);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) params.delete(key);
    else params.set(key, value);
  }
  return params.toString();
}

function setRecipe(candidate) {
  worker.postMessage({ type: 'recipe', query: candidate });
}

// A look or setting the user chose: once the engine accepts it, the photo dreams again with it
// (a dream in progress stops first).
function chooseRecipe(candidate) {
  restart = true;
  setRecipe(candidate);
}

function dream() {
  if (!photo) return;
  if (!worker || document.body.dataset.state === 'loading' || document.body.dataset.recipe !== 'known') {
    pending = true; // starts once an engine is ready and has the recipe
    return;
  }
  if (document.body.dataset.state === 'dreaming') {
    pending = true;
    worker.postMessage({ type: 'stop' });
    return;
  }
  alertUser('');
  noteUser('');
  setState('dreaming');
  $('progress-text').textContent = 'Starting…';
  worker.postMessage({
    type: 'dream',
    bytes: photo.noise ? null : photo.bytes.slice(0),
    guide: guide ? guide.slice(0) : null,
    query,
    // Without a video encoder, an animation's frames come back as a ZIP of PNGs.
    zip: animating(query) && !canVideo,
  });
}

async function takeFile(file) {
  if (!file) return;
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (error) {
    // The file went away or became unreadable between choosing and reading it.
    alertUser(`The file ${file.name ? `“${file.name}” ` : ''}could not be read (${error.message}). Choose it again.`);
    return;
  }
  photo = { bytes, name: file.name || 'pasted.png' };
  setState(document.body.dataset.state); // the stage shows the photo's place, not the drop zone
  urls.forEach(URL.revokeObjectURL);
  urls = [URL.createObjectURL(file)];
  $('original').src = urls[0];
  if (startOf(query) === 'noise') chooseRecipe(withChanges({ start: null, size: null, lapnorm: null }));
  else dream();
}

// Grey noise in the photo's place, for a dream of what a layer or channel wants to see.
function useNoise() {
  photo = { noise: true, name: 'noise.png' };
  urls.forEach(URL.revokeObjectURL);
  urls = [];
  $('original').removeAttribute('src');
  setState(document.body.dataset.state);
}

// "Start from noise": the shown recipe, from noise (a photo's own options dropped).
function takeNoise() {
  useNoise();
  chooseRecipe(withChanges({ start: 'noise', 'max-size': null, 'keep-colors': null }));
}

// 100 s reads "1 min 40 s", not "2 min"; past ten minutes the minutes are enough.
function seconds(s) {
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 600) return t % 60 ? `${Math.floor(t / 60)} min ${t % 60} s` : `${t / 60} min`;
  return `${Math.round(t / 60)} min`;
}

// After the engine died mid-dream: the last preview on the canvas becomes the PNG download.
function keepPreview() {
  const canvas = $('canvas');
  if (!canvas.width) return false;
  canvas.toBlob((blob) => {
    if (!blob) return; // the browser could not encode it: the preview stays on screen only
    urls.slice(1).forEach(URL.revokeObjectURL);
    urls = [urls[0], URL.createObjectURL(blob)];
    Object.assign($('download'), { href: urls[1], download: downloadName('png'), hidden: false });
    $('download-jpeg').hidden = true;
  }, 'image/png');
  return true;
}

function downloadName(ext, what = 'dream') {
  const base = photo.name.replace(/\.[^.]*$/, '') || 'photo';
  return `${base}-${what}.${ext}`;
}

// The animation's file: the video, or the engine's ZIP of frames where there is no encoder.
async function movieFile(zip) {
  const writer = await movie.added.catch((error) => {
    noteUser(`Note: the video could not be encoded (${error.message}).`);
    return null;
  });
  movie = null;
  if (writer && writer.frames > 0) {
    const blob = await writer.finish();
    return { url: URL.createObjectURL(blob), extension: writer.extension };
  }
  if (zip) {
    noteUser('Note: this browser cannot encode video (it has no WebCodecs VideoEncoder), so the frames come as a ZIP of PNGs.');
    return { url: URL.createObjectURL(new Blob([zip], { type: 'application/zip' })), extension: 'zip' };
  }
  return null;
}

const handlers = {
  weights({ loaded, total, cached }) {
    $('weights-progress').max = total || 1;
    $('weights-progress').value = loaded;
    $('weights-text').textContent = cached ? 'from this browser’s cache'
      : `${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB (once; then kept offline)`;
  },
  ready({ backend, layers, recipeOptions }) {
    $('load').hidden = true;
    $('no-gpu').hidden = true;
    if (!options.length) {
      buildForm(recipeOptions, layers);
      for (const name of layers) $('gallery-layer').add(new Option(name, name));
      $('gallery-layer').value = 'inception_4c/output';
    }
    document.body.dataset.backend = backend;
    setRecipe(query || linked);
    setState('ready');
    galleryStart(); // a gallery left open while the engine restarted goes on
  },
  note({ message }) {
    noteUser(`Note: ${message}.`);
  },
  recipe({ recipe }) {
    query = recipe;
    history.replaceState(null, '', `?${recipe}`);
    fillForm(recipe);
    document.body.dataset.recipe = 'known';
    const state = document.body.dataset.state;
    if (restart) {
      restart = false;
      if (photo && ['ready', 'dreaming', 'done', 'error'].includes(state)) dream();
    } else if (pending && state === 'ready') {
      // A photo that came while the engine loaded dreams now, with the link's recipe.
      pending = false;
      dream();
    } else if (!photo && !linkOpened && startOf(recipe) === 'noise' && state === 'ready') {
      // A link to a dream from noise needs no photo: it dreams as soon as the engine is up.
      useNoise();
      dream();
    }
    linkOpened = true;
  },
  started({ info }) {
    started = performance.now();
    movie = null;
    if (!info) return;
    size = `${info.width}×${info.height}`;
    // Previews come at each octave's size; the canvas is shown at the photo's size.
    dims = [info.width, info.height];
    if (info.note) noteUser(`Note: ${info.note}.`);
    if (info.frames > 0) {
      const fps = Number(new URLSearchParams(info.recipe).get('fps')) || 24;
      const writer = canVideo ? videoModule().then((m) => m.videoWriter(info.width, info.height, fps, info.recipe)) : null;
      movie = { writer, added: writer ?? Promise.resolve(null) };
    }
  },
  frame({ image, index, frames }) {
    // A finished frame: shown at once, and handed to the video encoder in order.
    handlers.preview({ image });
    movie.added = movie.added.then(async (writer) => {
      if (writer) await writer.add(image);
      return writer;
    });
    $('progress-text').textContent = `Frame ${index + 1} of ${frames} done`;
  },
  progress({ progress: p, frame }) {
    if (frame) {
      // An animation: progress over frames (the first, a whole dream, counts as one).
      $('progress').max = frame.frames;
      $('progress').value = frame.index + p.done / p.total;
      const perFrame = (performance.now() - started) / 1000 / Math.max(frame.index + p.done / p.total, 1e-3);
      const left = perFrame * (frame.frames - frame.index - p.done / p.total);
      $('progress-text').textContent =
        `Frame ${frame.index + 1} of ${frame.frames}, step ${p.done} of ${p.total} · ${seconds(left)} left`;
      return;
    }
    $('progress').max = p.total;
    $('progress').value = p.done;
    const left = ((performance.now() - started) / 1000 / p.done) * (p.total - p.done);
    $('progress-text').textContent =
      `Octave ${p.octave} of ${p.octaves}, step ${p.step} of ${p.steps} · ${seconds(left)} left`;
  },
  preview({ image }) {
    const canvas = $('canvas');
    if (canvas.width !== image.width || canvas.height !== image.height) {
      canvas.width = image.width;
      canvas.height = image.height;
    }
    canvas.getContext('2d').putImageData(image, 0, 0);
    fitView();
  },
  async done({ png, jpeg, stats, zip }) {
    urls.slice(1).forEach(URL.revokeObjectURL);
    const pngUrl = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
    const jpegUrl = URL.createObjectURL(new Blob([jpeg], { type: 'image/jpeg' }));
    urls = [urls[0], pngUrl, jpegUrl];
    if (movie) {
      // The video (or the ZIP of frames) is ready before the page says done.
      const made = await movieFile(zip);
      if (made) {
        urls.push(made.url);
        Object.assign($('download-video'), { href: made.url, download: downloadName(made.extension, 'zoom'), hidden: false });
        $('download-video').textContent = made.extension === 'zip' ? 'Download frames (ZIP)' : 'Download video';
      }
    }
    Object.assign($('download'), { href: pngUrl, download: downloadName('png'), hidden: false });
    Object.assign($('download-jpeg'), { href: jpegUrl, download: downloadName('jpg'), hidden: false });
    const memory = stats.deviceMemory ? `, ${Math.round(stats.deviceMemory / 1e6)} MB of GPU memory` : '';
    $('progress-text').textContent = `Done in ${seconds((performance.now() - started) / 1000)}: ` +
      `${size} px in tiles of up to ${stats.tile} px${memory}.`;
    setState('done');
    if (pending) {
      pending = false;
      dream();
    }
  },
  'gallery-started'({ layer, count }) {
    galleryShow(layer, count);
  },
  thumb({ layer, channel, png }) {
    galleryThumb(layer, channel, png);
  },
  error({ message, kind, fatal, during }) {
    if (kind === 'no-gpu' && document.body.dataset.backend !== 'cpu') {
      $('load').hidden = true;
      $('no-gpu-text').textContent = `${NO_GPU} (${message})`;
      $('no-gpu').hidden = false;
      failed(message);
      return;
    }
    if (during === 'recipe') {
      restart = false;
      alertUser(message);
      if (query) fillForm(query);
      else setRecipe(''); // a bad link: fall back to the defaults, keeping the message
      return;
    }
    if (during === 'gallery' && !fatal) {
      $('gallery-text').textContent = message;
      return;
    }
    pending = false;
    if (fatal && (during === 'dream' || during === 'more') && keepPreview()) {
      const { width, height } = $('canvas');
      message += `. The last preview (${width}×${height}) is kept below and can be downloaded; ` +
        'the engine has restarted for your next dream.';
      $('progress-text').textContent = 'Stopped.';
    }
    failed(message);
    // A panic or a lost GPU kills the engine: bring a fresh one up for the next photo.
    if (fatal && during !== 'load') startWorker(!$('cpu').checked);
  },
};

function thumbButton(label, src) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'thumb';
  const img = new Image(56, 56);
  img.alt = '';
  img.src = new URL(src, import.meta.url);
  button.append(img, label);
  return button;
}

for (const { name, layer, preview } of LOOKS) {
  const button = thumbButton(name, preview);
  button.dataset.layer = layer;
  button.title = `${name}: dreams layer ${layer}`;
  button.onclick = () => {
    const params = new URLSearchParams(query);
    params.set('layer', layer);
    params.delete('channel');
    chooseRecipe(params.toString());
  };
  $('presets').append(button);
}

for (const [label, path, name] of SAMPLES) {
  const button = thumbButton(label, path);
  button.onclick = async () => {
    const url = new URL(path, import.meta.url);
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      takeFile(new File([blob], name, { type: blob.type }));
    } catch (error) {
      alertUser(`The sample photo could not be loaded (${error.message}).`);
    }
  };
  $('sample-list').append(button);
}

const noise = document.createElement('button');
noise.type = 'button';
noise.className = 'thumb';
noise.id = 'noise';
noise.title = 'Start from grey noise: see what the chosen layer or channel wants to see';
noise.append(Object.assign(document.createElement('span'), { className: 'noise-swatch' }), 'Start from noise');
noise.onclick = takeNoise;
$('sample-list').append(noise);

$('guide-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  try {
    guide = await file.arrayBuffer();
  } catch (error) {
    alertUser(`The guide image could not be read (${error.message}). Choose it again.`);
    return;
  }
  $('guide-thumb').src = URL.createObjectURL(file);
  $('guide-thumb').hidden = false;
  $('guide-clear').hidden = false;
  chooseRecipe(withChanges({ guide: '1', channel: null }));
});
$('guide-clear').onclick = () => {
  guide = null;
  $('guide-thumb').hidden = true;
  $('guide-clear').hidden = true;
  chooseRecipe(withChanges({ guide: null }));
};

// The channel gallery: the engine renders the thumbnails in the background, those in view
// first; the page lays them out and says which are in view.
let galleryLayer = null;
let galleryDone = 0;
let galleryCount = 0;
const inView = new Set();
const galleryObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const channel = Number(entry.target.dataset.channel);
    if (entry.isIntersecting) inView.add(channel);
    else inView.delete(channel);
  }
  worker?.postMessage({ type: 'gallery-visible', channels: [...inView] });
});

function galleryStart() {
  if (!$('gallery').open || !worker || document.body.dataset.state === 'loading') return;
  worker.postMessage({ type: 'gallery', layer: $('gallery-layer').value, size: $('gallery-size').value });
}

function galleryShow(layer, count) {
  galleryLayer = layer;
  galleryCount = count;
  galleryDone = 0;
  galleryObserver.disconnect();
  inView.clear();
  for (const img of $('gallery-grid').querySelectorAll('img[src^="blob:"]')) URL.revokeObjectURL(img.src);
  const buttons = [];
  for (let channel = 0; channel < count; channel++) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.channel = channel;
    button.title = `Dream channel ${channel} of ${layer}`;
    const img = new Image();
    img.alt = `channel ${channel}`;
    button.append(img, String(channel));
    button.onclick = () => {
      if (!photo) noteUser(`Channel ${channel} of ${layer} is chosen: drop a photo to dream it.`);
      chooseRecipe(withChanges({ layer, channel: String(channel), guide: null }));
    };
    buttons.push(button);
  }
  $('gallery-grid').replaceChildren(...buttons);
  buttons.forEach((button) => galleryObserver.observe(button));
  $('gallery-text').textContent = `0 of ${count}`;
}

function galleryThumb(layer, channel, png) {
  if (layer !== galleryLayer) return;
  const button = $('gallery-grid').children[channel];
  if (!button) return;
  button.querySelector('img').src = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
  button.dataset.ready = '';
  galleryDone++;
  $('gallery-text').textContent = galleryDone < galleryCount ? `${galleryDone} of ${galleryCount}` : `all ${galleryCount} channels`;
}

$('gallery').addEventListener('toggle', () => {
  if ($('gallery').open) galleryStart();
  else worker?.postMessage({ type: 'gallery-stop' });
});
$('gallery-layer').onchange = galleryStart;
$('gallery-size').onchange = galleryStart;

$('recipe').addEventListener('change', () => chooseRecipe(formQuery()));
// Animate: the motion typed in the form, with frames (48 unless typed), from the photo shown.
$('motion').addEventListener('change', () => {
  if (animating(query)) chooseRecipe(formQuery());
});
$('animate-start').onclick = () => {
  const params = new URLSearchParams(formQuery());
  if (!(Number(params.get('frames')) > 0)) params.set('frames', '48');
  if (!photo) noteUser('Note: drop a photo (or start from noise) to animate it.');
  chooseRecipe(params.toString());
};
$('animate-stop').onclick = () => chooseRecipe(withChanges({ frames: null }));
$('file').addEventListener('change', (event) => {
  takeFile(event.target.files[0]);
  event.target.value = ''; // so that choosing the same file again dreams it again
});
$('another').onclick = () => $('file').click();
$('stop').onclick = () => worker.postMessage({ type: 'stop' });
$('more').onclick = () => {
  setState('dreaming');
  worker.postMessage({ type: 'more', query }); // the recipe shown, not the last dream's
};
$('compare').onchange = (event) => {
  $('original').hidden = !event.target.checked;
  $('canvas').hidden = event.target.checked;
};
$('cpu').onchange = (event) => startWorker(!event.target.checked);
$('use-cpu').onclick = () => {
  $('cpu').checked = true;
  document.body.dataset.backend = 'cpu';
  alertUser('');
  startWorker(false);
};
// A file dragged over the page lights up the stage; dropping it anywhere dreams it.
let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  if (![...event.dataTransfer.types].includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) document.body.classList.remove('dragging');
});
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  takeFile(event.dataTransfer.files[0]);
});
window.addEventListener('resize', fitView);
document.addEventListener('paste', (event) => {
  const item = [...event.clipboardData.items].find((i) => i.kind === 'file');
  if (item) takeFile(item.getAsFile());
});

// Offline use: the service worker (dist/sw.js) keeps this version's files. A newer version is
// offered, never mixed in: it takes over when the user says so, and the page reloads with it.
async function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || VERSION === 'dev') return;
  let registration;
  try {
    registration = await navigator.serviceWorker.register(new URL('../sw.js', import.meta.url));
  } catch (error) {
    console.warn(`no offline use: ${error.message}`); // e.g. a private window that refuses it
    return;
  }
  const offer = (sw) => {
    if (!sw || !navigator.serviceWorker.controller) return; // a first install needs no update
    $('update').hidden = false;
    $('update-now').onclick = () => {
      navigator.serviceWorker.addEventListener('controllerchange', () => location.reload());
      sw.postMessage({ type: 'update' });
    };
  };
  offer(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const sw = registration.installing;
    sw.addEventListener('statechange', () => {
      if (sw.state === 'installed') offer(sw);
    });
  });
}

$('version').textContent = `Version ${VERSION}.`;
// Whether an animation can become a video here; the encoder module loads only when one does.
canVideo = typeof VideoEncoder !== 'undefined';
registerServiceWorker();

if (navigator.gpu) {
  startWorker(true);
} else {
  $('load').hidden = true;
  $('no-gpu-text').textContent = NO_GPU;
  $('no-gpu').hidden = false;
  failed('This browser has no WebGPU.');
}
