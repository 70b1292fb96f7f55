// Debian's Chromium as every browser check here launches it (the tests, `make bench-web`, the
// peers' benchmark), and the built site behind a plain static server: one place for both.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const DIST = join(ROOT, 'dist');

/** Playwright's options for Debian's Chromium with WebGPU (SwiftShader where there is no GPU). */
export const CHROMIUM = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/** A Chromium browser; `profile` gives a persistent context in that folder instead. */
export function launchChromium(profile) {
  return profile ? chromium.launchPersistentContext(profile, CHROMIUM) : chromium.launch(CHROMIUM);
}

/**
 * `dir` served by `python3 -m http.server` on a free port, `{ base, close }`: a host that sets no
 * headers, so the page is known to work on any static host.
 */
export async function staticSite(dir = DIST) {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise((done, fail) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = / port (\d+)/.exec(out);
      if (match) done(Number(match[1]));
    });
    child.on('exit', (code) => fail(new Error(`http.server exited (${code}): ${out}`)));
  });
  const close = () => new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.on('exit', () => done());
    child.kill();
  });
  return { base: `http://127.0.0.1:${port}/`, close };
}
