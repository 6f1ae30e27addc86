"""The cart page's discount-code form: thin views over the services.

A refused code re-renders the cart page (the shop's own view) with the reason
and the error's status, so the customer sees why and a client sees a 4xx.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from marketing.discounts import carts, services, terms
from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request
from shop.cart.views import _render_cart
from shop.core.errors import ShopError


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=40,
        error_messages={
            "required": gettext_lazy("Type a discount code."),
            "max_length": gettext_lazy("That is longer than any of our discount codes."),
        },
    )


def _back(request):
    """To the page the form was on (the cart, or the checkout's review step)."""
    target = request.POST.get("next", "")
    # Not back to these POST-only views (a refused code re-renders the cart at their URL).
    ours = target.startswith(reverse("discounts:apply"))
    if target and not ours and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("cart:detail")


def _refused(request, message, *, status: int):
    typed = request.POST.get("code", "")[:40]
    return _render_cart(request, error=message, status=status, context={"code_value": typed, "code_invalid": True})


@require_POST
def code_apply(request):
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _refused(request, form.errors["code"][0], status=400)
    cart = cart_for_request(request)
    customer = carts.customer_of(request)
    try:
        code = services.cart_code_apply(
            cart=cart, code=form.cleaned_data["code"], customer=customer, client_key=carts.client_key(request)
        )
    except ShopError as exc:
        return _refused(request, exc.message, status=exc.status_code)
    saving = carts.code_saving(price_cart(cart, customer=customer), code)
    if saving is not None:
        message = _("Code %(code)s applied: you save %(saving)s.") % {"code": code, "saving": saving}
    else:
        message = _("Code %(code)s applied: its discount shows at checkout.") % {"code": code}
    # Its cap and conditions, so that a saving smaller than its headline is no surprise.
    messages.success(request, f"{message} {capfirst(terms.describe(code.promotion))}.")
    return _back(request)


@require_POST
def code_remove(request):
    services.cart_code_remove(cart=cart_for_request(request, with_lines=False))
    messages.success(request, _("Discount code removed."))
    return _back(request)
