// Redo the example as the rules are typed, in whole minor units so that no float rounding
// differs from the server's Decimal arithmetic (which rounds points and values down).
(function () {
  const box = document.getElementById("rules-example");
  if (!box) return;
  const form = box.closest("form");
  const unit = 10 ** Number(box.dataset.decimals);
  const money = new Intl.NumberFormat(document.documentElement.lang || undefined, {style: "currency", currency: box.dataset.currency});
  const count = new Intl.NumberFormat(document.documentElement.lang || undefined);
  const field = (name) => form.elements[name] && form.elements[name].value.trim();
  const hundredths = (text) => Math.round(parseFloat(text) * 100);
  const set = (name, text) => box.querySelectorAll(`[data-live="${name}"]`).forEach((el) => { el.textContent = text; });
  function valueOf(points, rate) { return money.format(Math.floor((points * unit) / rate) / unit); }
  function update() {
    const earn = hundredths(field("earn_rate")), rate = parseInt(field("redeem_rate"), 10);
    const min = parseInt(field("min_redeem_points"), 10), expiry = parseInt(field("expiry_days"), 10);
    if (!Number.isNaN(earn)) {
      set("earned", count.format(earn));  // 100.00 × rate: the rate in hundredths
      box.querySelectorAll('[data-live="tier"]').forEach((el) => {
        el.textContent = count.format(Math.floor((earn * hundredths(el.dataset.multiplier)) / 100));
      });
    }
    if (rate > 0) {
      set("value", valueOf(Number(box.dataset.points), rate));
      if (!Number.isNaN(min)) set("min-value", valueOf(min, rate));
    }
    if (!Number.isNaN(min)) set("min", count.format(min));
    if (field("max_redeem_percent")) set("percent", field("max_redeem_percent"));
    if (field("pending_days")) set("pending", field("pending_days"));
    if (!Number.isNaN(expiry)) {
      set("expiry", count.format(expiry));
      box.querySelector('[data-live="expires"]').hidden = expiry === 0;
      box.querySelector('[data-live="never"]').hidden = expiry !== 0;
    }
  }
  form.addEventListener("input", update);
})();
