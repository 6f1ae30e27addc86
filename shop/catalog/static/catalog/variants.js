/* A product's options: choosing a size or colour shows that variant's price, stock, SKU and picture
   at once, marks the options that are sold out or do not exist with the others chosen, and puts the
   variant in the address (?variant=<id>) so it can be shared. Without this script the options post
   to the server ("Show price and stock"), which renders the same page for the choice. */
(function () {
  "use strict";

  var form = document.querySelector("[data-variant-form]");
  var dataNode = document.getElementById("variant-data");
  if (!form || !dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var text = form.dataset;
  var low = parseInt(text.low, 10);
  var maxQuantity = parseInt(text.maxQuantity, 10);

  function chosen() {
    var values = {};
    data.attributes.forEach(function (attribute) {
      var input = form.querySelector('input[name="' + attribute.slug + '"]:checked');
      if (input) values[attribute.slug] = input.value;
    });
    return values;
  }

  function matching(values) {
    return data.variants.filter(function (variant) {
      return Object.keys(values).every(function (slug) {
        return variant.values[slug] === values[slug];
      });
    });
  }

  function tag(kind, words) {
    var span = document.createElement("span");
    span.className = kind ? "tag " + kind : "muted";
    span.textContent = words;
    return span;
  }

  function showPrice(variant) {
    if (!variant) return;
    var price = document.querySelector("[data-variant-price]");
    var now = price.querySelector(".now");
    // After an automatic promotion: the offer, its own price struck through (as the cart will charge it).
    now.textContent = variant.offer_text || variant.price_text;
    var was = price.querySelector(".was");
    if (was) was.remove();
    var save = price.querySelector("[data-save]");  // the product's "Save n%": not this variant's, unless on sale too
    if (save && (variant.offer_text || !variant.compare_text)) save.remove();
    var former = variant.offer_text ? variant.price_text : variant.compare_text;
    if (former) {
      was = document.createElement("span");
      was.className = "was";
      var struck = document.createElement("s");
      struck.textContent = former;
      was.append(" " + text.textWas + " ", struck);
      now.after(was);
    }
  }

  function showStock(variant, complete) {
    var stock = form.querySelector("[data-variant-stock]");
    var node;
    if (!complete) node = tag("", text.textChoose);
    else if (!variant) node = tag("out", text.textMissing);
    else if (variant.stock <= 0) node = tag("out", text.textOut);
    else if (variant.stock <= low) node = tag("low", text.textLow.replace("%(n)s", variant.stock));
    else node = tag("in", text.textIn);
    stock.replaceChildren(node);
    var add = form.querySelector("[data-add]");
    add.disabled = complete && (!variant || variant.stock <= 0);
    var select = form.querySelector("#id_quantity");
    var most = variant && variant.stock > 0 ? Math.min(variant.stock, maxQuantity) : maxQuantity;
    var current = parseInt(select.value, 10) || 1;
    select.replaceChildren();
    for (var n = 1; n <= most; n++) select.add(new Option(String(n), String(n), false, n === Math.min(current, most)));
  }

  function markOptions(values) {
    data.attributes.forEach(function (attribute) {
      var fieldset = form.querySelector('[data-attribute="' + attribute.slug + '"]');
      var name = "";
      attribute.values.forEach(function (value) {
        var wanted = Object.assign({}, values);
        wanted[attribute.slug] = value.slug;
        var found = matching(wanted);
        var state = !found.length ? "missing" : found.some(function (v) { return v.stock > 0; }) ? "available" : "sold_out";
        var input = form.querySelector("#opt-" + attribute.slug + "-" + value.slug);
        var label = form.querySelector('label[for="' + input.id + '"]');
        label.classList.remove("option-available", "option-sold_out", "option-missing");
        label.classList.add("option-" + state);
        label.querySelector("[data-note]").textContent =
          state === "sold_out" ? " " + text.textNoteOut : state === "missing" ? " " + text.textNoteMissing : "";
        if (input.checked) name = ": " + value.name;
      });
      fieldset.querySelector("[data-chosen-name]").textContent = name;
    });
  }

  function showImage(variant) {
    // The variant's picture in the main image, with its words, and its thumbnail marked as the one shown.
    var main = document.querySelector("[data-gallery-main]");
    if (!variant || !variant.image || !main) return;
    main.src = variant.image;
    document.querySelectorAll("[data-gallery] .gallery-thumb").forEach(function (thumb) {
      if (thumb.getAttribute("href") === variant.image) {
        thumb.setAttribute("aria-current", "true");
        main.alt = thumb.getAttribute("data-alt");
      } else {
        thumb.removeAttribute("aria-current");
      }
    });
  }

  function update() {
    var values = chosen();
    var complete = Object.keys(values).length === data.attributes.length;
    var variant = complete ? matching(values)[0] || null : null;
    markOptions(values);
    showPrice(variant);
    showStock(variant, complete);
    form.querySelectorAll('[role="alert"]').forEach(function (node) { node.remove(); });
    var sku = document.querySelector("[data-variant-sku]");
    if (variant) sku.textContent = variant.sku;
    showImage(variant);
    var url = new URL(window.location.href);
    url.searchParams.delete("variant");
    data.attributes.forEach(function (attribute) { url.searchParams.delete(attribute.slug); });
    if (variant) url.searchParams.set("variant", variant.id);
    window.history.replaceState(null, "", url);
  }

  // A variant named in the address (a shared link): its picture, as a choice made here would show it.
  var first = chosen();
  if (Object.keys(first).length === data.attributes.length) showImage(matching(first)[0] || null);

  var show = form.querySelector("[data-show-choice]");
  if (show) show.remove(); // choices show at once: no need to ask the server
  form.addEventListener("change", function (event) {
    if (event.target.classList.contains("option-input")) update();
  });
})();
