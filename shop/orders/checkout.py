"""Turning a cart into an order (docs/architecture.md, "Checkout and payment", step 1).

One transaction: lock the cart, its lines and their products (in product-id
order) while reading them, take the stock with guarded conditional updates,
price the cart, write the order with snapshots of its lines and adjustments, let
each adjuster claim what it used, empty the cart. A fixed number of statements,
whatever the number of lines (tests/test_checkout_queries.py). A repeated
request with the same idempotency key returns the same order.

Unpaid orders hold their stock until they expire, so checkout also limits how
many unpaid orders one customer, one email and one client may hold at once, and
how many orders one client may place per hour (docs/deploy.md, "Limits").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import operator
from dataclasses import dataclass
from functools import reduce

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.cart.models import Cart, CartLine
from shop.cart.pricing import AdjustmentKind, PricingContext, adjusters, price_cart
from shop.cart.snapshot import carts_changed
from shop.catalog.models import Product, Variant, VariantOption
from shop.core import ratelimit
from shop.core.errors import Conflict, InsufficientStock, RateLimited, ShopError
from shop.core.tracking import track
from shop.orders import selectors, signals
from shop.orders.models import (
    ADDRESS_FIELDS,
    UNPAID,
    EventKind,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderLine,
    ShippingMethod,
)
from shop.orders.services import order_cancel, order_event, order_mark_paid

log = logging.getLogger(__name__)


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


class TooManyOpenOrders(Conflict):
    """409, not 429: waiting is not the remedy, paying for or cancelling an open order is.

    `order_ids` are every open order that counted (the view shows the requester
    only those they may see: an email or a client address alone proves nothing).
    """

    code = "too_many_open_orders"

    def __init__(self, message, *, order_ids: list[int]):
        super().__init__(message)
        self.order_ids = order_ids


class CheckoutThrottled(RateLimited):
    code = "checkout_throttled"


def idempotency_scope(*, user, cart: Cart) -> str:
    return f"user:{user.pk}" if user is not None else f"cart:{cart.token}"


def checkout_place(
    *,
    cart: Cart,
    user,
    email: str,
    address: ShippingAddress,
    shipping_method: str,
    idempotency_key: str = "",
    client: str | None = "",
) -> tuple[Order, bool]:
    """Place an order from the cart. Returns (order, created); a repeat of the same key returns the first order.

    client: who is asking (shop.core.ratelimit.client_ip); with it, the per-client
    limits apply (without it, as when the server gives no address, only the others
    do). A repeat of a key that already made an order is never limited.
    Raises TooManyOpenOrders (409) or CheckoutThrottled (429).
    """
    if shipping_method not in ShippingMethod.values:
        raise ShopError(_("Choose a shipping method."), field="shipping_method")
    scope = idempotency_scope(user=user, cart=cart)
    _check_throttle(client, scope, idempotency_key)
    email = normalize_email(email)
    client_digest = _client_digest(client)
    try:
        with transaction.atomic():
            order = _place(cart, user, email, address, shipping_method, scope, idempotency_key, client_digest)
    except IntegrityError:
        # The key already made an order: a retry after the cart was filled again, or
        # two requests with one key that raced past each other. The first one stands.
        existing = _existing(scope, idempotency_key)
        if existing:
            return existing, False
        raise
    if order is None:
        # The cart is empty: maybe a checkout of it (a double click, another tab) finished
        # while this one waited for the locks. A repeat of its key gets its order.
        existing = _existing(scope, idempotency_key)
        if existing:
            return existing, False
        raise EmptyCart(_("Your cart is empty."))
    limit, period = settings.SHOP_CHECKOUT_RATE
    if client and limit:
        ratelimit.record_attempt(_throttle_key(client), period=period)
    track("place_order", order_id=order.pk, value=order.total_money)  # committed: outside the transaction
    if order.total <= 0:
        # Discounts or points paid for everything: nothing to charge (and Stripe refuses a zero amount).
        order, _changed = order_mark_paid(order_id=order.pk, amount=order.total_money, reference="nothing-to-pay")
    return order, True


def _existing(scope: str, key: str) -> Order | None:
    if not key:
        return None
    return Order.objects.filter(idempotency_scope=scope, idempotency_key=key).first()


def normalize_email(email: str) -> str:
    """One spelling per mailbox as far as the limits go: case and surrounding spaces do not make a new one."""
    return email.strip().lower()


# --- limits on open orders and on placing orders -----------------------------------------------------------------


def open_orders(*, now=None):
    """Unpaid orders that still hold stock: not paid, not closed, not past their deadline.

    An order past its deadline gives its stock back at the next expiry run (a
    minute), so it no longer counts: a stalled expiry job must not lock shoppers out.
    """
    now = now or timezone.now()
    return Order.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), status__in=UNPAID)


def _client_digest(client: str | None) -> str:
    """The client address as stored on the order's "placed" event: keyed hash, so the timeline keeps no address."""
    if not client:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"checkout-client:{client}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _throttle_key(client: str) -> str:
    return f"checkout:{client}"


def _check_throttle(client: str | None, scope: str, key: str) -> None:
    """Outside the transaction: the counter is in the cache, which may be across the network.

    A repeat of a key that already made an order is never limited."""
    limit, _period = settings.SHOP_CHECKOUT_RATE
    if client and limit and ratelimit.is_limited(_throttle_key(client), limit=limit) and not _existing(scope, key):
        raise CheckoutThrottled(
            _("Too many orders were placed from your connection in the last hour. Please wait and try again later.")
        )


def _open_order_checks(*, user, email: str, client_digest: str) -> dict[str, tuple[Q, int]]:
    """The limits on open orders that apply to this checkout: {lock key: (which orders count, limit)}."""
    per_person, per_client = settings.SHOP_MAX_OPEN_ORDERS, settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT
    checks: dict[str, tuple[Q, int]] = {}
    if per_person and user is not None:
        checks[f"user:{user.pk}"] = (Q(user=user), per_person)
    if per_person and email:
        checks[f"email:{email}"] = (Q(email=email), per_person)
    if per_client and client_digest:
        # From the few open orders to their "placed" event (indexed by order), not the other way round.
        placed = OrderEvent.objects.filter(order=OuterRef("pk"), kind=EventKind.PLACED, data__client=client_digest)
        checks[f"client:{client_digest}"] = (Q(Exists(placed)), per_client)
    return checks


def _check_open_orders(checks: dict[str, tuple[Q, int]]) -> None:
    """Inside the checkout transaction, before any stock is taken; the counts are one query.

    Counting then inserting is a read-check-write: two checkouts with one email
    could both count 2 of 3 and both place. So each takes a transaction lock per
    customer, email and client first (in a fixed order: no deadlock; _locked_lines
    takes them), and the second counts after the first committed. On SQLite the
    IMMEDIATE transaction already serialises every checkout.
    """
    if not checks:
        return
    held = open_orders(now=timezone.now())
    names = {key: f"n{i}" for i, key in enumerate(checks)}
    counts = held.filter(reduce(operator.or_, (q for q, _limit in checks.values()))).aggregate(
        **{names[key]: Count("pk", filter=q) for key, (q, _limit) in checks.items()}
    )
    for key, (q, limit) in checks.items():
        if counts[names[key]] >= limit:
            ids = list(held.filter(q).values_list("pk", flat=True)[:limit])
            raise TooManyOpenOrders(
                ngettext(
                    "You already have %(count)d unpaid order. Pay for it or cancel it before placing another.",
                    "You already have %(count)d unpaid orders. Pay for one or cancel one before placing another.",
                    len(ids),
                )
                % {"count": len(ids)},
                order_ids=ids,
            )


def order_cancel_unpaid(*, order_id: int, actor=None) -> Order:
    """The shopper gives up an unpaid order: its stock comes back at once (and it stops counting against the limits).

    Only unpaid orders: a paid one is for staff to cancel and refund. The order
    row is locked throughout, so a payment arriving meanwhile waits, finds the
    order cancelled and is refunded like any payment for a closed order.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.is_unpaid:
            raise Conflict(
                _("This order is %(status)s: it can no longer be cancelled here.")
                % {"status": order.get_status_display().lower()}
            )
        order = order_cancel(order_id=order_id, actor=actor, message=_("Cancelled by the customer."))
        # After commit, outside any lock: the open payment can no longer take money.
        transaction.on_commit(lambda: _cancel_open_payment(order))
    return order


def _cancel_open_payment(order: Order) -> None:
    from shop.orders.payment import gateway

    try:
        gateway().cancel(order=order)
    except Exception:  # best effort, as on expiry: a payment that still arrives is refunded
        log.info("Could not cancel the payment of cancelled order %s", order.number, exc_info=True)


def _advisory_locks(keys) -> RawSQL | None:
    """An expression that takes PostgreSQL advisory locks, held to the end of the transaction, in id
    order (a hash collision only makes two checkouts wait); None where there are none to take."""
    if connection.vendor != "postgresql" or not keys:
        return None
    ids = sorted(int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True) for k in keys)
    return RawSQL("(SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k)", (ids,))


def _place(cart, user, email, address, shipping_method, scope, key, client_digest) -> Order | None:
    """The order, or None if the cart is empty."""
    checks = _open_order_checks(user=user, email=email, client_digest=client_digest)
    lines = _locked_lines(cart, lock_keys=list(checks))
    if not lines:
        return None
    _check_open_orders(checks)
    _take_stock(lines)
    # Priced here, inside the transaction, with the products as they are now: what is charged.
    priced = price_cart(cart, customer=user, shipping_method=shipping_method, lines=lines)
    now = timezone.now()
    order = Order.objects.create(
        user=user,
        email=email,
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
    variants = {line.pk: line.variant for line in lines}
    order_lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product=pl.product,
                variant=variants[pl.line_id],
                sku=variants[pl.line_id].sku,
                options=_options(pl.product, variants[pl.line_id]),
                name=pl.product.name,
                unit_price=pl.unit_price.amount,
                quantity=pl.quantity,
                subtotal=pl.total.amount,
                discount=shares.get(pl.line_id, 0),
            )
            for pl in priced.lines
        ]
    )
    adjustments = OrderAdjustment.objects.bulk_create(
        [
            OrderAdjustment(
                order=order, kind=a.kind, label=a.label, amount=a.amount.amount, source=a.source, reference=a.reference
            )
            for a in priced.adjustments
        ]
    )
    # The client (hashed) is what the per-client limit of open orders counts.
    order_event(order=order, kind=EventKind.PLACED, data={"client": client_digest} if client_digest else None)
    # The commits see what this pricing read (its memo: the cart's code, the member's facts), in
    # this transaction, instead of reading it again.
    context = PricingContext(cart=cart, customer=user, shipping_method=shipping_method, memo=priced.memo)
    for adjuster in adjusters():
        source = getattr(adjuster, "source", "")
        adjuster.commit(order, [a for a in priced.adjustments if a.source == source], context)
    CartLine.objects.filter(pk__in=[line.pk for line in lines]).delete()
    carts_changed([cart.pk])
    transaction.on_commit(lambda: signals.order_placed.send(sender=Order, order_id=order.pk, user_id=order.user_id))
    # What was just written comes with the order: showing it reads nothing again
    # (selectors.order_with_details_again), nor does the gateway look for payments it cannot have.
    selectors.carry(order, lines=order_lines, adjustments=adjustments, payments=[])
    return order


def _locked_lines(cart: Cart, *, lock_keys: list[str]) -> list[CartLine]:
    """The cart's lines with their products (and the categories pricing reads), locked, in one query.

    First the advisory locks of the limits on open orders (`lock_keys`, see _check_open_orders):
    PostgreSQL computes the select list, which takes them, below the row locking. Then each row
    locks the cart, the line and the product (in the order of FOR UPDATE OF), rows in
    product-id order. The cart lock serialises checkouts of one cart and changes to it
    (shop.cart.services.cart_add locks it first too); concurrent checkouts queue on shared
    products in the same order (no deadlock), and the stock read here is what is left until
    commit. A checkout of this cart that committed while this one waited has deleted the
    lines: they are not returned (an empty cart takes no lock, and writes nothing).
    """
    lines = (
        CartLine.objects.filter(cart=cart)
        .select_related("cart", "product__category", "variant")
        .select_for_update(of=("cart", "self", "product", "variant"))
        .order_by("product_id", "variant_id")
    )
    locks = _advisory_locks(lock_keys)
    lines = list(lines if locks is None else lines.annotate(limits_locked=locks))
    # Options come from a product type's variant attributes: read (one query) only when a line has some.
    typed = [line.variant for line in lines if line.product.product_type_id is not None]
    if typed:
        options = VariantOption.objects.select_related("attribute", "value")
        prefetch_related_objects(typed, Prefetch("options", queryset=options))
    return lines


def _options(product: Product, variant: Variant) -> dict[str, str]:
    return variant.options_snapshot() if product.product_type_id is not None else {}


def _take_stock(lines: list[CartLine]) -> None:
    """Take the stock of the locked variants: a row only changes if enough is left (no oversell).

    Stock is taken from each line's variant, then the same quantity from its product, whose stock
    is the sum of its active variants' (shop.catalog.models.Product), in this same transaction.
    One guarded update per quantity and table (usually one each for the whole cart); each line's
    variant and product have their stock as it is now, for pricing and for the message if it is short."""
    for line in lines:
        product, variant = line.product, line.variant
        if not (product.is_active and variant.is_active) or variant.stock < line.quantity:
            raise InsufficientStock(_stock_message(product, line.quantity, stock=variant.stock), field="cart")
    _take(Variant, {line.variant_id: line.quantity for line in lines})
    per_product: dict[int, int] = {}
    for line in lines:
        per_product[line.product_id] = per_product.get(line.product_id, 0) + line.quantity
    _take(Product, per_product)
    for line in lines:
        line.variant.stock -= line.quantity
        line.product.stock -= line.quantity


def _take(model, quantities: dict[int, int]) -> None:
    """One guarded update per quantity: a row only changes if enough is left, and every row must change."""
    by_quantity: dict[int, list[int]] = {}
    for pk, quantity in quantities.items():
        by_quantity.setdefault(quantity, []).append(pk)
    for quantity, pks in by_quantity.items():
        taken = model.objects.filter(pk__in=pks, is_active=True, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if taken != len(pks):  # cannot happen under the locks; the check constraint is the last guard
            raise InsufficientStock(_("A product in your cart just sold out. Try again."), field="cart")


def _stock_message(product: Product | None, wanted: int, *, stock: int | None = None) -> str:
    """stock: what is left of the variant in the cart (the product's, if not given)."""
    if product is None or not product.is_active:
        return _("A product in your cart is no longer sold. Remove it and try again.")
    stock = product.stock if stock is None else stock
    if stock == 0:
        return _("“%(name)s” just sold out. Remove it from your cart to continue.") % {"name": product.name}
    return ngettext(
        "Only %(count)d of “%(name)s” is left; lower the quantity to continue.",
        "Only %(count)d of “%(name)s” are left; lower the quantity to continue.",
        stock,
    ) % {"count": stock, "name": product.name}
