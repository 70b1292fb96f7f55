// The page's server against hostile requests: every one gets an answer, and the page is still
// served afterwards. Raw sockets, since fetch() would clean up the paths first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../www/serve.mjs';

let server;
let port;

before(async () => {
  server = await serve(0);
  port = server.address().port;
});

after(() => server?.close());

// Sends `raw` as is and resolves with the status code of the answer (0 if the server closed
// the connection without one). The requests ask the server to close the connection after it.
function send(raw) {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let reply = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { reply += chunk; });
    socket.on('error', fail);
    socket.on('close', () => done(Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0)));
    socket.setTimeout(10_000, () => fail(new Error(`no answer to ${JSON.stringify(raw.slice(0, 80))}`)));
  });
}

const get = (path, method = 'GET') => `${method} ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;

const PATHS = [
  '/%', '/%zz', '/%E0%A4%A', '/www/%', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/www/../Cargo.toml',
  '/www/%00', '/%00', '/index.html%00.png', '/weights/../../shared/weights/SOURCE.md', '//etc/passwd',
  '/www/pkg/../../src/lib.rs', '/' + 'a'.repeat(8000), '/www/' + '%41'.repeat(2000), '/\\..\\Cargo.toml',
  '*', '/www/app.js/%', '/www/%2e%2e/Cargo.toml',
];
const METHODS = ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'CONNECT', 'PROPFIND'];

test('200 malformed and hostile requests each get an answer, and the page is still served', async () => {
  const requests = [];
  for (let i = 0; requests.length < 200; i++) {
    requests.push(get(PATHS[i % PATHS.length]));
    requests.push(get(i % 2 ? '/' : '/index.html', METHODS[i % METHODS.length]));
    if (i % 10 === 0) requests.push(get('/', 'GET').replace('connection: close', 'upgrade: websocket\r\nconnection: upgrade'), `GARBAGE\r\n\r\n`, `GET /${'x'.repeat(20_000)} HTTP/1.1\r\n\r\n`);
  }
  for (const raw of requests) {
    const status = await send(raw);
    assert.ok(status >= 400 && status < 500, `${JSON.stringify(raw.slice(0, 60))} got ${status}`);
  }
  assert.equal(await send(get('/%')), 400);
  assert.equal(await send(get('/www/../Cargo.toml')), 404);
  assert.equal(await send(get('/_headers/../.nojekyll')), 404);
  assert.equal(await send(get('/', 'POST')), 405);

  const base = `http://127.0.0.1:${port}`;
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>DeepDream/);
  // The worker's script carries the policy itself: a worker does not inherit the page's <meta>.
  const html = await (await fetch(`${base}/index.html`)).text();
  const app = /src="(assets\/app\.[0-9a-f]+\.js)"/.exec(html)[1];
  const appText = await (await fetch(`${base}/${app}`)).text();
  // The page's engine client starts the worker.
  const engineName = /'\.\/(engine\.[0-9a-f]+\.js)'/.exec(appText)[1];
  const engineText = await (await fetch(`${base}/assets/${engineName}`)).text();
  const workerName = /'(worker\.[0-9a-f]+\.js)'/.exec(engineText)[1];
  // Every kind of file the site has goes out with its own type (nosniff forbids guessing).
  const sample = /'(samples\/cat\.[0-9a-f]+\.jpg)'/.exec(appText)[1];
  assert.equal((await fetch(`${base}/assets/${sample}`)).headers.get('content-type'), 'image/jpeg');
  assert.equal((await fetch(`${base}/manifest.webmanifest`)).headers.get('content-type'), 'application/manifest+json');
  const worker = await fetch(`${base}/assets/${workerName}`);
  assert.equal(worker.status, 200);
  assert.equal(worker.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.match(worker.headers.get('content-security-policy'), /default-src 'self'.*frame-ancestors 'none'/);
  assert.equal(worker.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(worker.headers.get('referrer-policy'), 'no-referrer');
});

test('a symlink serves only what lies in the root', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepdream-serve-'));
  const root = join(dir, 'root');
  const page = `<!doctype html><title>inside</title>${'<p>dream</p>'.repeat(200)}`;
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(root, 'index.html'), page);
  writeFileSync(join(root, 'sub', 'page.html'), page);
  writeFileSync(join(root, '.secret'), 'secret');
  writeFileSync(join(dir, 'outside', 'index.html'), 'secret');
  symlinkSync('index.html', join(root, 'same.html'));
  symlinkSync('sub', join(root, 'alias'));
  symlinkSync('.secret', join(root, 'secret.html'));
  symlinkSync(join(dir, 'outside', 'index.html'), join(root, 'out.html'));
  symlinkSync('../outside', join(root, 'out'));
  symlinkSync('/etc/passwd', join(root, 'passwd.html'));
  // The root itself may be a symlink (tmpdir is, on some systems): its real path is what counts.
  symlinkSync('root', join(dir, 'site'));
  const local = await serve(0, '127.0.0.1', join(dir, 'site'));
  const base = `http://127.0.0.1:${local.address().port}`;
  try {
    for (const path of ['/', '/index.html', '/same.html', '/sub/page.html', '/alias/page.html']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), page, path);
    }
    for (const path of ['/out.html', '/out/', '/out/index.html', '/passwd.html', '/secret.html']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(await res.text(), /secret|root:/, path);
    }
  } finally {
    local.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an answer whose encoding was negotiated says it varies with Accept-Encoding', async () => {
  // A cache must not hand the gzip body to a client that did not ask for it, nor the other way round.
  for (const [encoding, method] of [['gzip', 'GET'], ['identity', 'GET'], ['gzip', 'HEAD']]) {
    const res = await fetch(`http://127.0.0.1:${port}/index.html`, { method, headers: { 'accept-encoding': encoding } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), encoding === 'gzip' ? 'gzip' : null);
    assert.equal(res.headers.get('vary'), 'Accept-Encoding', `${method} ${encoding}`);
  }
});
