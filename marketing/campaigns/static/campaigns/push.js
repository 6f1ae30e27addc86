/* The account page's notifications panel: turns the store's notifications on or off in this browser.
   Works only where the browser has the Push API; elsewhere the panel's explanation stays.
   marketing/campaigns/push_views.py receives the subscription; docs/channels.md. */
(function () {
  "use strict";
  var panel = document.querySelector(".push-panel");
  if (!panel) return;
  var supported =
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window &&
    window.crypto &&
    window.crypto.subtle;
  if (!supported) return;
  var key;
  try {
    key = keyBytes(panel.dataset.key);
    if (key.length !== 65) throw new Error("not a P-256 public key");
  } catch (error) {
    return; // not a key: the panel's explanation stays
  }

  var on = panel.querySelector('[data-push="on"]');
  var off = panel.querySelector('[data-push="off"]');
  var status = panel.querySelector(".push-status");
  var csrf = panel.querySelector("input[name=csrfmiddlewaretoken]").value;
  var data = panel.dataset;
  panel.querySelector(".push-unsupported").hidden = true;
  panel.querySelector(".push-actions").hidden = false;

  // An error whose message is for the customer (the server's words, or the panel's).
  function Shown(message) {
    this.message = message;
  }

  function say(text) {
    status.textContent = text || "";
  }

  function showOn(isOn) {
    on.hidden = isOn;
    off.hidden = !isOn;
  }

  function registration() {
    return navigator.serviceWorker.register(data.worker).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (answer) {
          if (!response.ok) throw new Shown(answer.detail || data.textFailed);
          return answer;
        });
    });
  }

  function keyBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function sameKey(buffer, bytes) {
    if (!buffer) return true; // a browser that does not say: assume ours
    var own = new Uint8Array(buffer);
    if (own.length !== bytes.length) return false;
    for (var i = 0; i < own.length; i++) if (own[i] !== bytes[i]) return false;
    return true;
  }

  // The same digest as marketing/campaigns/templatetags/campaigns_push.py: is this browser on for this account?
  function digest(endpoint) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(endpoint)).then(function (hash) {
      return Array.prototype.map
        .call(new Uint8Array(hash), function (b) {
          return ("0" + b.toString(16)).slice(-2);
        })
        .join("")
        .slice(0, 32);
    });
  }

  function fail(error) {
    say(error instanceof Shown ? error.message : data.textFailed);
  }

  var mine = (data.browsers || "").split(" ").filter(Boolean);

  if (Notification.permission === "denied") say(data.textDenied);
  registration()
    .then(function (reg) {
      return reg.pushManager.getSubscription();
    })
    .then(function (subscription) {
      if (!subscription) return false;
      return digest(subscription.endpoint).then(function (hash) {
        return mine.indexOf(hash) !== -1;
      });
    })
    .then(showOn)
    .catch(function () {
      showOn(false);
    });

  on.addEventListener("click", function () {
    on.disabled = true;
    say("");
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") throw new Shown(data.textDenied);
        return registration();
      })
      .then(function (reg) {
        return reg.pushManager.getSubscription().then(function (existing) {
          // Made with another key (the store changed its keys): replaced by one with the current key.
          if (existing && !sameKey(existing.options && existing.options.applicationServerKey, key)) {
            return existing.unsubscribe().then(function () {
              return null;
            });
          }
          return existing;
        }).then(function (existing) {
          return existing || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        });
      })
      .then(function (subscription) {
        return post(data.subscribe, subscription.toJSON());
      })
      .then(function (answer) {
        showOn(true);
        say(answer.detail);
        off.focus();
      })
      .catch(fail)
      .then(function () {
        on.disabled = false;
      });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    say("");
    registration()
      .then(function (reg) {
        return reg.pushManager.getSubscription();
      })
      .then(function (subscription) {
        if (!subscription) return { detail: "" };
        // The store forgets it first: if that fails, nothing has changed and the customer can try again.
        return post(data.unsubscribe, { endpoint: subscription.endpoint }).then(function (answer) {
          return subscription.unsubscribe().then(function () {
            return answer;
          });
        });
      })
      .then(function (answer) {
        showOn(false);
        say(answer.detail);
        on.focus();
      })
      .catch(fail)
      .then(function () {
        off.disabled = false;
      });
  });
})();
