// The page: hands photos and recipes to the engine's worker and draws what comes back. It holds
// no image math and no DeepDream logic; the engine validates every recipe.
//
// Its state is the one object `page` below. The user's actions and the engine's replies change
// it, then `pump` decides what the engine does next and `render` shows it: a reply carries the
// number of the job it answers, and one for a job the page gave up is dropped.
import { LOOKS } from './looks.mjs';
import { EngineClient } from './engine.mjs';
import * as form from './form.mjs';
import { Gallery } from './gallery.mjs';
import { Movie } from './movie.mjs';
import * as stage from './stage.mjs';

const $ = (id) => document.getElementById(id);
const VERSION = 'dev'; // `make dist` writes the site's version here
// Public-domain photos (tests/images/README.md) that dream with one click: label, path relative
// to here (`make dist` renames the file), and the name downloads are called after.
const SAMPLES = [['Cat', 'samples/cat.jpg', 'cat.jpg'], ['Coffee', 'samples/coffee.jpg', 'coffee.jpg']];
const NO_GPU = 'This browser offers no usable WebGPU, so the dream cannot run on your GPU. ' +
  'Chrome and Edge (version 113 or later), and Safari 26, have it. ' +
  'You can dream on the CPU instead: the same engine, about 10 to 50 times slower.';

// `?engine=webgpu` or `?engine=cpu` forces an engine (for tests and benchmarks); it is not part
// of the recipe, and it stays in the address when the page rewrites the recipe there.
const FORCED = new URLSearchParams(location.search).get('engine');
const ENGINE = ['webgpu', 'cpu'].includes(FORCED) ? FORCED : 'auto';
const LINK = location.search.slice(1);

const page = {
  engine: 'loading', // the worker's engine: 'loading', 'ready', or 'failed' (no engine to run)
  mode: ENGINE, // the device asked of the worker: 'auto', 'webgpu' or 'cpu'
  backend: null, // where the engine runs once ready: 'gpu' or 'cpu'
  recipe: null, // the last recipe the engine accepted; null until it has answered the link's
  asked: null, // the recipe being checked: { job, candidate, dream, guide }
  photo: null, // { bytes, name, url }, or { noise: true, name } for a dream from noise
  guide: null, // the guide image { bytes, url }: the recipe has guide=1 exactly when there is one
  guideWanted: false, // the link's recipe was dreamed with a guide image, which a link cannot carry
  job: null, // the dream running: { id, name, movie, previewed, started, stopping, finishing }
  next: false, // the user asked for a dream: it starts once the engine is free and the recipe checked
  last: null, // how the last dream ended: 'done', 'error' or null
  continued: false, // the recipe's passes came from "Dream more": a new photo starts at one
  carried: '', // a note for the next dream, which clears the last one's
  warned: null, // what a reload would lose that the user was warned of
  unsaved: false, // a result not yet downloaded
};

const engine = new EngineClient((message) => (replies[message.type] ?? (() => {}))(message));
const gallery = new Gallery(engine, () => page.engine === 'ready', (layer, channel) => {
  if (!page.photo) stage.noteUser(`Channel ${channel} of ${layer} is chosen: drop a photo to dream it.`);
  choose(form.change(current(), { layer, channel: String(channel), guide: null }));
});

// What can be used now is shown; what cannot is hidden, not greyed out.
function render() {
  const state = page.engine === 'loading' ? 'loading'
    : page.engine === 'failed' ? 'error'
      : page.job ? 'dreaming' : page.last ?? 'ready';
  // Written only when it changes: the tests (and any observer) see each change once.
  if (document.body.dataset.state !== state) document.body.dataset.state = state;
  if (page.backend) document.body.dataset.backend = page.backend;
  const photo = page.photo;
  $('stop').hidden = !page.job || page.job.finishing;
  $('more').hidden = state !== 'done' || form.animating(page.recipe ?? '');
  // A dream from noise has no original to show.
  $('compare-label').hidden = !photo || photo.noise || !['dreaming', 'done'].includes(state);
  if (!photo || photo.noise) stage.compare(false);
  $('another').hidden = !photo;
  $('status').hidden = !page.job && !page.last;
  $('views').hidden = !photo;
  $('drop').hidden = Boolean(photo);
  $('guide-thumb').hidden = !page.guide;
  $('guide-clear').hidden = !page.guide && !page.guideWanted;
  $('guide-wanted').hidden = !page.guideWanted;
}

// The recipe the user is looking at: the one being checked, else the accepted one, else the link.
const current = () => page.asked?.candidate ?? page.recipe ?? LINK;

/** Asks the engine to check `candidate`; with `dream`, the photo dreams once it is accepted. */
function ask(candidate, dream, guide) {
  // A guide picked for a refused recipe is not kept (`guide` goes with the recipe, or not at all).
  if (page.asked?.guide) URL.revokeObjectURL(page.asked.guide.url);
  page.asked = { job: engine.send('recipe', { query: candidate }), candidate, dream, guide };
}

/** A look, setting or channel the user chose: the photo dreams again with it once accepted. */
function choose(candidate, guide) {
  ask(candidate, true, guide);
}

function accept(recipe, asked) {
  if (asked.guide) {
    if (page.guide) URL.revokeObjectURL(page.guide.url);
    page.guide = asked.guide;
    $('guide-thumb').src = page.guide.url;
    page.guideWanted = false;
  }
  const guided = new URLSearchParams(recipe).get('guide') === '1';
  if (guided && !page.guide) {
    // A link's guide=1: the image does not travel in links. Dream without it, and ask for it.
    page.guideWanted = true;
    $('advanced').open = true;
    recipe = form.change(recipe, { guide: null });
  } else if (!guided && page.guide) {
    URL.revokeObjectURL(page.guide.url);
    page.guide = null;
  }
  const first = page.recipe === null;
  show(recipe);
  document.body.dataset.recipe = 'known';
  if (asked.dream && page.photo) {
    page.next = true;
  } else if (first && !page.photo && form.startOf(recipe) === 'noise') {
    // A link to a dream from noise needs no photo: it dreams as soon as the engine is up.
    useNoise();
    page.next = true;
  }
}

/** `recipe` becomes the page's: in the address (which can be shared), the forms and the looks. */
function show(recipe) {
  page.recipe = recipe;
  const forced = ENGINE === 'auto' ? '' : `${recipe ? '&' : ''}engine=${ENGINE}`;
  history.replaceState(null, '', `?${recipe}${forced}`);
  if (form.built()) form.fill(recipe);
}

/** Starts what the user asked for, once nothing stands in the way; stops a dream in the way. */
function pump() {
  if (page.engine === 'ready' && page.recipe !== null && !page.asked && page.next && page.photo) {
    if (!page.job) {
      page.next = false;
      start('dream');
    } else if (!page.job.stopping && !page.job.finishing) {
      page.job.stopping = true;
      engine.tell('stop');
    }
  }
  render();
}

function start(kind) {
  const photo = page.photo;
  stage.alertUser('');
  stage.noteUser(page.carried);
  page.carried = '';
  const data = kind === 'more' ? { query: page.recipe } : {
    bytes: photo.noise ? null : photo.bytes.slice(0),
    guide: page.guide ? page.guide.bytes.slice(0) : null,
    query: page.recipe,
  };
  const id = engine.send(kind, data);
  page.job = { id, name: photo.name, movie: null, previewed: false, started: performance.now(), stopping: false, finishing: false };
  page.last = null;
  stage.progress('Starting…');
}

/** A new engine on `page.mode`; a dream it was running starts again there. */
function restartEngine() {
  if (page.job && !page.job.finishing) page.next = true;
  page.job = null;
  page.engine = 'loading';
  page.backend = null;
  $('load').hidden = false;
  $('no-gpu').hidden = true;
  engine.start(page.mode);
  render();
}

async function takeFile(file) {
  if (!file) return;
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (error) {
    // The file went away or became unreadable between choosing and reading it.
    stage.alertUser(`The file ${file.name ? `“${file.name}” ` : ''}could not be read (${error.message}). Choose it again.`);
    return;
  }
  if (page.photo?.url) URL.revokeObjectURL(page.photo.url);
  page.photo = { bytes, name: file.name || 'pasted.png', url: URL.createObjectURL(file) };
  stage.original(page.photo.url);
  const changes = {
    ...(form.startOf(current()) === 'noise' ? { start: null, size: null, lapnorm: null } : {}),
    ...(page.continued ? { passes: null } : {}),
  };
  page.continued = false;
  if (Object.keys(changes).length) choose(form.change(current(), changes));
  else page.next = true;
  pump();
}

// Grey noise in the photo's place, for a dream of what a layer or channel wants to see.
function useNoise() {
  if (page.photo?.url) URL.revokeObjectURL(page.photo.url);
  page.photo = { noise: true, name: 'noise.png' };
  stage.original(null);
}

// "Start from noise": the shown recipe, from noise (a photo's own options dropped).
function takeNoise() {
  useNoise();
  choose(form.change(current(), { start: 'noise', 'max-size': null, 'keep-colors': null }));
  render();
}

// After a job failed: what it had done stays. The last preview becomes the PNG download when the
// engine died (only if it is this dream's: a failure before its first preview leaves the last
// result as it was), and an animation's finished frames become its video or ZIP.
async function salvage(job, message, fatal) {
  const kept = [];
  if (fatal && job.previewed) {
    const png = await stage.canvasPng();
    if (png) {
      stage.offer({ png }, job.name);
      const { width, height } = $('canvas');
      kept.push(`the last preview (${width}×${height}) is kept below and can be downloaded`);
      stage.progress('Stopped.');
    }
  }
  if (job.movie?.frames) {
    const made = await job.movie.finish();
    if (made) {
      if (!fatal || !job.previewed) stage.offer({}, job.name);
      stage.offerMovie(made.blob, made.extension);
      kept.push(`the ${job.movie.frames} finished frames are kept as ${made.extension === 'zip' ? 'a ZIP of PNGs' : 'a video'}`);
    }
  }
  if (kept.length) page.unsaved = true;
  const restarted = fatal ? '; the engine has restarted for your next dream' : '';
  stage.alertUser(kept.length ? `${message}. ${capital(kept.join(', and '))}${restarted}.` : message);
}

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// Replies of the engine's worker, by type. Those of a job carry its number.
const replies = {
  table({ layers, recipeOptions }) {
    if (form.built()) return;
    form.build(recipeOptions, layers);
    if (page.recipe !== null) form.fill(page.recipe);
    gallery.offer(layers);
  },
  weights({ loaded, total, cached }) {
    $('weights-progress').max = total || 1;
    $('weights-progress').value = loaded;
    $('weights-text').textContent = cached ? 'from this browser’s cache'
      : `${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB (once; then kept offline)`;
  },
  ready({ backend, note }) {
    page.engine = 'ready';
    page.backend = backend;
    $('load').hidden = true;
    $('cpu').checked = backend === 'cpu';
    // Why the engine is on the CPU though nobody asked: one calm line, no error.
    $('engine-note').textContent = note ? `${capital(note)}.` : '';
    $('engine-note').hidden = !note;
    gallery.on(backend);
    gallery.start(); // a gallery left open while the engine restarted goes on
    pump();
  },
  note({ message }) {
    stage.noteUser(`Note: ${message}.`);
  },
  recipe({ job, recipe, error }) {
    const asked = page.asked;
    if (job !== asked?.job) return; // a recipe changed again since
    page.asked = null;
    if (error) {
      if (asked.guide) URL.revokeObjectURL(asked.guide.url);
      stage.alertUser(error.message);
      if (page.recipe === null) ask('', false); // a bad link: the defaults, keeping the message
      else if (form.built()) form.fill(page.recipe);
    } else {
      accept(recipe, asked);
    }
    pump();
  },
  started({ job, info, recipe }) {
    const running = page.job;
    if (job !== running?.id) return;
    running.started = performance.now();
    // "Dream more" goes on as the recipe's next pass: the link and the PNG say so.
    if (recipe) {
      show(recipe);
      page.continued = true;
    }
    if (!info) return;
    running.size = `${info.width}×${info.height}`;
    stage.size(info.width, info.height);
    if (info.note) stage.noteUser(`Note: ${info.note}.`);
    if (info.frames > 0) {
      const fps = Number(new URLSearchParams(info.recipe).get('fps')) || 24;
      running.movie = new Movie(info.width, info.height, fps, info.recipe);
    }
  },
  progress({ job, progress: p, frame }) {
    const running = page.job;
    if (job !== running?.id || running.finishing) return;
    const elapsed = (performance.now() - running.started) / 1000;
    if (frame) {
      // An animation: progress over frames (the first, a whole dream, counts as one).
      const done = frame.index + p.work;
      stage.progress(`Frame ${frame.index + 1} of ${frame.frames}, step ${p.done} of ${p.total} · ` +
        `${stage.seconds((elapsed / Math.max(done, 1e-3)) * (frame.frames - done))} left`, done, frame.frames);
      return;
    }
    // The time left follows the work done, not the steps: each octave has about twice the
    // pixels of the one before.
    const left = (elapsed / Math.max(p.work, 1e-6)) * (1 - p.work);
    const pass = p.passes > 1 ? `pass ${p.pass} of ${p.passes}, ` : '';
    stage.progress(`${capital(`${pass}octave ${p.octave} of ${p.octaves}`)}, step ${p.step} of ${p.steps} · ` +
      `${stage.seconds(left)} left`, p.done, p.total);
  },
  preview({ job, image }) {
    const running = page.job;
    if (job !== running?.id || running.finishing) return;
    running.previewed = true;
    stage.draw(image);
  },
  frame({ job, image, png, index, frames }) {
    const running = page.job;
    if (job !== running?.id || running.finishing) return;
    // A finished frame: shown at once, and kept (encoded as it comes where the browser can).
    running.previewed = true;
    stage.draw(image);
    running.movie.add(image, png);
    stage.progress(`Frame ${index + 1} of ${frames} done`);
  },
  async done({ job, png, jpeg, stats }) {
    const running = page.job;
    if (job !== running?.id) return;
    running.finishing = true;
    stage.offer({ png: new Blob([png], { type: 'image/png' }), jpeg: new Blob([jpeg], { type: 'image/jpeg' }) }, running.name);
    page.unsaved = true;
    page.warned = null;
    try {
      // The video (or the ZIP of frames) is ready before the page says done.
      const made = await running.movie?.finish();
      if (made) {
        stage.offerMovie(made.blob, made.extension);
        if (made.why) stage.noteUser(`Note: ${made.why}, so the frames come as a ZIP of PNGs.`);
      }
    } catch (error) {
      stage.noteUser(`Note: the animation's file could not be made (${error.message}); the last frame is below.`);
    } finally {
      const memory = stats.deviceMemory ? `, ${Math.round(stats.deviceMemory / 1e6)} MB of GPU memory` : '';
      stage.progress(`Done in ${stage.seconds((performance.now() - running.started) / 1000)}: ` +
        `${running.size ?? 'the picture'} px in tiles of up to ${stats.tile} px${memory}.`);
      page.job = null;
      page.last = 'done';
      pump();
    }
  },
  'gallery-started': (message) => gallery.reply(message),
  rendering: (message) => gallery.reply(message),
  thumb: (message) => gallery.reply(message),
  async error({ job, message, kind, fatal, during }) {
    if (during === 'gallery' && !fatal) {
      if (job === gallery.job) $('gallery-text').textContent = message;
      return;
    }
    if (kind === 'no-gpu') {
      // WebGPU was asked for by name (`engine=webgpu`, or "Run on the CPU" unticked) and is not here.
      page.engine = 'failed';
      $('load').hidden = true;
      $('no-gpu-text').textContent = `${NO_GPU} (${message})`;
      $('no-gpu').hidden = false;
      stage.alertUser(message);
      render();
      return;
    }
    if (during === 'load') {
      // No engine to run (the weights would not download, the wasm would not compile).
      page.engine = 'failed';
      $('load').hidden = true;
      stage.alertUser(message);
      render();
      return;
    }
    const failed = page.job;
    const ours = failed && (job === failed.id || fatal);
    if (!ours && !fatal) {
      if (job === undefined) stage.alertUser(message); // else a job given up: its error is moot
      return;
    }
    if (ours) {
      page.job = null;
      page.next = false;
      page.last = fatal ? null : 'error';
    }
    if (fatal) {
      // A panic or a lost GPU kills the engine: the page says so, and brings a fresh one up for
      // the next photo.
      page.last = 'error';
      render();
      page.last = null;
      restartEngine();
      page.next = false;
    }
    if (ours) await salvage(failed, message, fatal);
    else stage.alertUser(message);
    render();
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
  button.onclick = () => choose(form.change(current(), { layer, channel: null }));
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
      stage.alertUser(`The sample photo could not be loaded (${error.message}).`);
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
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (error) {
    stage.alertUser(`The guide image could not be read (${error.message}). Choose it again.`);
    return;
  }
  choose(form.change(current(), { guide: '1', channel: null }), { bytes, url: URL.createObjectURL(file) });
});
$('guide-clear').onclick = () => {
  page.guideWanted = false;
  choose(form.change(current(), { guide: null }));
  render();
};

$('recipe').addEventListener('change', () => choose(form.read(current(), form.animating(current()))));
// Animate: the motion typed in the form, with frames (48 unless typed), from the photo shown.
$('motion').addEventListener('change', () => {
  if (form.animating(current())) choose(form.read(current(), true));
});
$('animate-start').onclick = () => {
  const params = new URLSearchParams(form.read(current(), true));
  if (!(Number(params.get('frames')) > 0)) params.set('frames', '48');
  if (!page.photo) stage.noteUser('Note: drop a photo (or start from noise) to animate it.');
  choose(params.toString());
};
$('animate-stop').onclick = () => choose(form.change(current(), { frames: null }));
$('file').addEventListener('change', (event) => {
  takeFile(event.target.files[0]);
  event.target.value = ''; // so that choosing the same file again dreams it again
});
$('another').onclick = () => $('file').click();
$('stop').onclick = () => {
  if (!page.job || page.job.stopping) return;
  page.job.stopping = true;
  page.next = false;
  engine.tell('stop');
};
$('more').onclick = () => {
  if (page.job || page.engine !== 'ready' || !page.photo) return;
  start('more'); // the recipe shown, not the last dream's
  render();
};
$('compare').onchange = (event) => stage.compare(event.target.checked);
$('cpu').onchange = (event) => {
  const was = page.job && !page.job.finishing;
  page.mode = event.target.checked ? 'cpu' : 'webgpu';
  restartEngine();
  if (was) page.carried = `The dream starts again on the ${event.target.checked ? 'CPU' : 'GPU'}.`;
};
$('use-cpu').onclick = () => {
  page.mode = 'cpu';
  stage.alertUser('');
  restartEngine();
};
for (const id of ['download', 'download-jpeg', 'download-video']) {
  $(id).addEventListener('click', () => { page.unsaved = false; });
}
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
window.addEventListener('resize', stage.fit);
document.addEventListener('paste', (event) => {
  const item = [...event.clipboardData.items].find((i) => i.kind === 'file');
  if (item) takeFile(item.getAsFile());
});

// Reloading drops a dream in progress and a result not yet downloaded: the first click says
// so, a second one goes ahead. A new dream or result is new at stake, and is warned of again.
function reloadSafely(go) {
  const losing = page.job ? 'the dream in progress' : page.unsaved ? 'the last dream, which has not been downloaded' : null;
  const stake = page.job ? `job ${page.job.id}` : 'result';
  if (losing && page.warned !== stake) {
    page.warned = stake;
    $('update-text').textContent = `Updating reloads the page, and ${losing} would be lost. ` +
      'Download it first, or click again to update now.';
    return;
  }
  go();
}

// Offline use: the service worker (dist/sw.js) keeps this version's files. A newer version is
// offered, never mixed in: it takes over when the user says so, and the page reloads with it.
// When another tab took the update, this one keeps running its own version (the service worker
// keeps its files) until the user reloads.
async function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || VERSION === 'dev') return;
  // A first visit's service worker takes the page over too: that is no new version.
  let controlled = Boolean(navigator.serviceWorker.controller);
  let registration;
  try {
    registration = await navigator.serviceWorker.register(new URL('../sw.js', import.meta.url));
  } catch (error) {
    console.warn(`no offline use: ${error.message}`); // e.g. a private window that refuses it
    return;
  }
  if (!registration) return; // refused without an error (service workers blocked)
  let updating = false;
  const offer = (sw) => {
    if (!sw || !navigator.serviceWorker.controller) return; // a first install needs no update
    $('update').hidden = false;
    $('update-now').onclick = () => reloadSafely(() => {
      updating = true;
      sw.postMessage({ type: 'update' });
    });
  };
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (updating) {
      location.reload();
      return;
    }
    if (!controlled) {
      controlled = true;
      return;
    }
    $('update').hidden = false;
    $('update-text').textContent = 'A new version of DeepDream was installed in another tab. ' +
      'This page goes on with its own; reload to use the new one.';
    $('update-now').textContent = 'Reload';
    $('update-now').onclick = () => reloadSafely(() => location.reload());
  });
  offer(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const sw = registration.installing;
    sw.addEventListener('statechange', () => {
      if (sw.state === 'installed') offer(sw);
    });
  });
}

$('version').textContent = `Version ${VERSION}.`;
registerServiceWorker();
engine.start(page.mode);
ask(LINK, false);
render();
