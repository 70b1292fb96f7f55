// `make dist`: the static site in dist/ (or the folder given), for any static host.
//
// Everything that changes between versions gets a name with a hash of its content, so a host
// may cache it forever; only index.html, sw.js, manifest.webmanifest and _headers keep their
// names (and are served no-cache). References are rewritten bottom-up: the wasm, then the
// wasm-bindgen glue that loads it, the worker that imports the glue and fetches the weights,
// the page script that starts the worker, and index.html. The service worker precaches the
// lot under one version, so an update swaps every file at once.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CSP, IMMUTABLE, headersFile } from './headers.mjs';
import { icon } from './icon.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const OUT = resolve(args.find((a) => !a.startsWith('--')) ?? join(ROOT, 'dist'));
// What the footer says this version is: `--version=TEXT`, else the git commit.
const VERSION = args.find((a) => a.startsWith('--version='))?.slice(10) ?? gitVersion();

function gitVersion() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const read = (path) => readFileSync(join(ROOT, path));
const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
const written = []; // paths under OUT, for the service worker

function write(path, bytes) {
  mkdirSync(dirname(join(OUT, path)), { recursive: true });
  writeFileSync(join(OUT, path), bytes);
  written.push(path);
  return path;
}

/** Writes `bytes` as `dir/stem.HASH.ext` and returns that path. */
function emit(path, bytes, digest = hash(bytes)) {
  return write(path.replace(/(\.[^./]+)$/, `.${digest}$1`), bytes);
}

/** `text` with every `from` replaced by `to`; a missing `from` is a build error, not a broken site. */
function swap(text, from, to, file) {
  if (!text.includes(from)) throw new Error(`${file}: expected to find ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

for (const needed of ['www/pkg/deepdream_bg.wasm', 'weights/googlenet.safetensors']) {
  try {
    read(needed);
  } catch {
    throw new Error(`${needed} is missing: run \`make dist\` (it builds the wasm and converts the weights first)`);
  }
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const wasm = emit('assets/deepdream_bg.wasm', read('www/pkg/deepdream_bg.wasm'));
const glue = emit('assets/deepdream.js', Buffer.from(
  swap(read('www/pkg/deepdream.js').toString(), "'deepdream_bg.wasm'", `'${basename(wasm)}'`, 'deepdream.js')));

// The weights keep the name of their own sha256, which the worker checks them against.
const sha = read('weights/googlenet.safetensors.sha256').toString().trim();
const weights = emit('weights/googlenet.safetensors', read('weights/googlenet.safetensors'), sha.slice(0, 12));
const weightsSha = write(`${weights}.sha256`, Buffer.from(`${sha}\n`));

let worker = read('www/worker.js').toString();
worker = swap(worker, "'./pkg/deepdream.js'", `'./${basename(glue)}'`, 'worker.js');
worker = swap(worker, "'../weights/googlenet.safetensors'", `'../${weights}'`, 'worker.js');
const workerPath = emit('assets/worker.js', Buffer.from(worker));

// Sample photos and look previews, named in looks.mjs and app.js relative to those files.
const images = {};
for (const dir of ['samples', 'looks']) {
  for (const file of readdirSync(join(ROOT, 'www', dir)).filter((f) => f.endsWith('.jpg')).sort()) {
    images[`'${dir}/${file}'`] = `'${emit(`assets/${dir}/${file}`, read(`www/${dir}/${file}`)).slice('assets/'.length)}'`;
  }
}
const withImages = (text) => Object.entries(images).reduce(
  (t, [from, to]) => (t.includes(from) ? t.split(from).join(to) : t), text);
const looks = withImages(read('www/looks.mjs').toString());
// .js, not .mjs: hosts serve .js as JavaScript, which a module script must be.
const looksPath = emit('assets/looks.js', Buffer.from(looks));

// mediabunny (npm), copied into the site: the page never loads code from another origin.
const mediabunny = emit('assets/mediabunny.js', read('node_modules/mediabunny/dist/bundles/mediabunny.min.mjs'));
const video = swap(read('www/video.mjs').toString(), "'../node_modules/mediabunny/dist/bundles/mediabunny.min.mjs'",
  `'./${basename(mediabunny)}'`, 'video.mjs');
const videoPath = emit('assets/video.js', Buffer.from(video));

// The page's modules, each after those it imports: every import names the hashed file.
const modules = { './video.mjs': basename(videoPath), './looks.mjs': basename(looksPath) };
const pageModule = (file, extra = []) => {
  let text = withImages(read(`www/${file}`).toString());
  for (const [from, to] of Object.entries(modules)) {
    if (text.includes(`'${from}'`)) text = swap(text, `'${from}'`, `'./${to}'`, file);
  }
  for (const [from, to] of extra) text = swap(text, from, to, file);
  const path = emit(`assets/${file.replace(/\.mjs$/, '.js')}`, Buffer.from(text));
  modules[`./${file}`] = basename(path);
  return path;
};
pageModule('zip.mjs');
pageModule('movie.mjs');
pageModule('engine.mjs', [["'worker.js'", `'${basename(workerPath)}'`]]);
for (const file of ['form.mjs', 'gallery.mjs', 'stage.mjs']) pageModule(file);
const appPath = pageModule('app.js', [["const VERSION = 'dev';", `const VERSION = ${JSON.stringify(VERSION)};`]]);
const style = emit('assets/style.css', read('www/style.css'));
const icons = [192, 512].map((size) => emit(`assets/icon-${size}.png`, icon(size)));

write('manifest.webmanifest', Buffer.from(JSON.stringify({
  name: 'DeepDream',
  short_name: 'DeepDream',
  description: 'DeepDream on your own GPU: drop a photo and watch it dream. Nothing is uploaded.',
  start_url: './',
  scope: './',
  display: 'standalone',
  background_color: '#111111',
  theme_color: '#111111',
  icons: icons.map((src, i) => ({ src, sizes: `${[192, 512][i]}x${[192, 512][i]}`, type: 'image/png', purpose: 'any maskable' })),
}, null, 2)));

let html = read('index.html').toString();
html = swap(html, 'href="www/style.css"', `href="${style}"`, 'index.html');
html = swap(html, 'src="www/app.js"', `src="${appPath}"`, 'index.html');
html = swap(html, '<link rel="icon" href="data:,">',
  `<link rel="icon" href="${icons[0]}">\n  <link rel="manifest" href="manifest.webmanifest">`, 'index.html');
// The <meta> policy is the header's, less frame-ancestors (browsers ignore it in a <meta>).
html = html.replace(/(<meta http-equiv="Content-Security-Policy" content=")[^"]*"/,
  `$1${CSP.replace(/; frame-ancestors [^;]*/, '')}"`);
write('index.html', Buffer.from(html));

// The service worker: its version is a hash of every file it precaches (all but the weights,
// which the engine's worker keeps in its own cache under their sha256).
const shell = ['./', ...written.filter((p) => p !== weights && p !== 'index.html')];
const version = hash(Buffer.from(shell.map((p) => (p === './' ? html : readFileSync(join(OUT, p)))).join('\0')));
let sw = read('www/sw.js').toString();
sw = swap(sw, "const VERSION = 'dev';", `const VERSION = '${version}';`, 'sw.js');
sw = swap(sw, 'const FILES = [];', `const FILES = ${JSON.stringify(shell)};`, 'sw.js');
sw = swap(sw, 'const HASHED = /^$/;', `const HASHED = ${IMMUTABLE};`, 'sw.js');
write('sw.js', Buffer.from(sw));

write('_headers', Buffer.from(headersFile()));
write('.nojekyll', Buffer.alloc(0)); // GitHub Pages: serve the files as they are
console.log(`dist: ${OUT} (version ${VERSION}, service worker ${version}, weights ${basename(weights)}, ${basename(weightsSha)})`);
