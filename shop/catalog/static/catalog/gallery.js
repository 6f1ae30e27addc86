/* Product gallery: a thumbnail shows its picture in the main image.
   Without this script each thumbnail is a plain link to its picture. The thumbnails become
   buttons (Enter or Space), and aria-current marks the one shown. */
(function () {
  "use strict";

  function show(gallery, thumb) {
    var main = gallery.querySelector("[data-gallery-main]");
    main.src = thumb.getAttribute("href");
    main.alt = thumb.getAttribute("data-alt");
    gallery.querySelectorAll(".gallery-thumb").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    thumb.setAttribute("aria-current", "true");
  }

  document.querySelectorAll("[data-gallery]").forEach(function (gallery) {
    if (!gallery.querySelector("[data-gallery-main]")) return;
    gallery.querySelectorAll(".gallery-thumb").forEach(function (thumb) {
      thumb.setAttribute("role", "button");
    });
    gallery.addEventListener("click", function (event) {
      var thumb = event.target.closest(".gallery-thumb");
      // A click with a modifier key still opens the picture in a new tab or window.
      if (!thumb || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      show(gallery, thumb);
    });
    gallery.addEventListener("keydown", function (event) {
      var thumb = event.target.closest(".gallery-thumb");
      if (thumb && event.key === " ") {
        event.preventDefault();
        show(gallery, thumb);
      }
    });
  });
})();
