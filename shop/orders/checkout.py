"""Turning a cart into an order (docs/architecture.md, "Checkout and payment", step 1).

One transaction: lock the cart, take the stock with guarded conditional
updates in product-id order, price the cart, write the order with snapshots of
its lines and adjustments, let each adjuster claim what it used, empty the
cart. A repeated request with the same idempotency key returns the same order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.cart.models import Cart, CartLine
from shop.cart.pricing import AdjustmentKind, PricingContext, adjusters, price_cart
from shop.catalog.models import Product
from shop.core.errors import InsufficientStock, ShopError
from shop.orders import signals
from shop.orders.models import ADDRESS_FIELDS, EventKind, Order, OrderAdjustment, OrderLine, ShippingMethod
from shop.orders.services import order_event, order_mark_paid


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""
    phone: str = ""


class EmptyCart(ShopError):
    code = "empty_cart"


def idempotency_scope(*, user, cart: Cart) -> str:
    return f"user:{user.pk}" if user is not None else f"cart:{cart.token}"


def checkout_place(
    *, cart: Cart, user, email: str, address: ShippingAddress, shipping_method: str, idempotency_key: str = ""
) -> tuple[Order, bool]:
    """Place an order from the cart. Returns (order, created); a repeat of the same key returns the first order."""
    if shipping_method not in ShippingMethod.values:
        raise ShopError(_("Choose a shipping method."), field="shipping_method")
    scope = idempotency_scope(user=user, cart=cart)
    existing = _existing(scope, idempotency_key)
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            # The cart lock serialises checkouts of one cart (a double click, two
            # tabs); once we hold it, look again: the other one may have finished.
            Cart.objects.select_for_update().get(pk=cart.pk)
            existing = _existing(scope, idempotency_key)
            if existing:
                return existing, False
            order = _place(cart, user, email, address, shipping_method, scope, idempotency_key)
    except IntegrityError:
        # Two requests with one key raced past the checks: the other one won.
        existing = _existing(scope, idempotency_key)
        if existing:
            return existing, False
        raise
    if order.total <= 0:
        # Discounts or points paid for everything: nothing to charge (and Stripe refuses a zero amount).
        order, _changed = order_mark_paid(order_id=order.pk, amount=order.total_money, reference="nothing-to-pay")
    return order, True


def _existing(scope: str, key: str) -> Order | None:
    if not key:
        return None
    return Order.objects.filter(idempotency_scope=scope, idempotency_key=key).first()


def _place(cart, user, email, address, shipping_method, scope, key) -> Order:
    lines = list(CartLine.objects.filter(cart=cart).order_by("product_id"))
    if not lines:
        raise EmptyCart(_("Your cart is empty."))
    _take_stock(lines)
    products = Product.objects.in_bulk([line.product_id for line in lines])
    for line in lines:
        line.product = products[line.product_id]  # prices as they are now, inside the transaction
    priced = price_cart(cart, customer=user, shipping_method=shipping_method, lines=lines)
    now = timezone.now()
    order = Order.objects.create(
        user=user,
        email=email.strip().lower(),
        currency=priced.currency,
        subtotal=priced.subtotal.amount,
        discount_total=-sum((a.amount.amount for a in priced.adjustments if a.kind != AdjustmentKind.SHIPPING), 0),
        shipping_total=sum((a.amount.amount for a in priced.adjustments if a.kind == AdjustmentKind.SHIPPING), 0),
        total=priced.total.amount,
        shipping_method=shipping_method,
        **{f"shipping_{name}": getattr(address, name) for name in ADDRESS_FIELDS},
        idempotency_scope=scope,
        idempotency_key=key,
        cart_token=cart.token if user is None else None,
        placed_at=now,
        expires_at=now + dt.timedelta(minutes=settings.SHOP_ORDER_PAYMENT_MINUTES),
    )
    shares: dict = {}
    for adjustment in priced.adjustments:
        for line_id, share in adjustment.allocations:
            shares[line_id] = shares.get(line_id, 0) + share
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product_id=pl.product.pk,
                sku=pl.product.sku,
                name=pl.product.name,
                unit_price=pl.unit_price.amount,
                quantity=pl.quantity,
                subtotal=pl.total.amount,
                discount=shares.get(pl.line_id, 0),
            )
            for pl in priced.lines
        ]
    )
    OrderAdjustment.objects.bulk_create(
        [
            OrderAdjustment(
                order=order, kind=a.kind, label=a.label, amount=a.amount.amount, source=a.source, reference=a.reference
            )
            for a in priced.adjustments
        ]
    )
    order_event(order=order, kind=EventKind.PLACED)
    context = PricingContext(cart=cart, customer=user, shipping_method=shipping_method)
    for adjuster in adjusters():
        source = getattr(adjuster, "source", "")
        adjuster.commit(order, [a for a in priced.adjustments if a.source == source], context)
    CartLine.objects.filter(cart=cart).delete()
    transaction.on_commit(lambda: signals.order_placed.send(sender=Order, order_id=order.pk))
    return order


def _take_stock(lines: list[CartLine]) -> None:
    """Guarded decrements in product-id order: concurrent checkouts queue on the same rows
    in the same order (no deadlock), and a row only changes if enough is left (no oversell)."""
    for line in lines:
        taken = Product.objects.filter(pk=line.product_id, is_active=True, stock__gte=line.quantity).update(
            stock=F("stock") - line.quantity
        )
        if taken != 1:
            product = Product.objects.filter(pk=line.product_id).first()
            raise InsufficientStock(_stock_message(product, line.quantity), field="cart")


def _stock_message(product: Product | None, wanted: int) -> str:
    if product is None or not product.is_active:
        return _("A product in your cart is no longer sold. Remove it and try again.")
    if product.stock == 0:
        return _("“%(name)s” just sold out. Remove it from your cart to continue.") % {"name": product.name}
    return ngettext(
        "Only %(count)d of “%(name)s” is left; lower the quantity to continue.",
        "Only %(count)d of “%(name)s” are left; lower the quantity to continue.",
        product.stock,
    ) % {"count": product.stock, "name": product.name}
