// The service worker: after one visit the page loads, dreams and downloads with no network.
// `make dist` fills in VERSION and FILES (every file of the site but the weights, which the
// engine's worker keeps in Cache Storage under their sha256). A version's files are fetched
// together into one cache; a new version takes over only when the page asks for it (the user
// chose to update) or when no page of the old one is open. Every page is this version's page,
// and it loads only files whose names carry their content's hash, so a page never runs old wasm
// with a new script or the other way round. The version before stays cached: a tab still open on
// it (another tab took the update) goes on loading its own files until it reloads.
const VERSION = 'dev';
const FILES = [];
const CACHE = `deepdream-site-${VERSION}`;

// Files whose names carry a hash of their content (`make dist` writes the rule, the one
// www/headers.mjs gives hosts) cannot be stale, so they may come from the HTTP cache (the page
// has just downloaded the 14 MB wasm: no second download). The others (the page, the manifest)
// skip it, so a version is never assembled from stale files.
const HASHED = /^$/;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) =>
    cache.addAll(FILES.map((file) => new Request(file, { cache: HASHED.test(file) ? 'default' : 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    // Caches list in the order they were made: keep this version's and the one before.
    const site = (await caches.keys()).filter((key) => key.startsWith('deepdream-site-') && key !== CACHE);
    for (const key of site.slice(0, -1)) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'update') self.skipWaiting();
});

// The page's own addresses: the scope's root (a recipe rides in its query) and index.html there.
// Other pages in scope are not ours to answer (at an origin's root, that is the rest of the site).
const SCOPE = new URL(self.registration.scope).pathname;
const PAGES = [SCOPE, `${SCOPE}index.html`];

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== location.origin) return;
  const navigate = request.mode === 'navigate';
  if (navigate && !PAGES.includes(url.pathname)) return;
  const key = navigate ? './' : request;
  event.respondWith((async () => {
    // This version's first; a file only the version before has is for a tab still on it.
    const own = await (await caches.open(CACHE)).match(key, { ignoreSearch: navigate });
    return own ?? (navigate ? null : await caches.match(key)) ?? fetch(request);
  })());
});
