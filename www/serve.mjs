// A static server for the built site (dist/, from `make dist`) on 127.0.0.1, with gzip, the right
// MIME types and the site's headers (www/headers.mjs, the same ones dist/_headers gives static
// hosts). It answers GET and HEAD for the files in dist/ only; anything else gets a 4xx, and
// nothing stops it. The page needs no server of ours: any static file server will do.
import { createServer } from 'node:http';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, normalize, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SECURITY, cacheControl } from './headers.mjs';

const DIST = resolve(new URL('../dist', import.meta.url).pathname);
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.safetensors': 'application/octet-stream', '.sha256': 'text/plain; charset=utf-8',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.webmanifest': 'application/manifest+json',
};
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

function answer(res, status, text, headers = {}) {
  res.writeHead(status, { ...SECURITY, 'content-type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

// The file a request path names, or null: only files in the site, never a dotfile or a path out
// of it, and undefined for a path that does not decode (a bad percent-escape is the client's
// error, not the server's).
function route(url) {
  let path;
  try {
    path = decodeURIComponent(new URL(url, 'http://localhost').pathname);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  let rel = normalize(path.replace(/^\/+/, ''));
  if (rel === '.' || rel.endsWith('/')) rel = join(rel, 'index.html');
  const parts = rel.split('/');
  return parts.some((part) => part.startsWith('.')) ? null : rel;
}

// The real path of `rel` under `root`: a symlink in the site must not lead out of it (to
// /etc/passwd) nor to a dotfile in it, so the rule above holds for where links lead too.
async function locate(root, rel) {
  const [top, path] = await Promise.all([realpath(root), realpath(join(root, rel))]);
  const inside = relative(top, path).split(sep);
  if (inside.some((part) => part.startsWith('.'))) throw new Error(`${rel} leads out of the site`);
  return path;
}

export function serve(port = 8080, host = '127.0.0.1', root = DIST) {
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        answer(res, 405, 'only GET and HEAD', { allow: 'GET, HEAD' });
        return;
      }
      const rel = route(req.url);
      if (rel === undefined) {
        answer(res, 400, 'bad request path');
        return;
      }
      if (rel === null) {
        answer(res, 404, 'not found');
        return;
      }
      let file;
      try {
        file = await load(await locate(root, rel));
      } catch {
        answer(res, 404, 'not found');
        return;
      }
      // Only a file that gzip makes smaller has two bodies to choose from by Accept-Encoding.
      const negotiated = file.gz.length < file.raw.length;
      const gzip = negotiated && /\bgzip\b/.test(req.headers['accept-encoding'] || '');
      const body = gzip ? file.gz : file.raw;
      res.writeHead(200, {
        ...SECURITY,
        'content-type': TYPES[extname(rel)] || 'application/octet-stream',
        'content-length': body.length,
        'x-content-length': file.raw.length,
        'cache-control': cacheControl(rel),
        ...(negotiated ? { vary: 'Accept-Encoding' } : {}),
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      // Whatever went wrong, this request gets an answer and the server stays up.
      if (!res.headersSent) answer(res, 500, 'server error');
      else res.destroy();
    }
  });
  // CONNECT and protocol upgrades bypass the handler above; they get the same refusal.
  const refuse = (req, socket) =>
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\nconnection: close\r\n\r\n');
  server.on('connect', refuse);
  server.on('upgrade', refuse);
  // A request the HTTP parser cannot read (bad request line, headers too long): answer and close.
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((done) => server.listen(port, host, () => done(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT || 8080);
  const server = await serve(port);
  console.log(`DeepDream is at http://127.0.0.1:${server.address().port}/`);
}
