// The stage: the dream where the photo was, the original beside it, the progress line, the
// messages, and the downloads of the last good result (they stay until another replaces them).
const $ = (id) => document.getElementById(id);

let dims = null; // [width, height] of the picture being dreamed
let kept = null; // the last good result: { urls, name }

export function alertUser(message) {
  $('alert').textContent = message;
  $('alert').hidden = !message;
}

export function noteUser(message) {
  $('note').textContent = message;
  $('note').hidden = !message;
}

export function progress(text, value = null, max = null) {
  $('progress-text').textContent = text;
  if (max !== null) $('progress').max = max;
  if (value !== null) $('progress').value = value;
}

// 100 s reads "1 min 40 s", not "2 min"; past ten minutes the minutes are enough.
export function seconds(s) {
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 600) return t % 60 ? `${Math.floor(t / 60)} min ${t % 60} s` : `${t / 60} min`;
  return `${Math.round(t / 60)} min`;
}

/** The picture being dreamed is `width`×`height`: previews come at each octave's size. */
export function size(width, height) {
  dims = [width, height];
}

// The dream on screen: as large as the viewport allows, but never more than twice its size,
// and then pixel for pixel (an integer scale, no smoothing) rather than blurred.
export function fit() {
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

export function draw(image) {
  const canvas = $('canvas');
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
  fit();
}

/** Shows the photo (an object URL), or none for a dream from noise. */
export function original(url) {
  if (url) $('original').src = url;
  else $('original').removeAttribute('src');
  // A new picture starts on the dream, whatever was shown for the last one.
  compare(false);
}

/** "Show the original": the photo in the dream's place. */
export function compare(on) {
  $('compare').checked = on;
  $('original').hidden = !on;
  $('canvas').hidden = on;
}

function link(id, url, name) {
  Object.assign($(id), { href: url, download: name, hidden: false });
}

/** A new result replaces the last: `files` maps 'png', 'jpeg' to Blobs; `name` is the photo's file name. */
export function offer(files, name) {
  for (const url of kept?.urls ?? []) URL.revokeObjectURL(url);
  const base = name.replace(/\.[^.]*$/, '') || 'photo';
  kept = { urls: [], base };
  for (const id of ['download', 'download-jpeg', 'download-video']) $(id).hidden = true;
  if (files.png) link('download', url(files.png), `${base}-dream.png`);
  if (files.jpeg) link('download-jpeg', url(files.jpeg), `${base}-dream.jpg`);
}

/** The animation's file, beside the result it ends with. */
export function offerMovie(blob, extension) {
  link('download-video', url(blob), `${kept.base}-zoom.${extension}`);
  $('download-video').textContent = extension === 'zip' ? 'Download frames (ZIP)' : 'Download video';
}

function url(blob) {
  const u = URL.createObjectURL(blob);
  kept.urls.push(u);
  return u;
}

/** The canvas as a PNG Blob (the last preview), or null when it shows nothing. */
export function canvasPng() {
  const canvas = $('canvas');
  if (!canvas.width) return Promise.resolve(null);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
}
