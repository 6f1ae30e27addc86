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
