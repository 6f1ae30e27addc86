/* Bazaar storefront: small enhancements; every page works without them. */
(function () {
  "use strict";
  var doc = document;

  // The phone header's search icon opens the search field in place (a #header-search link without JS).
  var toggle = doc.querySelector(".search-toggle");
  var panel = doc.getElementById("header-search");
  if (toggle && panel) {
    toggle.setAttribute("role", "button");
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      var open = !panel.classList.contains("open");
      panel.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        var input = panel.querySelector("input[type=search]");
        if (input) input.focus();
      }
    });
  }

  // Menus built on <details> close with Escape and when the shopper clicks elsewhere.
  function openMenus() {
    return Array.prototype.slice.call(doc.querySelectorAll("details.nav-drawer[open], details.filters-panel[open]"));
  }
  doc.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
    if (panel && panel.classList.contains("open")) {
      panel.classList.remove("open");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
  doc.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });
})();

/* Product lists: filters and sorting are one form (templates/catalog/_product_list_main.html).
   With JavaScript a change applies at once on wide screens; on phones the filter panel's button
   applies them, and says how many products the list has. */
(function () {
  "use strict";
  var form = document.getElementById("list-form");
  if (!form) return;
  var panel = document.getElementById("filters");
  var toggle = document.querySelector(".filters-toggle");
  var wide = window.matchMedia("(min-width: 801px)");
  // The catalog's sort menu, or the ad board's (templates/adboard/_list_main.html: same form id).
  var sort = document.getElementById("id_ordering") || document.getElementById("id_sort");

  function submit() {
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }
  // Boxes apply at once; a price applies with Enter or the button (not halfway, on leaving the field).
  form.addEventListener("change", function (event) {
    var type = event.target.type;
    if (wide.matches && (type === "checkbox" || type === "radio" || event.target.tagName === "SELECT")) submit();
  });
  // Empty fields stay out of the address (?min_price=&max_price=... says nothing).
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.value === "" && field.tagName !== "BUTTON") field.disabled = true;
    });
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
    }, 0);
  });
  if (sort) sort.addEventListener("change", submit);
  var apply = document.querySelector("button.apply[form=list-form]");
  var count = document.querySelector(".results-head [role=status]");
  if (apply && count && apply.dataset.labelCount) {
    apply.textContent = apply.dataset.labelCount.replace("%(count)s", count.textContent.trim());
  }
  if (!panel || !toggle) return;
  var close = panel.querySelector(".panel-close");
  function setOpen(open) {
    panel.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
    document.body.classList.toggle("panel-open", open);
    if (open) {
      panel.setAttribute("tabindex", "-1");
      panel.focus();
    } else {
      toggle.focus();
    }
  }
  toggle.setAttribute("role", "button");
  toggle.setAttribute("aria-expanded", "false");
  toggle.addEventListener("click", function (event) {
    event.preventDefault();
    setOpen(true);
  });
  if (close) {
    close.setAttribute("role", "button");
    close.addEventListener("click", function (event) {
      event.preventDefault();
      setOpen(false);
    });
  }
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel.classList.contains("open")) setOpen(false);
  });
})();

/* The installable store: its service worker, which shows the notifications a customer turned on
   (shop/core/pwa.py). Registered once the page has loaded, so it never delays the page. */
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.dataset.serviceWorker;
  if (!url || !("serviceWorker" in navigator) || !window.isSecureContext) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register(url).catch(function () {
      // A browser that refuses it (private mode, a policy) keeps a store that works as before.
    });
  });
})();
