/* What only the browser knows, told to the store's own server (marketing/analytics/views.py):
   the products a list really showed (half a card on screen), the one a shopper chose, and the
   promotions seen and chosen. Nothing leaves for anyone else; no cookie is set.

   Markup: a list is `data-list="name"` around cards marked `data-product="id"`; a promotion shown
   is any element marked `data-promotion="id"` (a card may be both), seen when half of it is on
   screen and chosen when a link inside it is followed; `data-where="name"` says where it was shown
   (else the list around it). */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = script && script.dataset.endpoint;
  if (!endpoint || !navigator.sendBeacon || !window.JSON) return;

  var queue = [];
  var seen = {};
  var pending = {}; // list -> product ids seen since the last beacon

  function send() {
    while (queue.length) {
      var body = JSON.stringify({ events: queue.splice(0, 30) });
      navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" }));
    }
  }

  function flushImpressions() {
    Object.keys(pending).forEach(function (list) {
      for (var i = 0; i < pending[list].length; i += 60) {
        queue.push({ name: "view_item_list", list: list, items: pending[list].slice(i, i + 60) });
      }
    });
    pending = {};
  }

  function listOf(element) {
    var list = element.closest("[data-list]");
    return list ? list.dataset.list : "";
  }

  function promotionEvent(name, element) {
    return { name: name, promotion: Number(element.dataset.promotion), list: element.dataset.where || listOf(element) };
  }

  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        var element = entry.target;
        observer.unobserve(element);
        if (element.dataset.promotion) {
          queue.push(promotionEvent("view_promotion", element));
        }
        if (element.dataset.product && element.closest("[data-list]")) {
          var list = listOf(element);
          var key = list + ":" + element.dataset.product;
          if (seen[key]) return;
          seen[key] = true;
          (pending[list] = pending[list] || []).push(Number(element.dataset.product));
        }
      });
    }, { threshold: 0.5 });
    document.querySelectorAll("[data-list] [data-product], [data-promotion]").forEach(function (element) {
      observer.observe(element);
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link) return;
    var card = link.closest("[data-list] [data-product]");
    if (card) {
      flushImpressions();
      queue.push({ name: "select_item", list: listOf(card), product: Number(card.dataset.product) });
    }
    var promotion = link.closest("[data-promotion]");
    if (promotion) {
      queue.push(promotionEvent("select_promotion", promotion));
    }
    send();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flushImpressions();
      send();
    }
  });
})();
