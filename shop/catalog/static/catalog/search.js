/* The header's search box suggests as you type: a combobox with a listbox popup
   (WAI-ARIA Authoring Practices, "Editable Combobox With List Autocomplete").
   Products, categories and a corrected query come from GET /api/v1/products/suggest/.
   Without this script the form is a plain search form. */
(function () {
  "use strict";
  var DELAY = 200; // ms after the last key before asking
  var MIN_LENGTH = 2;

  var form = document.querySelector("form.search[data-suggest]");
  var input = form && form.querySelector("#site-search");
  if (!input || !window.fetch) return;

  var text = form.dataset;
  var listbox = document.createElement("ul");
  listbox.id = "site-search-listbox";
  listbox.className = "suggestions";
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", text.textListbox);
  listbox.hidden = true;
  var status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.id = "site-search-status";
  form.classList.add("has-suggestions");
  input.insertAdjacentElement("afterend", listbox);
  form.appendChild(status);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("autocomplete", "off");

  var timer = null;
  var pending = null;
  var asked = "";
  var active = -1;
  var money = {};

  function options() {
    return Array.prototype.slice.call(listbox.querySelectorAll("[role=option]"));
  }

  function price(amount, currency) {
    var lang = document.documentElement.lang || undefined;
    try {
      money[currency] = money[currency] || new Intl.NumberFormat(lang, { style: "currency", currency: currency });
      return money[currency].format(Number(amount));
    } catch (error) {
      return amount + " " + currency;
    }
  }

  function open() {
    if (!options().length) return;
    listbox.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    select(-1);
  }

  function select(index) {
    var all = options();
    active = index;
    all.forEach(function (option, i) {
      option.setAttribute("aria-selected", String(i === index));
    });
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function option(url, parts) {
    var li = document.createElement("li");
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    li.id = "site-search-option-" + listbox.children.length;
    li.dataset.url = url;
    parts.forEach(function (part) { li.appendChild(part); });
    listbox.appendChild(li);
    return li;
  }

  function span(className, content) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = content;
    return element;
  }

  function show(body) {
    listbox.textContent = "";
    if (body.corrected) {
      var url = form.action + "?" + new URLSearchParams({ search: body.corrected }).toString();
      option(url, [span("suggestion-name", text.textCorrected.replace("{q}", body.corrected))]).classList.add("correction");
    }
    body.products.forEach(function (product) {
      var image = document.createElement(product.image ? "img" : "span");
      image.className = "suggestion-image";
      if (product.image) {
        image.src = product.image;
        image.alt = "";
        image.width = 40;
        image.height = 40;
      }
      option(product.url, [image, span("suggestion-name", product.name), span("suggestion-price", price(product.price, product.currency))]);
    });
    body.categories.forEach(function (category) {
      option(category.url, [span("suggestion-kind", text.textCategory), span("suggestion-name", category.name)]);
    });
    var count = body.products.length + body.categories.length;
    status.textContent = count === 0 ? text.textNone : count === 1 ? text.textOne : text.textMany.replace("{n}", count);
    select(-1);
    if (count || body.corrected) open(); else close();
  }

  function ask() {
    var query = input.value.trim();
    if (query === asked) return;
    asked = query;
    if (pending) pending.abort();
    if (query.length < MIN_LENGTH) {
      listbox.textContent = "";
      status.textContent = "";
      close();
      return;
    }
    pending = new AbortController();
    fetch(form.dataset.suggest + "?" + new URLSearchParams({ q: query.slice(0, 100) }).toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: pending.signal,
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && input.value.trim() === query) show(body);
      })
      .catch(function () { /* aborted or offline: the form still submits */ });
  }

  function go(index) {
    var chosen = options()[index];
    if (chosen) window.location.assign(chosen.dataset.url);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, DELAY);
  });

  input.addEventListener("keydown", function (event) {
    var count = options().length;
    switch (event.key) {
      case "ArrowDown":
        if (!count) return;
        event.preventDefault();
        if (listbox.hidden) { open(); if (event.altKey) return; }
        select(active + 1 >= count ? 0 : active + 1);
        break;
      case "ArrowUp":
        if (!count) return;
        event.preventDefault();
        if (listbox.hidden) open();
        select(active <= 0 ? count - 1 : active - 1);
        break;
      case "Enter":
        if (!listbox.hidden && active >= 0) {
          event.preventDefault();
          go(active);
        }
        break;
      case "Escape":
        if (!listbox.hidden) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
          asked = "";
        }
        break;
      default:
        break;
    }
  });

  // A click on an option follows it; pressing the mouse keeps the focus in the box meanwhile.
  listbox.addEventListener("mousedown", function (event) { event.preventDefault(); });
  listbox.addEventListener("click", function (event) {
    var chosen = event.target.closest("[role=option]");
    if (chosen) go(options().indexOf(chosen));
  });
  input.addEventListener("blur", function () { close(); });
  input.addEventListener("focus", function () {
    if (input.value.trim() === asked && asked.length >= MIN_LENGTH) open();
  });
})();
