// A static server for the page on 127.0.0.1, with gzip and the right MIME types. It serves only
// the page's own files: index.html, www/ (with the built wasm in www/pkg/) and weights/.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.safetensors': 'application/octet-stream', '.sha256': 'text/plain; charset=utf-8',
  '.png': 'image/png',
};
const ALLOWED = [/^index\.html$/, /^www\/[\w./-]+$/, /^weights\/googlenet\.safetensors(\.sha256)?$/];
const cache = new Map(); // path -> { mtime, raw, gz }

async function load(path) {
  const { mtimeMs } = await stat(path);
  const hit = cache.get(path);
  if (hit && hit.mtime === mtimeMs) return hit;
  const raw = await readFile(path);
  const entry = { mtime: mtimeMs, raw, gz: gzipSync(raw, { level: 6 }) };
  cache.set(path, entry);
  return entry;
}

export function serve(port = 8080, host = '127.0.0.1') {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    rel = normalize(rel);
    if (!ALLOWED.some((re) => re.test(rel)) || rel.includes('..')) {
      res.writeHead(404).end('not found');
      return;
    }
    try {
      const file = await load(join(ROOT, rel));
      const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] || '') && file.gz.length < file.raw.length;
      const body = gzip ? file.gz : file.raw;
      res.writeHead(200, {
        'content-type': TYPES[extname(rel)] || 'application/octet-stream',
        'content-length': body.length,
        'x-content-length': file.raw.length,
        'cache-control': 'no-cache',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((done) => server.listen(port, host, () => done(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT || 8080);
  const server = await serve(port);
  console.log(`DeepDream is at http://127.0.0.1:${server.address().port}/`);
}
