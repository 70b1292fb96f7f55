// The site's HTTP headers, in one place: `serve.mjs` sends them and `build.mjs` writes them into
// dist/_headers for static hosts that read that file (Netlify, Cloudflare Pages).

// The page's policy. index.html carries it as a <meta> too, for hosts that set no headers; a
// worker takes its CSP from its own response only, and frame-ancestors is only honoured here.
export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
  "connect-src 'self'; img-src 'self' blob: data:; style-src 'self'; manifest-src 'self'; object-src 'none'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Files whose names carry a hash of their content: a host may keep them forever. */
export const IMMUTABLE = /^(assets|weights)\//;

export function cacheControl(path) {
  return IMMUTABLE.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** dist/_headers, in the format Netlify and Cloudflare Pages read. */
export function headersFile() {
  const lines = (headers) => Object.entries(headers).map(([k, v]) => `  ${k}: ${v}`).join('\n');
  const rules = [['/*', SECURITY]];
  for (const path of ['/assets/*', '/weights/*']) rules.push([path, { 'cache-control': cacheControl(path.slice(1)) }]);
  for (const path of ['/', '/index.html', '/sw.js', '/manifest.webmanifest']) rules.push([path, { 'cache-control': 'no-cache' }]);
  return rules.map(([path, headers]) => `${path}\n${lines(headers)}`).join('\n') + '\n';
}
