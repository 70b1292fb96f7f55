// The page's engine on Dawn (Chrome's WebGPU) in Node, as `make bench-gpu` runs it
// (bench/gpu/dawn.mjs), on Chromium's SwiftShader. Dawn compiles shaders with Tint, Chrome's
// compiler, which rejects a workgroup barrier outside uniform control flow; wgpu's native
// compiler does not check that, so only here does the workgroup-tiled kernel (the one real GPUs
// take) meet Chrome's rules without a GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readPng, rgb } from '../../www/png.mjs';
import { LONG, ROOT } from './browser.mjs';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** bench/gpu/dawn.mjs's page part on `conv`: its lines by first field, and its 224² result. */
async function pageEngine(conv) {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-dawn-'));
  const env = { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER, DEEPDREAM_CONV: conv, DEEPDREAM_PREVIEW_DIR: dir };
  const { stdout } = await promisify(execFile)('node', ['bench/gpu/dawn.mjs', 'page', '--quick', '--runs', '1'],
    { cwd: ROOT, env, timeout: LONG });
  const lines = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split('\t')).map(([k, ...v]) => [k, v]));
  return { ...lines, result: rgb(readPng(readFileSync(join(dir, '224.png')))) };
}

test('on Dawn the page engine runs the workgroup kernel, which Tint accepts, to the register kernel’s result', { timeout: LONG }, async () => {
  // Forced both ways: SwiftShader is a fallback adapter, on which the engine keeps the register
  // kernel by itself (the Chromium page test checks that choice).
  const tiled = await pageEngine('workgroup');
  assert.deepEqual(tiled['fallback adapter'], ['yes'], 'SwiftShader is a fallback adapter');
  assert.deepEqual(tiled.convolutions, ['Workgroup']);
  const register = await pageEngine('mirrored');
  assert.deepEqual(register.convolutions, ['Mirrored']);
  const step = 'gradient step (inception_4c/output)';
  const [size, ms] = tiled[step] ?? [];
  assert.equal(size, '224x224', 'a 224² step was timed');
  assert.ok(Number(ms) > 0, `${ms} ms`);
  // Two steps of seed 0 from the same photo: both kernels sum each output in the same order.
  let worst = 0;
  for (let i = 0; i < tiled.result.length; i++) worst = Math.max(worst, Math.abs(tiled.result[i] - register.result[i]));
  assert.ok(worst <= 1, `the kernels' dreams differ by ${worst} grey levels`);
  console.log(`page engine on Dawn (SwiftShader): a 224² step in ${ms} ms (workgroup), ${register[step][1]} ms (register); ` +
    `${worst} grey levels apart`);
});
