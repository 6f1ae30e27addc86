import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request
from shop.core import ratelimit
from shop.core.errors import ShopError
from shop.core.tracking import track
from shop.orders import selectors
from shop.orders.checkout import (
    CheckoutThrottled,
    ShippingAddress,
    TooManyOpenOrders,
    checkout_place,
    order_cancel_unpaid,
)
from shop.orders.forms import CheckoutForm, LookupForm
from shop.orders.models import ADDRESS_FIELDS, Order
from shop.orders.payment import InvalidPaymentMethod, PaymentDeclined, PaymentUnavailable, gateway
from shop.orders.shipping import method_choices

SESSION_KEY = "checkout"


def _customer(request):
    return request.user if request.user.is_authenticated else None


def _method_labels(priced):
    return [(code, f"{label} — {price.format()}") for code, label, price in method_choices(priced.subtotal)]


def checkout(request):
    """Step 1: email, shipping address (saved ones offered) and delivery method."""
    cart = cart_for_request(request)
    priced = price_cart(cart, customer=_customer(request))
    if priced.is_empty:
        messages.info(request, _("Your cart is empty."))
        return redirect("cart:detail")
    addresses = list(request.user.addresses.all()) if request.user.is_authenticated else []
    saved = request.session.get(SESSION_KEY, {})
    initial = {"email": request.user.email if request.user.is_authenticated else "", **saved.get("form", {})}
    form = CheckoutForm(
        request.POST or None, initial=initial, addresses=addresses, method_labels=_method_labels(priced)
    )
    if request.method == "POST" and form.is_valid():
        request.session[SESSION_KEY] = {
            "email": form.cleaned_data["email"],
            "address": form.cleaned_data["address"],
            "shipping_method": form.cleaned_data["shipping_method"],
            "form": {
                k: v
                for k, v in form.cleaned_data.items()
                if k in ADDRESS_FIELDS or k in ("email", "shipping_method", "saved_address")
            },
        }
        return redirect("orders:review")
    if request.method == "GET":
        track("begin_checkout", value=priced.total)
    return render(request, "orders/checkout.html", {"form": form, "priced": priced}, status=400 if form.errors else 200)


def review(request):
    """Step 2: every pricing line, then place the order (one order, however often the button is pressed)."""
    details = request.session.get(SESSION_KEY)
    if not details:
        return redirect("orders:checkout")
    if request.method == "POST":
        # Checkout reads the lines itself, under a lock, and prices them there.
        return _place(request, cart_for_request(request, with_lines=False), details)
    cart = cart_for_request(request)
    priced = price_cart(cart, customer=_customer(request), shipping_method=details["shipping_method"])
    if priced.is_empty:
        return redirect("cart:detail")
    return render(
        request,
        "orders/review.html",
        {
            "priced": priced,
            "details": details,
            "idempotency_key": uuid.uuid4().hex,
            "cart_panels": settings.SHOP_CART_PANELS,
            "address": ShippingAddress(**details["address"]),
        },
    )


def _place(request, cart, details):
    key = request.POST.get("idempotency_key", "")[:100]
    if cart is None:
        existing = Order.objects.filter(idempotency_key=key).exclude(idempotency_key="").first() if key else None
        if existing and selectors.can_view(request, existing):
            return redirect("orders:pay", number=existing.number)
        return redirect("cart:detail")
    try:
        order, _created = checkout_place(
            cart=cart,
            user=_customer(request),
            email=details["email"],
            address=ShippingAddress(**details["address"]),
            shipping_method=details["shipping_method"],
            idempotency_key=key,
            client=ratelimit.client_ip(request),
        )
    except TooManyOpenOrders as exc:
        return _refused(request, exc, _open_orders_to_show(request, exc.order_ids))
    except CheckoutThrottled as exc:
        return _refused(request, exc, [])
    except ShopError as exc:
        messages.error(request, exc.message)
        return redirect("cart:detail")
    selectors.remember_guest_order(request, order)
    return redirect("orders:pay", number=order.number)


def _open_orders_to_show(request, order_ids) -> list[Order]:
    """Of the open orders that counted, those this shopper may open (an email typed in proves nothing)."""
    orders = Order.objects.filter(pk__in=order_ids).order_by("placed_at")
    return [order for order in orders if selectors.can_view(request, order)]


def _refused(request, exc: ShopError, orders: list[Order]):
    """The cart stays as it is; the page says why and links the shopper's own open orders."""
    return render(
        request,
        "orders/checkout_refused.html",
        {"message": exc.message, "open_orders": orders},
        status=exc.status_code,
    )


@require_POST
def cancel(request, number):
    """The shopper cancels their own unpaid order: its stock comes back at once."""
    order = _order_for(request, number, details=False)
    if order.is_unpaid:
        gateway().sync(order=order)  # a payment already made wins over the cancel
    try:
        order_cancel_unpaid(order_id=order.pk, actor=_customer(request))
    except ShopError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Order %(number)s is cancelled.") % {"number": order.number})
    return redirect("orders:detail", number=order.number)


def _order_for(request, number, *, details: bool = True) -> Order:
    """The order, if this shopper may see it; with its lines, adjustments and timeline unless not `details`."""
    order = get_object_or_404(selectors.order_with_details() if details else Order.objects.all(), number=number)
    if not selectors.can_view(request, order):
        raise Http404(_("Order not found."))
    return order


def pay(request, number):
    """Step 3: the card form (Stripe.js). The card goes to Stripe, never to this server."""
    order = _order_for(request, number)
    if not order.is_unpaid:
        return redirect("orders:detail", number=order.number)
    try:
        session = gateway().create_payment(order=order)
    except PaymentUnavailable as exc:
        return render(request, "orders/pay.html", {"order": order, "error": exc.message}, status=503)
    if settings.STRIPE_API_BASE:
        stripe_js = f"{settings.STRIPE_API_BASE}/js.stripe.com/v3/"
    else:
        stripe_js = "https://js.stripe.com/v3/"
    return render(
        request,
        "orders/pay.html",
        {
            "order": order,
            "session": session,
            "stripe_js": stripe_js,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            # Offline (localstripe): the store's own card fields; with real keys, Stripe's own form.
            "test_mode": bool(settings.STRIPE_API_BASE),
        },
    )


@require_POST
def pay_confirm(request, number):
    """Called by the card form with a payment method or card token; answers JSON."""
    order = _order_for(request, number, details=False)
    try:
        payment_method = str(json.loads(request.body or "{}").get("payment_method", ""))[:100]
    except (ValueError, AttributeError, RecursionError):  # RecursionError: arrays nested thousands deep
        payment_method = ""
    if not payment_method:
        return JsonResponse({"detail": _("The card details did not reach us. Please try again.")}, status=400)
    if not order.is_unpaid:
        return JsonResponse({"status": order.status, "redirect": reverse("orders:detail", args=[order.number])})
    try:
        session = gateway().confirm_payment(order=order, payment_method=payment_method)
    except (PaymentDeclined, PaymentUnavailable, InvalidPaymentMethod) as exc:
        return JsonResponse({"detail": str(exc.message), "code": exc.code}, status=exc.status_code)
    if session.status == "requires_action":
        return JsonResponse({"status": session.status, "client_secret": session.client_secret})
    return JsonResponse(
        {"status": session.status, "redirect": reverse("orders:detail", args=[order.number]) + "?placed=1"}
    )


def detail(request, number):
    """The order and its timeline; right after paying, the confirmation."""
    order = _order_for(request, number)
    if order.is_unpaid and request.GET.get("placed"):
        gateway().sync(order=order)  # don't wait for the webhook to show "paid"
        order = _order_for(request, number)
    events = [e for e in order.events.all() if e.customer_visible]
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "events": events,
            "just_placed": bool(request.GET.get("placed")),
            # What other apps add to the confirmation (settings.SHOP_ORDER_PANELS: the points it earns).
            "order_panels": getattr(settings, "SHOP_ORDER_PANELS", []),
        },
    )


@login_required
def my_orders(request):
    page = Paginator(selectors.orders_for_user(user=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "orders/list.html", {"page": page})


def lookup(request):
    """A guest finds an order by its number and email (rate-limited: guessing must not pay)."""
    form = LookupForm(request.POST or None)
    if request.method == "POST":
        key = f"order-lookup:{ratelimit.client_ip(request)}"
        if ratelimit.is_limited(key, limit=10):
            form.add_error(None, _("Too many attempts. Wait 15 minutes and try again."))
            return render(request, "orders/lookup.html", {"form": form}, status=429)
        if form.is_valid():
            order = Order.objects.filter(
                number=form.cleaned_data["number"].strip().upper(), email=form.cleaned_data["email"].lower()
            ).first()
            if order:
                selectors.remember_guest_order(request, order)
                return redirect("orders:detail", number=order.number)
            ratelimit.record_attempt(key, period=15 * 60)
            form.add_error(None, _("No order matches that number and email."))
            # (add_error makes is_valid() False from here on: answer the miss now.)
            return render(request, "orders/lookup.html", {"form": form}, status=404)
        return render(request, "orders/lookup.html", {"form": form}, status=400)
    return render(request, "orders/lookup.html", {"form": form})
