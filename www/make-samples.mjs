// `make samples`: the page's sample photos and its look previews, made once and committed.
// Samples: the two CC0 test photos (tests/images/README.md) as small JPEGs. Previews: the cat
// dreamed by this project's own CLI with each look's layer (the canonical preset otherwise),
// cropped square. Chromium encodes the JPEGs (Node has no image encoder).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { LOOKS } from './looks.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = process.env.DEEPDREAM_CLI || join(process.env.CARGO_TARGET_DIR || 'target', 'release/deepdream');
const tmp = mkdtempSync(join(tmpdir(), 'deepdream-samples-'));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true });
const page = await browser.newPage();

// `bytes` drawn into a canvas: the whole image at most `side` px on its longer side, or a square
// crop of `side` px from its centre (zoomed in `zoom` times); returned as JPEG bytes.
async function jpeg(bytes, side, square, zoom = 1) {
  const out = await page.evaluate(async ([data, s, sq, z]) => {
    const img = await createImageBitmap(new Blob([new Uint8Array(data)]));
    let [w, h] = [img.width, img.height];
    const scale = sq ? (z * s) / Math.min(w, h) : Math.min(1, s / Math.max(w, h));
    [w, h] = [Math.round(w * scale), Math.round(h * scale)];
    const canvas = new OffscreenCanvas(sq ? s : w, sq ? s : h);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(img, sq ? (s - w) / 2 : 0, sq ? (s - h) / 2 : 0, w, h);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.85 });
    return [...new Uint8Array(await blob.arrayBuffer())];
  }, [[...bytes], side, square, zoom]);
  return Buffer.from(out);
}

for (const [name, source] of [['cat', 'chelsea.png'], ['coffee', 'coffee.png']]) {
  const bytes = await jpeg(readFileSync(join(ROOT, 'tests/images', source)), 480, false);
  writeFileSync(join(ROOT, 'www/samples', `${name}.jpg`), bytes);
  console.log(`www/samples/${name}.jpg: ${bytes.length} bytes`);
}
for (const { layer, preview } of LOOKS) {
  const out = join(tmp, 'look.png');
  execFileSync(CLI, ['dream', join(ROOT, 'www/samples/cat.jpg'), out, '--layer', layer, '--steps', '20', '--cpu', '--seed', '1'],
    { stdio: 'inherit', cwd: ROOT });
  const bytes = await jpeg(readFileSync(out), 112, true, 2);
  writeFileSync(join(ROOT, 'www', preview), bytes);
  console.log(`www/${preview}: ${bytes.length} bytes`);
}
await browser.close();
