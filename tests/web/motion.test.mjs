// Dreams that move, in the page: a link with frames=N animates a dropped photo, the frames
// become a video the browser encodes (WebCodecs, muxed by the vendored mediabunny) that ffprobe
// reads back; without WebCodecs the frames come as a ZIP of PNGs; memory stays flat over many
// frames. Tiny frames and one step each: SwiftShader takes seconds per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LONG, PHOTO, state, withSite } from './browser.mjs';

const ANIMATION = 'layer=inception_3a/output&octaves=1&steps=1&jitter=0&frames=8&zoom=1.1&rotate=2&steps-per-frame=1&fps=12';

const env = withSite();
const { open } = env;

/** The file behind a download link, saved under a temporary folder: `{ name, path }`. */
async function save(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const path = join(mkdtempSync(join(tmpdir(), 'deepdream-motion-')), file.suggestedFilename());
  await file.saveAs(path);
  return { name: file.suggestedFilename(), path };
}

test('a link with frames opens Animate; a dropped photo becomes a video that ffprobe reads', { timeout: LONG }, async () => {
  const { page, context } = await open(ANIMATION);
  assert.equal(await page.evaluate(() => document.getElementById('animate').open), true, 'Animate is open');
  assert.equal(await page.inputValue('#motion [name="frames"]'), '8');
  const started = Date.now();
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'dreaming');
  await state(page, 'done');
  const seconds = (Date.now() - started) / 1000;
  console.log(`8 frames of 96x72 in ${seconds.toFixed(1)} s (${(seconds / 8).toFixed(2)} s a frame, SwiftShader)`);
  const video = await save(page, '#download-video');
  assert.match(video.name, /^cat-96x72-zoom\.(mp4|webm)$/);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,nb_read_frames:format_tags', '-of', 'json', video.path],
  { encoding: 'utf8' }));
  const [stream] = probe.streams;
  console.log(`video: ${video.name}, ${JSON.stringify(stream)}, tags ${JSON.stringify(probe.format.tags)}`);
  assert.ok(['h264', 'vp9', 'av1'].includes(stream.codec_name), stream.codec_name);
  assert.deepEqual([stream.width, stream.height, Number(stream.nb_read_frames)], [96, 72, 8]);
  // The recipe rides in the container's metadata, where the format keeps a comment.
  const tags = Object.fromEntries(Object.entries(probe.format.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  assert.match(tags.comment ?? '', /^deepdream .*frames=8&zoom=1\.1&rotate=2&steps-per-frame=1&fps=12/);
  // The last frame is also a picture, with the animation's recipe.
  assert.equal(await page.isVisible('#download'), true);
  await context.close();
});

test('Stop during an animation keeps the frames done as a video', { timeout: LONG }, async () => {
  const { page, context } = await open(ANIMATION.replace('frames=8', 'frames=200'));
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => /Frame [3-9]\d* of 200/.test(document.getElementById('progress-text').textContent),
    null, { timeout: LONG, polling: 100 });
  await page.click('#stop');
  await state(page, 'done');
  const video = await save(page, '#download-video');
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=nb_read_frames', '-of', 'json', video.path], { encoding: 'utf8' }));
  const kept = Number(probe.streams[0].nb_read_frames);
  console.log(`stopped after ${kept} frames`);
  assert.ok(kept >= 2 && kept < 200, `${kept} frames kept`);
  await context.close();
});

test('without WebCodecs the frames come as a ZIP of PNGs, and the page says why', { timeout: LONG }, async () => {
  const context = await env.browser.newContext({ acceptDownloads: true });
  await context.addInitScript(() => {
    delete window.VideoEncoder;
  });
  const page = await context.newPage();
  await page.goto(`${env.site.base}?${ANIMATION.replace('frames=8', 'frames=3')}`);
  await state(page, 'ready');
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const zip = await save(page, '#download-video');
  assert.equal(zip.name, 'cat-96x72-zoom.zip');
  assert.match(await page.textContent('#note'), /cannot encode video.*ZIP of PNGs/);
  const listing = execFileSync('python3', ['-c', `
import sys, zipfile, struct
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
for n in z.namelist():
    d = z.read(n)
    w, h = struct.unpack('>II', d[16:24])
    print(n, w, h, b'deepdream' in d)
`, zip.path], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listing, [1, 2, 3].map((k) => `frame-000${k}.png 96 72 True`));
  await context.close();
});

test('memory stays flat over a long animation', { timeout: LONG }, async () => {
  const frames = 40;
  const { page, context } = await open(
    // On WebGPU (SwiftShader here), so that the GPU allocator is there to watch.
    `layer=inception_3a/output&octaves=1&steps=1&jitter=0&frames=${frames}&steps-per-frame=1&zoom=1.05&engine=webgpu`);
  const stats = [];
  page.on('console', (message) => {
    const match = /^deepdream frame (\d+) (.*)$/.exec(message.text());
    if (match) stats[Number(match[1])] = JSON.parse(match[2]);
  });
  const small = join(mkdtempSync(join(tmpdir(), 'deepdream-motion-')), 'small.png');
  writeFileSync(small, execFileSync('python3', ['-c', `
import sys, zlib, struct
w, h = 64, 48
rows = b''.join(b'\\0' + bytes((x * 4 + y) % 256 for x in range(w) for _ in range(3)) for y in range(h))
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
sys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
    + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
`]));
  await page.setInputFiles('#file', small);
  await state(page, 'done');
  const [early, late] = [stats[10], stats[frames]];
  console.log(`after frame 10: wasm heap ${early.wasmMemory / 1e6} MB, GPU ${early.deviceMemory / 1e6} MB; ` +
    `after frame ${frames}: wasm heap ${late.wasmMemory / 1e6} MB, GPU ${late.deviceMemory / 1e6} MB`);
  assert.ok(late.wasmMemory <= early.wasmMemory, 'the wasm heap grew');
  assert.ok(late.deviceMemory <= early.deviceMemory, 'the GPU allocator grew');
  await context.close();
});
