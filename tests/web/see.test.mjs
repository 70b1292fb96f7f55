// Seeing what the network sees, in the page: the form made from the engine's recipe table, a
// dream from noise, kept colours, a guide image, and the channel gallery (rendered in the
// background, kept in the browser, a click dreams a channel). Tiny sizes and few steps:
// SwiftShader takes seconds per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readPng, rgb } from '../../www/png.mjs';
import { LONG, PHOTO, download, state, withSite } from './browser.mjs';

const QUICK = 'octaves=1&steps=2&jitter=0';

const env = withSite();
const { open } = env;
const search = async (page) => new URLSearchParams(await page.evaluate(() => location.search));

test('the Advanced form has a control for each option of the engine’s table, with its range', { timeout: LONG }, async () => {
  const { page, context } = await open(QUICK);
  const controls = await page.$$eval('#recipe [name]', (inputs) => inputs.map((i) => [i.name, i.type, i.closest('label').title]));
  const names = controls.map(([name]) => name);
  for (const key of ['layer', 'channel', 'octaves', 'steps', 'lapnorm', 'keep-colors', 'max-size', 'size']) {
    assert.ok(names.includes(key), `no control for ${key}: ${names}`);
  }
  const [, type, title] = controls.find(([name]) => name === 'lapnorm');
  assert.equal(type, 'number');
  assert.match(title, /from 0 to 8/);
  assert.equal(controls.find(([name]) => name === 'keep-colors')[1], 'checkbox');
  // A photo's options show, a dream from noise's are hidden.
  assert.equal(await page.isVisible('#recipe [name="size"]'), false);
  await page.click('#advanced summary');
  assert.equal(await page.isVisible('#recipe [name="max-size"]'), true);
  // A value typed in goes to the URL through the engine; one out of range is refused by name.
  await page.fill('#recipe [name="lapnorm"]', '9');
  await page.dispatchEvent('#recipe', 'change');
  await page.waitForSelector('#alert:not([hidden])');
  assert.match(await page.textContent('#alert'), /lapnorm = 9 is out of range: a whole number from 0 to 8/);
  await page.fill('#recipe [name="lapnorm"]', '2');
  await page.dispatchEvent('#recipe', 'change');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('lapnorm') === '2');
  await context.close();
});

test('a dream from noise shows what a channel wants to see, with its recipe in the PNG', { timeout: LONG }, async () => {
  const { page, context } = await open(`layer=inception_3a/output&channel=5&size=48&${QUICK}`);
  await page.click('#noise');
  await state(page, 'done');
  assert.equal((await search(page)).get('start'), 'noise');
  assert.equal(await page.isVisible('#compare-label'), false, 'there is no original to show');
  const png = await download(page, '#download');
  const image = readPng(png.bytes);
  assert.deepEqual([image.width, image.height], [48, 48]);
  assert.match(image.text.deepdream, /^start=noise&layer=inception_3a\/output&channel=5&.*size=48&lapnorm=4/);
  const values = rgb(image);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const spread = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  assert.ok(spread > 8, `the noise became a picture (spread ${spread.toFixed(1)})`);
  // A photo chosen afterwards dreams as a photo again.
  await page.setInputFiles('#file', PHOTO);
  await page.waitForFunction(() => !new URLSearchParams(location.search).has('start'));
  await state(page, 'done');
  await context.close();
});

test('a link to a dream from noise dreams it on opening, with no photo', { timeout: LONG }, async () => {
  // Not `open`: the page is ready only for an instant before it starts dreaming.
  const context = await env.browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${env.site.base}?start=noise&layer=inception_3a/output&channel=9&size=48&${QUICK}`);
  await state(page, 'done');
  const image = readPng((await download(page, '#download')).bytes);
  assert.deepEqual([image.width, image.height], [48, 48]);
  assert.match(image.text.deepdream, /^start=noise&layer=inception_3a\/output&channel=9&/);
  await context.close();
});

test('kept colours: the dream changes the brightness and keeps the photo’s chroma', { timeout: LONG }, async () => {
  const { page, context } = await open(`layer=inception_3b/output&keep-colors=1&${QUICK}`);
  assert.equal(await page.isChecked('#recipe [name="keep-colors"]'), true);
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const result = readPng((await download(page, '#download')).bytes);
  assert.match(result.text.deepdream, /keep-colors=1/);
  const [a, b] = [rgb(result), rgb(readPng(readFileSync(PHOTO)))];
  let worst = 0;
  let luma = 0;
  for (let i = 0; i < a.length; i += 3) {
    const chroma = (p, k) => [-0.168736 * p[k] - 0.331264 * p[k + 1] + 0.5 * p[k + 2],
      0.5 * p[k] - 0.418688 * p[k + 1] - 0.081312 * p[k + 2]];
    const [ca, cb] = [chroma(a, i), chroma(b, i)];
    worst = Math.max(worst, Math.abs(ca[0] - cb[0]), Math.abs(ca[1] - cb[1]));
    luma += Math.abs(0.299 * (a[i] - b[i]) + 0.587 * (a[i + 1] - b[i + 1]) + 0.114 * (a[i + 2] - b[i + 2]));
  }
  luma /= a.length / 3;
  console.log(`kept colours: chroma off by at most ${worst.toFixed(2)}, brightness moved ${luma.toFixed(2)} on average`);
  assert.ok(worst <= 2, `chroma off by ${worst}`);
  assert.ok(luma > 1, `brightness moved ${luma}`);
  await context.close();
});

test('a guide image steers the dream and its recipe says so', { timeout: LONG }, async () => {
  const { page, context } = await open(`layer=inception_3b/output&${QUICK}`);
  await page.click('#advanced summary');
  await page.setInputFiles('#guide-file', PHOTO);
  await page.waitForFunction(() => new URLSearchParams(location.search).get('guide') === '1');
  assert.equal(await page.isVisible('#guide-thumb'), true);
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const result = readPng((await download(page, '#download')).bytes);
  assert.match(result.text.deepdream, /guide=1/);
  // The page's own address now says guide=1: reloaded (or shared), it cannot carry the image, so
  // it opens asking for one and dreams without it meanwhile, instead of refusing every dream.
  const address = await page.evaluate(() => location.search.slice(1));
  await context.close();
  const linked = await open(address);
  assert.equal(await linked.page.isVisible('#guide-wanted'), true);
  assert.equal(await linked.page.isVisible('#guide-clear'), true, '"No guide" is there to answer it');
  await linked.page.setInputFiles('#file', PHOTO);
  await state(linked.page, 'done');
  assert.equal(await linked.page.isVisible('[role="alert"]'), false);
  assert.doesNotMatch(readPng((await download(linked.page, '#download')).bytes).text.deepdream, /guide=1/);
  // Picking the guide then dreams as the link was made.
  await linked.page.setInputFiles('#guide-file', PHOTO);
  await linked.page.waitForFunction(() => new URLSearchParams(location.search).get('guide') === '1');
  await state(linked.page, 'done');
  assert.equal(await linked.page.isVisible('#guide-wanted'), false);
  assert.match(readPng((await download(linked.page, '#download')).bytes).text.deepdream, /guide=1/);
  // A gallery click after a guided dream chooses a channel, which takes the place of the guide.
  await linked.page.click('#gallery summary');
  await linked.page.waitForSelector('#gallery-grid button[data-channel="7"]');
  await linked.page.click('#gallery-grid button[data-channel="7"]');
  await linked.page.waitForFunction(() => new URLSearchParams(location.search).get('channel') === '7');
  await state(linked.page, 'done');
  assert.equal(await linked.page.isVisible('[role="alert"]'), false);
  assert.equal(await linked.page.isVisible('#guide-thumb'), false);
  // A guide picked for a recipe that cannot have one is refused, and not kept for the next look.
  await linked.page.click('#presets button[data-layer="inception_4a/output"]');
  await linked.page.waitForFunction(() => location.search.startsWith('?layer=inception_4a/output&'));
  await state(linked.page, 'done');
  await linked.page.evaluate(() => {
    const layer = document.querySelector('#recipe select[name="layer"]');
    layer.add(new Option('two layers', 'inception_3b/output*2+inception_4a/output'));
    layer.value = 'inception_3b/output*2+inception_4a/output';
    layer.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await linked.page.waitForFunction(() => location.search.includes('inception_3b/output*2'));
  await state(linked.page, 'done');
  await linked.page.setInputFiles('#guide-file', PHOTO);
  await linked.page.waitForFunction(() => !document.getElementById('alert').hidden);
  assert.match(await linked.page.textContent('#alert'), /guide/);
  assert.equal(await linked.page.isVisible('#guide-thumb'), false);
  await linked.page.click('#presets button[data-layer="inception_3b/output"]');
  await linked.page.waitForFunction(() => location.search.startsWith('?layer=inception_3b/output&'));
  await state(linked.page, 'done');
  assert.doesNotMatch(await linked.page.evaluate(() => location.search), /guide=1/);
  await linked.context.close();
});

test('the channel gallery renders in the background, is kept in the browser, and a click dreams a channel', { timeout: LONG }, async () => {
  const { page, context } = await open(QUICK);
  await page.click('#gallery summary');
  await page.selectOption('#gallery-size', '64');
  await page.selectOption('#gallery-layer', 'inception_3a/5x5_reduce');
  await page.waitForFunction(() => document.querySelectorAll('#gallery-grid button').length === 16);
  const started = Date.now();
  // A dream started while thumbnails render runs first: the gallery waits for it.
  await page.setInputFiles('#file', PHOTO);
  await state(page, 'done');
  const readyAtDream = await page.$$eval('#gallery-grid [data-ready]', (b) => b.length);
  console.log(`a dream started with the gallery: done after ${(Date.now() - started) / 1000} s, ${readyAtDream} of 16 thumbnails ready then`);
  assert.ok(readyAtDream < 16, 'the dream did not wait for the whole gallery');
  await page.waitForFunction(() => document.querySelectorAll('#gallery-grid [data-ready]').length === 16,
    null, { timeout: LONG, polling: 500 });
  const seconds = (Date.now() - started) / 1000;
  console.log(`gallery: 16 thumbnails of 64 px in ${seconds.toFixed(1)} s (${(16 / seconds).toFixed(2)} per second, SwiftShader)`);
  assert.match(await page.textContent('#gallery-text'), /all 16 channels/);
  // Each thumbnail is a picture of its own.
  const sizes = await page.$$eval('#gallery-grid img', (imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  assert.deepEqual(new Set(sizes.map(String)), new Set(['64,64']));
  const digests = await page.$$eval('#gallery-grid img', (imgs) => imgs.map((img) => {
    const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let hash = 0;
    for (let i = 0; i < data.length; i++) hash = (hash * 31 + data[i]) >>> 0;
    return hash;
  }));
  assert.equal(new Set(digests).size, 16, 'sixteen different thumbnails');

  // Clicking one dreams that channel into the photo.
  await page.click('#gallery-grid button[data-channel="7"]');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('channel') === '7');
  const params = await search(page);
  assert.equal(params.get('layer'), 'inception_3a/5x5_reduce');
  await state(page, 'done');
  const result = readPng((await download(page, '#download')).bytes);
  assert.match(result.text.deepdream, /layer=inception_3a\/5x5_reduce&channel=7&/);
  await page.close();

  // A second visit in the same browser takes them from its cache: all at once, no rendering.
  const again = await context.newPage();
  await again.goto(`${env.site.base}?${QUICK}`);
  await state(again, 'ready');
  await again.click('#gallery summary');
  await again.selectOption('#gallery-size', '64');
  const cachedStart = Date.now();
  await again.selectOption('#gallery-layer', 'inception_3a/5x5_reduce');
  await again.waitForFunction(() => document.querySelectorAll('#gallery-grid [data-ready]').length === 16,
    null, { timeout: 30_000, polling: 100 });
  const cached = (Date.now() - cachedStart) / 1000;
  console.log(`gallery from this browser's cache: ${cached.toFixed(2)} s`);
  assert.ok(cached < seconds / 3, `cached ${cached} s vs rendered ${seconds} s`);
  await context.close();
});
