// The card form. The card goes to Stripe (or localstripe offline) from the browser; this
// store's server only ever receives the resulting payment method id and confirms it.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const button = document.getElementById("pay-button");
  const status = document.getElementById("payment-status");
  const error = document.getElementById("payment-error");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function fail(message) {
    error.textContent = message || form.dataset.failed;
    status.textContent = "";
    button.disabled = false;
  }

  async function paymentMethodId() {
    // Stripe.js proper makes a PaymentMethod; localstripe's stand-in only makes card tokens.
    const made = await stripe.createPaymentMethod({ type: "card", card: card });
    if (made && made.paymentMethod) return { id: made.paymentMethod.id };
    if (made && made.error) return { error: made.error.message };
    const token = await stripe.createToken(card);
    if (token.error) return { error: token.error.message || form.dataset.failed };
    return { id: token.token.id };
  }

  async function confirm(body) {
    const response = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    return { ok: response.ok, body: await response.json().catch(() => ({})) };
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "";
    status.textContent = form.dataset.processing;
    try {
      const method = await paymentMethodId();
      if (method.error) return fail(method.error);
      let result = await confirm({ payment_method: method.id });
      if (result.ok && result.body.status === "requires_action" && stripe.handleCardAction) {
        const action = await stripe.handleCardAction(result.body.client_secret);
        if (action.error) return fail(action.error.message);
        result = await confirm({ payment_method: method.id });
      }
      if (result.ok && result.body.redirect) {
        window.location.assign(result.body.redirect);
      } else {
        fail(result.body.detail);
      }
    } catch (e) {
      fail();
    }
  });
})();
