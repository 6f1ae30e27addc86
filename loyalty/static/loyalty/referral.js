// The referral link's copy button: shown only where the browser can copy (the link stays selectable without it).
(function () {
  "use strict";
  if (!navigator.clipboard) return;
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copy + "-status") || document.getElementById("referral-copy-status");
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(
        function () { if (status) status.textContent = button.dataset.copied; },
        function () { field.select(); }
      );
    });
  });
})();
