// The page's engine on Dawn (Chrome's WebGPU) in Node, as `make bench-gpu` runs it
// (bench/gpu/dawn.mjs), on Chromium's SwiftShader. Dawn compiles shaders with Tint, Chrome's
// compiler, which rejects a workgroup barrier outside uniform control flow; wgpu's native
// compiler does not check that, so only here does the workgroup-tiled kernel (the one real GPUs
// take) meet Chrome's rules without a GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LONG, ROOT } from './browser.mjs';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function pageEngine(conv) {
  const env = { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER, DEEPDREAM_CONV: conv };
  const { stdout } = await promisify(execFile)('node', ['bench/gpu/dawn.mjs', 'page', '--quick', '--runs', '1'],
    { cwd: ROOT, env, timeout: LONG });
  const lines = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split('\t')).map(([k, ...v]) => [k, v]));
  return lines;
}

test('on Dawn the page engine runs the workgroup kernel, which Tint accepts', { timeout: LONG }, async () => {
  // Forced: SwiftShader is a fallback adapter, on which the engine would keep the register
  // kernel (the Chromium page test checks that choice).
  const lines = await pageEngine('workgroup');
  assert.deepEqual(lines['fallback adapter'], ['yes'], 'SwiftShader is a fallback adapter');
  assert.deepEqual(lines.convolutions, ['Workgroup']);
  const [size, ms] = lines['gradient step (inception_4c/output)'] ?? [];
  assert.equal(size, '224x224', 'a 224² step was timed');
  assert.ok(Number(ms) > 0, `${ms} ms`);
  console.log(`page engine on Dawn (SwiftShader), workgroup kernel: a 224² step in ${ms} ms`);
});
