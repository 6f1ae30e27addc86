// The card form. The card goes to Stripe (or localstripe offline) from the browser; this
// store's server only ever receives the resulting payment method id and confirms it.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  // Offline (localstripe) the page has its own labelled fields (#card-fields); with real keys, Stripe's form.
  const fields = document.getElementById("card-fields");
  let card = null;
  if (!fields) {
    card = stripe.elements().create("card");
    card.mount("#card-element");
  }
  const button = document.getElementById("pay-button");
  const status = document.getElementById("payment-status");
  const error = document.getElementById("payment-error");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function fail(message) {
    error.textContent = message || form.dataset.failed;
    status.textContent = "";
    button.disabled = false;
  }

  // -- the offline fields: formatting as typed, checks before anything is sent ----------------
  const input = (id) => document.getElementById(id);
  const digits = (value) => value.replace(/\D/g, "");

  function formatNumber(event) {
    const field = event.target;
    const grouped = digits(field.value).slice(0, 19).replace(/(\d{4})(?=\d)/g, "$1 ");
    if (grouped !== field.value) field.value = grouped;
  }

  function formatExpiry(event) {
    const field = event.target;
    let value = digits(field.value).slice(0, 4);
    if (value.length === 1 && value > "1") value = "0" + value; // "4" is April: "04"
    if (value.length > 2 || (value.length === 2 && event.inputType !== "deleteContentBackward")) {
      value = value.slice(0, 2) + "/" + value.slice(2);
    }
    if (value !== field.value) field.value = value;
  }

  function onlyDigits(event) {
    const value = digits(event.target.value).slice(0, 4);
    if (value !== event.target.value) event.target.value = value;
  }

  function showFieldError(field, message) {
    const slot = input(field.id + "-error");
    field.setAttribute("aria-invalid", message ? "true" : "false");
    if (slot) {
      slot.textContent = message || "";
      slot.hidden = !message;
    }
  }

  function readFields() {
    const number = input("card-number");
    const expiry = input("card-expiry");
    const cvc = input("card-cvc");
    const cardNumber = digits(number.value);
    const [month, year] = expiry.value.split("/").map((part) => parseInt(part, 10));
    const now = new Date();
    const fullYear = 2000 + (year || 0);
    const expired = fullYear < now.getFullYear() || (fullYear === now.getFullYear() && month < now.getMonth() + 1);
    const problems = [
      [number, cardNumber.length < 13 || cardNumber.length > 19 ? fields.dataset.invalidNumber : ""],
      [expiry, !(month >= 1 && month <= 12) || !(year >= 0) || expired ? fields.dataset.invalidExpiry : ""],
      [cvc, !/^\d{3,4}$/.test(cvc.value) ? fields.dataset.invalidCvc : ""],
    ];
    problems.forEach(([field, message]) => showFieldError(field, message));
    const first = problems.find(([, message]) => message);
    if (first) {
      first[0].focus();
      return null;
    }
    return {
      // What localstripe's createToken reads of an element.
      value: {
        card: { number: cardNumber, exp_month: String(month), exp_year: String(fullYear), cvc: cvc.value },
        postal_code: input("card-postal").value,
      },
    };
  }

  if (fields) {
    [["card-number", formatNumber], ["card-expiry", formatExpiry], ["card-cvc", onlyDigits]].forEach((pair) => {
      const field = input(pair[0]);
      field.addEventListener("input", pair[1]);
      // What was typed before this script ran (it waits for Stripe's on a slow connection) is formatted too.
      if (field.value) pair[1]({ target: field, inputType: "" });
    });
  }

  async function paymentMethodId() {
    if (fields) {
      const element = readFields();
      if (!element) return { invalid: true };
      const token = await stripe.createToken(element);
      if (token.error) return { error: token.error.message || form.dataset.failed };
      return { id: token.token.id };
    }
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
      if (method.invalid) {
        status.textContent = "";
        button.disabled = false;
        return;
      }
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
