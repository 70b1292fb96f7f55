// The service worker: after one visit the page loads, dreams and downloads with no network.
// `make dist` fills in VERSION and FILES (every file of the site but the weights, which the
// engine's worker keeps in Cache Storage under their sha256). A version's files are fetched
// together into one cache; a new version takes over only when the page asks for it (the user
// chose to update) or when no page of the old one is open, and then the old cache goes at once,
// so a page never runs old wasm with a new script or the other way round.
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
    for (const key of await caches.keys()) {
      if (key.startsWith('deepdream-site-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'update') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== location.origin) return;
  // Any navigation in scope (the page with a recipe in its query) gets this version's page.
  const key = request.mode === 'navigate' ? './' : request;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key, { ignoreSearch: request.mode === 'navigate' });
    return hit ?? fetch(request);
  })());
});
