/* The store's service worker (served at the site's root, so its scope is the whole store).
   It shows the notifications the store sends and opens what they link to, on this site only.
   It does not touch page loads: there is no fetch handler. shop/core/pwa.py, docs/channels.md. */
"use strict";

const STORE = {{ store_json|safe }};

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// Only addresses on this site: a notification can never send the customer elsewhere.
function sameOrigin(url, fallback) {
  try {
    const parsed = new URL(url, self.location.origin);
    if (parsed.origin === self.location.origin) return parsed.href;
  } catch (error) {
    // not a URL: the fallback
  }
  return fallback;
}

function text(value, limit) {
  return typeof value === "string" ? value.slice(0, limit) : "";
}

self.addEventListener("push", (event) => {
  let message = {};
  if (event.data) {
    try {
      message = event.data.json();
    } catch (error) {
      message = { body: event.data.text() };
    }
  }
  if (!message || typeof message !== "object") message = {};
  const home = new URL(STORE.home, self.location.origin).href;
  const options = {
    body: text(message.body, 500),
    icon: sameOrigin(message.icon || STORE.icon, STORE.icon),
    badge: STORE.badge,
    data: { url: sameOrigin(message.url || home, home) },
  };
  if (message.tag) options.tag = text(message.tag, 64);
  event.waitUntil(self.registration.showNotification(text(message.title, 120) || STORE.name, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const home = new URL(STORE.home, self.location.origin).href;
  const url = sameOrigin(event.notification.data && event.notification.data.url, home);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      // The store already open on that page: bring it forward rather than open it twice.
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});
