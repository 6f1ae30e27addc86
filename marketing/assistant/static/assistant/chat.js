/* The chat launcher on every storefront page (templates/assistant/launcher.html). Without
   JavaScript the launcher is a link to the chat page (/assistant/), which works on its own. With
   it, the link becomes a button that opens a panel (a dialog; a full page on small screens) talking
   to the API: POST /api/v1/assistant/messages/ {message, conversation} →
   {conversation, reply: {text, intent, products, actions, quick_replies, handed_over}}.
   The chat so far, and the CSRF token, come from the launcher's data-history URL. Everything is
   built with DOM methods and textContent: nothing the server or the shopper wrote becomes HTML. */
(function () {
  "use strict";
  var link = document.querySelector("[data-chat-launcher]");
  if (!link || !window.fetch || !window.JSON) return;

  var STORE = "assistant-conversation";
  var T = {
    title: "Chat with us",
    close: "Close the chat",
    label: "Your message",
    placeholder: "Type a message…",
    send: "Send",
    typing: "The assistant is typing…",
    hello: "Hello! What are you looking for today?",
    you: "You",
    assistant: "Assistant",
    staff: "Our team",
    products: "Products",
    handed: "A person from our team will answer here, and by email if you gave us your address.",
    tooMany: "You are sending messages quickly. Please wait a moment and try again.",
    offline: "We could not reach the shop. Check your connection and try again.",
    failed: "Something went wrong on our side. Please try again, or use the chat page.",
    retry: "Try again",
    was: "was",
  };
  // The words in the page's language: data-t-too-many="..." on the launcher replaces T.tooMany.
  Object.keys(link.dataset).forEach(function (key) {
    if (/^t[A-Z]/.test(key)) T[key.charAt(1).toLowerCase() + key.slice(2)] = link.dataset[key];
  });

  var conversation = null;
  var csrf = "";
  var loaded = false;
  var busy = false;
  var lastText = "";
  try { conversation = window.sessionStorage.getItem(STORE); } catch (e) { /* storage refused */ }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // The launcher: the same place and name as the link, now a button that opens the dialog.
  var history = link.dataset.history;
  var endpoint = link.dataset.endpoint;
  var launcher = el("button", "chat-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  while (link.firstChild) launcher.appendChild(link.firstChild);
  link.parentNode.replaceChild(launcher, link);

  // The panel.
  var panel = el("div", "chat-panel");
  panel.id = "chat-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "true");
  panel.setAttribute("aria-labelledby", "chat-panel-title");
  var header = el("div", "chat-panel-head");
  var title = el("h2", "chat-panel-title", T.title);
  title.id = "chat-panel-title";
  var close = el("button", "chat-close");
  close.type = "button";
  close.setAttribute("aria-label", T.close);
  close.textContent = "×";
  header.appendChild(title);
  header.appendChild(close);
  // The messages: a list inside a live region (a list with role=log would no longer be a list).
  var scroller = el("div", "chat-scroll");
  scroller.setAttribute("role", "log");
  scroller.setAttribute("aria-live", "polite");
  scroller.setAttribute("aria-label", T.title);
  var log = el("ol", "chat-log");
  scroller.appendChild(log);
  var typing = el("p", "chat-typing");
  typing.hidden = true;
  typing.setAttribute("role", "status");
  var dots = el("span", "chat-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  typing.appendChild(dots);
  typing.appendChild(el("span", "visually-hidden", T.typing));
  var error = el("div", "chat-error");
  error.hidden = true;
  error.setAttribute("role", "alert");
  var form = el("form", "chat-form");
  var input = el("input");
  input.type = "text";
  input.name = "message";
  input.id = "chat-panel-message";
  input.maxLength = 500;
  input.autocomplete = "off";
  input.placeholder = T.placeholder;
  var label = el("label", "visually-hidden", T.label);
  label.htmlFor = input.id;
  var send = el("button", "button primary", T.send);
  send.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(scroller);
  panel.appendChild(typing);
  panel.appendChild(error);
  panel.appendChild(form);
  // The panel joins the page when first opened: until then the page has no second message field.

  function scrollDown() { scroller.scrollTop = scroller.scrollHeight; }

  function card(p) {
    var item = el("li", "chat-card");
    var a = el("a", "chat-card-link");
    a.href = p.url;
    if (p.image) {
      var img = el("img");
      img.src = p.image;
      img.alt = "";
      img.width = 64;
      img.height = 64;
      img.addEventListener("load", scrollDown, { once: true });  // a picture arriving late keeps the latest in view
      a.appendChild(img);
    } else {
      var blank = el("span", "chat-noimg");
      blank.setAttribute("aria-hidden", "true");
      a.appendChild(blank);
    }
    a.appendChild(el("span", "chat-card-name", p.name));
    item.appendChild(a);
    var price = el("span", "chat-card-price", p.price);
    if (p.was) {  // the former price, struck through as on the product's card
      price.appendChild(document.createTextNode(" "));
      price.appendChild(el("span", "visually-hidden", T.was));
      price.appendChild(el("s", "", p.was));
    }
    item.appendChild(price);
    item.appendChild(el("span", "chat-card-stock" + (p.in_stock ? "" : " out"), p.stock_note));
    if (p.offer) item.appendChild(el("span", "chat-card-offer", p.offer));
    return item;
  }

  function clearChips() {
    var old = log.querySelectorAll(".chat-chips");
    for (var i = 0; i < old.length; i++) old[i].parentNode.removeChild(old[i]);
  }

  function render(message) {
    var item = el("li", "chat-msg chat-" + message.role);
    var who = message.role === "shopper" ? T.you : message.role === "staff" ? T.staff : T.assistant;
    item.appendChild(el("p", "chat-who visually-hidden", who + ":"));
    item.appendChild(el("p", "chat-text", message.text));
    var products = message.products || [];
    if (products.length) {
      var cards = el("ul", "chat-cards");
      cards.setAttribute("aria-label", T.products);
      products.forEach(function (p) { cards.appendChild(card(p)); });
      item.appendChild(cards);
    }
    var actions = message.actions || [];
    if (actions.length) {
      var row = el("div", "chat-actions");
      actions.forEach(function (action) {
        if (action.kind === "link") {
          var a = el("a", "button", action.label);
          a.href = action.url;
          row.appendChild(a);
        } else {
          var b = el("button", "", action.label);
          b.type = "button";
          b.addEventListener("click", function () { ask(action.text || action.label); });
          row.appendChild(b);
        }
      });
      item.appendChild(row);
    }
    var chips = message.quick_replies || [];
    if (chips.length) {
      clearChips();
      var box = el("div", "chat-chips");
      chips.forEach(function (text) {
        var chip = el("button", "chat-chip", text);
        chip.type = "button";
        chip.addEventListener("click", function () { ask(text); });
        box.appendChild(chip);
      });
      item.appendChild(box);
    }
    if (message.handed_over) item.appendChild(el("p", "chat-note", T.handed));
    log.appendChild(item);
    scrollDown();
  }

  // The header's cart link says what the assistant just put in the cart.
  function showCart(cart) {
    var link = document.querySelector(".cart-link");
    if (!link) return;
    var badge = link.querySelector(".badge");
    var words = link.querySelector(".visually-hidden");
    if (badge) badge.textContent = String(cart.items);
    if (words) words.textContent = cart.label;
  }

  function showError(text, canRetry) {
    error.textContent = "";
    error.appendChild(el("span", "", text));
    if (canRetry && lastText) {
      var again = el("button", "link", T.retry);
      again.type = "button";
      again.addEventListener("click", function () { error.hidden = true; post(lastText); });
      error.appendChild(document.createTextNode(" "));
      error.appendChild(again);
    }
    error.hidden = false;
  }

  function remember(id) {
    conversation = id;
    try { window.sessionStorage.setItem(STORE, id); } catch (e) { /* storage refused */ }
  }

  function load() {
    var url = history;
    if (conversation) url += "?conversation=" + encodeURIComponent(conversation);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        loaded = true;
        csrf = data.csrf_token;
        if (data.conversation) remember(data.conversation);
        log.textContent = "";
        if (!data.messages.length) render({ role: "assistant", text: T.hello });
        data.messages.forEach(render);
      })
      .catch(function () {
        render({ role: "assistant", text: T.hello });
      });
  }

  function post(text) {
    busy = true;
    send.disabled = true;
    typing.hidden = false;
    scrollDown();
    var body = { message: text };
    if (conversation) body.conversation = conversation;
    return fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 429) return showError(T.tooMany, true);
          if (response.status === 400 && data && (data.message || data.detail)) {
            return showError([].concat(data.message || data.detail).join(" "), false);
          }
          if (!response.ok || !data.reply) return showError(T.failed, true);
          if (data.conversation) remember(data.conversation);
          render({
            role: "assistant",
            text: data.reply.text,
            products: data.reply.products,
            actions: data.reply.actions,
            quick_replies: data.reply.quick_replies,
            handed_over: data.reply.handed_over,
          });
          if (data.reply.cart) showCart(data.reply.cart);
        });
      })
      .catch(function () { showError(T.offline, true); })
      .then(function () {
        busy = false;
        send.disabled = false;
        typing.hidden = true;
        scrollDown();
      });
  }

  function ask(text) {
    text = (text || "").trim();
    if (!text || busy) return;
    error.hidden = true;
    lastText = text;
    clearChips();
    render({ role: "shopper", text: text });
    post(text);
    input.focus();
  }

  function focusable() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("a[href], button:not([disabled]), input:not([disabled])"),
      function (node) { return node.offsetParent !== null; }
    );
  }

  function open() {
    if (!panel.parentNode) {
      document.body.appendChild(panel);
      launcher.setAttribute("aria-controls", "chat-panel");
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    document.documentElement.classList.add("chat-open");
    (loaded ? Promise.resolve() : load()).then(scrollDown);
    input.focus();
  }

  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    document.documentElement.classList.remove("chat-open");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else shut(); });
  close.addEventListener("click", shut);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    ask(text);
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      shut();
    } else if (event.key === "Tab") {
      // Focus stays in the dialog while it is open.
      var nodes = focusable();
      if (!nodes.length) return;
      var first = nodes[0];
      var last = nodes[nodes.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
})();
