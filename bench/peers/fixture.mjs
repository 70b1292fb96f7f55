// The reference gradient's fixture, for the peers' gradient checks (web.mjs, ../gpu/dawn.mjs).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readPng } from '../../www/png.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** The crop of a test photo the reference gradient was computed on, RGB bytes, and that gradient. */
export function fixture() {
  const golden = join(ROOT, 'tests/reference/golden');
  const { photo, top, left, height, width } = JSON.parse(readFileSync(join(golden, 'reference.json'))).fixtures.square;
  const png = readPng(readFileSync(join(ROOT, 'tests/images', photo)));
  const pixels = [];
  for (let y = top; y < top + height; y++) {
    for (let x = left; x < left + width; x++) {
      for (let c = 0; c < 3; c++) pixels.push(png.pixels[(y * png.width + x) * png.channels + c]);
    }
  }
  const raw = readFileSync(join(golden, 'grad-square.f32'));
  const expected = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4); // [3, H, W], RGB
  return { pixels, height, width, expected };
}

/** The relative L2 error of `got` against `expected`. */
export function relL2(got, expected) {
  let diff = 0, norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (got[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}
