// Caches the app shell so Kinora opens offline or on a bad connection. Network first (a deploy is
// seen at once), the cache when the network fails. The API and media are never cached here.
const CACHE = "kinora-shell-v2";
const SHELL = ["/", "/index.html", "/app.js", "/app.css", "/manifest.webmanifest", "/icons/icon.svg", "/icons/icon-192.png",
  "/js/api.js", "/js/dom.js", "/js/i18n.js", "/js/feed.js", "/js/create.js", "/js/progress.js",
  "/js/storyboard.js", "/js/stitch.js", "/js/cameo.js", "/js/account.js",
  "/i18n/en.json", "/i18n/fr.json"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/v1/")) return;
  const isPage = event.request.mode === "navigate";
  event.respondWith(fetch(event.request).then((reply) => {
    if (reply.ok && (isPage || SHELL.includes(url.pathname))) {
      const copy = reply.clone();
      caches.open(CACHE).then((cache) => cache.put(isPage ? "/index.html" : event.request, copy));
    }
    return reply;
  }).catch(() => caches.match(isPage ? "/index.html" : event.request).then((hit) => hit || Response.error())));
});
