"""Demo order history: a year of orders that follow each customer's hidden tastes.

About ORDERS_PER_SCALE orders per --scale unit over the 12 months ending now,
written straight through the real models with bulk_create:

* When: more in November and December (Black Friday, the run-up to Christmas),
  a summer dip, busier weekends, mostly daytime and evening hours (in the
  store's TIME_ZONE), and a little growth over the year.
* Who: a long tail of repeat customers (each has a fixed "activity" drawn from
  a heavy-tailed distribution: many buy once, a few buy often), never before
  they signed up.
* What: 1-4 lines, mostly from the customer's tastes
  (shop.catalog.demo.customer_tastes) with companion categories bought
  together, popular products more often, never a product before it existed;
  of a product in sizes and colours, one of its variants (the well-stocked
  ones more often), its SKU and options kept on the line as checkout keeps
  them; prices are the variants' current prices, shipping follows
  settings.SHOP_SHIPPING_METHODS, total = subtotal + shipping.
* How it went: each order gets the timeline it would have had (placed, paid,
  shipped with a carrier and tracking number, delivered, refunded...), cut off
  at now, so recent orders are still paid or shipped. Paid orders have a
  succeeded Payment ("pi_demo_<number>"), refunds a Refund ("re_demo_<number>").

Each order is identified by (idempotency_scope="demo", idempotency_key) and
drawn from a generator seeded by that key alone, so a rerun creates nothing
and a larger --scale adds only the missing keys. Stock is left alone (the
history is past), except for the two orders still awaiting payment, which hold
their stock as a real checkout does (from each line's variant and the same from
its product, whose stock is the sum of its active variants') so that expiring
them later gives back exactly what they took.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import math
import random
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import NormalDist
from typing import TypeVar

from django.conf import settings
from django.db import reset_queries
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from shop.accounts.models import Address, User
from shop.cart.pricing import AdjustmentKind
from shop.catalog.demo import AFFINITIES, customer_tastes, leaf_slugs
from shop.catalog.models import Product, Variant, VariantOption
from shop.core.demo import DemoContext
from shop.core.money import Money, quantize
from shop.orders.models import (
    NUMBER_ALPHABET,
    EventKind,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderLine,
    OrderStatus,
    ShippingMethod,
)
from shop.orders.shipping import methods, shipping_price
from shop.payments.models import Payment, Refund

ORDERS_PER_SCALE = 2000
SCOPE = "demo"
HISTORY_DAYS = 365
BATCH = 1000
T = TypeVar("T")
SHOPPER = "shopper@example.com"
STAFF = "admin@example.com"

S = OrderStatus
E = EventKind

# Seasonality: relative orders per day.
MONTHS = {1: 0.85, 2: 0.8, 3: 0.9, 4: 0.95, 5: 0.95, 6: 0.8, 7: 0.72, 8: 0.76, 9: 0.95, 10: 1.0, 11: 1.35, 12: 1.6}
WEEKDAYS = [1.0, 0.95, 0.95, 1.0, 1.05, 1.3, 1.35]  # Monday first
HOURS = [
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.2, 0.45, 0.7, 0.9, 1.0, 1.05,
    1.15, 1.1, 1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.4, 1.25, 0.85, 0.4,
]  # fmt: skip
CUM_HOURS = list(itertools.accumulate(HOURS))
GROWTH = 0.25  # the last day of the year sells this much more than the first

LINES = [1, 2, 3, 4]
LINE_WEIGHTS = [52, 28, 13, 7]
TASTE_SHARE = 0.88  # of lines from the customer's tastes; the rest is browsing
COMPANION_SHARE = 0.45  # chance a second line is the first line's companion category
EXPRESS_SHARE = 0.12

# Fates, by share of orders (the rest live a normal life: paid, shipped, delivered).
CANCELLED_SHARE = 0.03
EXPIRED_SHARE = 0.01
REFUNDED_SHARE = 0.02
PARTIAL_SHARE = 0.015
DECLINED_SHARE = 0.02  # a first card declined, then paid (or, for expired orders, never)

CARRIERS = {
    # country: ([standard carriers], [express carriers])
    "US": (["USPS", "UPS", "USPS"], ["FedEx", "UPS"]),
    "CA": (["Canada Post"], ["UPS", "FedEx"]),
    "GB": (["Royal Mail"], ["DHL Express"]),
    "DE": (["DHL"], ["DHL Express"]),
    "FR": (["Colissimo"], ["DHL Express"]),
}
RETURN_REASONS = [
    "Returned: did not fit",
    "Returned: not as pictured",
    "Returned: changed their mind",
    "Arrived damaged",
    "Returned: ordered the wrong size",
]
UNSHIPPED_REFUND_REASONS = ["Out of stock at the warehouse", "Could not ship to this address"]
CANCEL_MESSAGES = ["Cancelled by the customer", "Cancelled by the customer before paying", ""]

# The demo shopper's own history: (key, days ago, fate).
SHOPPER_ORDERS = [
    ("demo-shopper-0", 290, "delivered"),
    ("demo-shopper-1", 150, "partial"),
    ("demo-shopper-2", 95, "cancelled"),
    ("demo-shopper-3", 60, "refunded"),
    ("demo-shopper-4", 14, "delivered"),
    ("demo-shopper-5", 4.5, "shipped"),
    ("demo-shopper-6", 0.2, "paid"),
]
PENDING_ORDERS = ["demo-pending-0", "demo-pending-1"]


def seed(ctx: DemoContext) -> None:
    keys = [f"demo-{i}" for i in range(ORDERS_PER_SCALE * ctx.scale)]
    existing = set(Order.objects.filter(idempotency_scope=SCOPE).values_list("idempotency_key", flat=True))
    missing = [k for k in itertools.chain(keys, (k for k, *_r in SHOPPER_ORDERS), PENDING_ORDERS) if k not in existing]
    ctx.log(f"orders: {len(existing):,} present, adding {len(missing):,}")
    if not missing:
        return
    world = World.load(ctx)
    if not world.customers or not world.categories:
        ctx.log("orders: no demo customers or products, skipped")
        return
    missing = set(missing)
    # Insert in time order (ids then follow placed_at); each order's generator
    # is seeded by its key alone, so drawing its time now and the rest later agrees.
    main = sorted((world.placed_at(random.Random(world.seed_of(k))), k) for k in keys if k in missing)
    created = 0
    with _collect_per_batch():
        for batch in ctx.batches(main, BATCH, "orders"):
            created += _insert(ctx, world, [world.draft(key, random.Random(world.seed_of(key))) for _t, key in batch])
            reset_queries()  # with DEBUG on, Django keeps every query's SQL: thousands of huge inserts
            gc.collect(1)
    special = itertools.chain(_shopper_drafts(world), _pending_drafts(world))
    created += _insert(ctx, world, [d for d in special if d.order.idempotency_key in missing])
    ctx.log(f"orders: added {created:,}")


# --- The world the orders are drawn from --------------------------------------------------------------------


@dataclass
class Customer:
    id: int
    email: str
    joined: dt.datetime
    address: dict
    tastes: list[tuple[str, float]]
    leaves: dt.datetime | None = None  # after this a customer buys no more (None: stays)


@dataclass
class VariantRow:
    id: int
    sku: str
    price: Decimal  # its own, or its product's
    stock: int
    is_active: bool
    options: dict[str, str]  # {"Colour": "Blue", "Size": "M"}; empty for a product without options


@dataclass
class ProductRow:
    id: int
    sku: str
    name: str
    price: Decimal
    created_at: dt.datetime
    is_active: bool
    variants: list[VariantRow] = field(default_factory=list)  # in the order shown


@dataclass
class Category:
    products: list[ProductRow]  # oldest first
    cum_weights: list[float]


@dataclass
class Draft:
    """One order and everything that hangs off it, not saved yet."""

    order: Order
    lines: list[OrderLine]
    adjustments: list[OrderAdjustment]
    events: list[OrderEvent]
    payments: list[Payment] = field(default_factory=list)
    refunds: list[tuple[Refund, str]] = field(default_factory=list)  # with the intent id it refunds
    takes_stock: bool = False


@dataclass
class World:
    ctx: DemoContext
    now: dt.datetime
    customers: list[Customer]
    cum_activity: list[float]
    categories: dict[str, Category]
    shopper: Customer | None
    staff_id: int | None
    currency: str
    days: list[dt.date]
    cum_days: list[float]

    @classmethod
    def load(cls, ctx: DemoContext) -> World:
        now = timezone.now()
        addresses = {
            a["user_id"]: a
            for a in Address.objects.filter(is_default=True).values(
                "user_id", "full_name", "line1", "line2", "city", "region", "postal_code", "country", "phone"
            )
        }

        def customer(row) -> Customer | None:
            address = addresses.get(row["id"])
            if address is None:
                return None
            address = {k: v for k, v in address.items() if k != "user_id"}
            address["name"] = address.pop("full_name")
            since = max(row["date_joined"], now - dt.timedelta(days=HISTORY_DAYS))
            tastes = customer_tastes(row["email"])
            return Customer(row["id"], row["email"], row["date_joined"], address, tastes, _leaves(row["email"], since))

        rows = User.objects.filter(email__endswith="@example.net").order_by("id").values("id", "email", "date_joined")
        customers = [c for c in map(customer, rows) if c]
        shopper_row = User.objects.filter(email=SHOPPER).values("id", "email", "date_joined").first()
        staff_id = User.objects.filter(email=STAFF).values_list("id", flat=True).first()
        # A heavy-tailed appetite per customer, fixed by the email: many buy once, a few often.
        # (A lognormal, capped: the keenest buy a few dozen times a year, not hundreds.)
        normal = NormalDist(0, 1.1)
        activity = [min(normal.inv_cdf(_unit(f"activity:{c.email}")), 2.6) for c in customers]
        products: dict[str, list[ProductRow]] = defaultdict(list)
        by_id = {}
        for p in Product.objects.filter(category__slug__in=leaf_slugs()).values(
            "id", "sku", "name", "price", "created_at", "is_active", "category__slug"
        ):
            slug = p.pop("category__slug")
            products[slug].append(by_id.setdefault(p["id"], ProductRow(**p)))
        _load_variants(by_id)
        categories = {}
        for slug, rows in products.items():
            rows.sort(key=lambda p: (p.created_at, p.id))
            # Within a category a few products sell far more than the rest.
            weights = [(1 / (_unit(f"popularity:{p.sku}") + 0.02)) ** 0.8 * (1 if p.is_active else 0.4) for p in rows]
            categories[slug] = Category(rows, list(itertools.accumulate(weights)))
        days, day_weights = _calendar(now)
        return cls(
            ctx=ctx,
            now=now,
            customers=customers,
            cum_activity=list(itertools.accumulate(math.exp(a) for a in activity)),
            categories=categories,
            shopper=customer(shopper_row) if shopper_row else None,
            staff_id=staff_id,
            currency=settings.SHOP_CURRENCY,
            days=days,
            cum_days=list(itertools.accumulate(day_weights)),
        )

    def seed_of(self, key: str) -> str:
        return f"{self.ctx.seed}:orders:{key}"

    # --- drawing one order ---

    def placed_at(self, rng: random.Random) -> dt.datetime:
        """The first draws of an order's generator: when it was placed."""
        start = self.now - dt.timedelta(days=HISTORY_DAYS)
        tz = timezone.get_current_timezone()
        while True:
            day = rng.choices(self.days, cum_weights=self.cum_days)[0]
            hour = rng.choices(range(24), cum_weights=CUM_HOURS)[0]
            moment = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
            if start <= moment <= self.now:
                return moment

    def draft(self, key: str, rng: random.Random) -> Draft:
        placed = self.placed_at(rng)
        customer = self._customer(rng, placed)
        fate = _fate(rng)
        unpaid_window = dt.timedelta(minutes=settings.SHOP_ORDER_PAYMENT_MINUTES + 15)
        if self.now - placed < unpaid_window and fate in ("cancelled", "expired"):
            fate = "delivered"  # an unpaid order this recent would still be pending: only the chosen few are
        return self._build(key, rng, customer, placed, fate)

    def _customer(self, rng: random.Random, placed: dt.datetime) -> Customer:
        for _attempt in range(12):
            customer = rng.choices(self.customers, cum_weights=self.cum_activity)[0]
            if customer.joined <= placed and (customer.leaves is None or placed <= customer.leaves):
                return customer
        return min(self.customers, key=lambda c: c.joined)

    def _basket(self, rng: random.Random, customer: Customer, placed: dt.datetime, *, in_stock=False):
        """[(product, quantity)]: mostly the customer's tastes, companions together, distinct products."""
        slugs = [s for s in leaf_slugs() if s in self.categories]
        taste_slugs = [s for s, _w in customer.tastes if s in self.categories] or slugs
        taste_weights = [w for s, w in customer.tastes if s in self.categories] or None
        count = rng.choices(LINES, weights=LINE_WEIGHTS)[0]
        chosen: dict[int, tuple[ProductRow, VariantRow, int]] = {}
        first_slug = None
        for n in range(count * 3):  # a few tries to find distinct products
            if len(chosen) == count:
                break
            if n and first_slug in AFFINITIES and rng.random() < COMPANION_SHARE:
                slug = AFFINITIES[first_slug]
            elif rng.random() < TASTE_SHARE:
                slug = rng.choices(taste_slugs, weights=taste_weights)[0]
            else:
                slug = rng.choice(slugs)
            if slug not in self.categories:
                continue
            product = self._product(rng, self.categories[slug], placed)
            first_slug = first_slug or slug
            quantity = rng.choices(LINES, weights=[60, 28, 9, 3] if product.price < 15 else [88, 9, 2, 1])[0]
            variant = _variant(rng, product, quantity if in_stock else 0)
            if variant is None or (in_stock and not product.is_active):
                continue
            chosen.setdefault(product.id, (product, variant, quantity))
        return list(chosen.values())

    def _product(self, rng: random.Random, category: Category, placed: dt.datetime) -> ProductRow:
        for _attempt in range(6):
            product = rng.choices(category.products, cum_weights=category.cum_weights)[0]
            if product.created_at <= placed:
                return product
        return category.products[0]  # the oldest

    def _build(self, key: str, rng: random.Random, customer: Customer, placed: dt.datetime, fate: str) -> Draft:
        basket = self._basket(rng, customer, placed, in_stock=fate == "pending")
        method = ShippingMethod.EXPRESS if rng.random() < EXPRESS_SHARE else ShippingMethod.STANDARD
        number = order_number(key)
        lines = [
            _new(
                OrderLine,
                product_id=p.id,
                variant_id=v.id,
                sku=v.sku,
                options=v.options,
                name=p.name,
                unit_price=v.price,
                quantity=q,
                subtotal=quantize(v.price * q, self.currency),
            )
            for p, v, q in basket
        ]
        subtotal = sum((line.subtotal for line in lines), Decimal("0.00"))
        shipping = shipping_price(method, Money(subtotal, self.currency)).amount
        label = str(methods()[method]["label"])
        adjustment = _new(
            OrderAdjustment,
            kind=AdjustmentKind.SHIPPING,
            label=gettext("%(method)s: free") % {"method": label} if shipping == 0 else label,
            amount=shipping,
            source="shipping",
            reference=method,
        )
        order = _new(
            Order,
            number=number,
            user_id=customer.id,
            email=customer.email,
            currency=self.currency,
            subtotal=subtotal,
            shipping_total=shipping,
            total=subtotal + shipping,
            shipping_method=method,
            **{f"shipping_{k}": v for k, v in customer.address.items()},
            idempotency_scope=SCOPE,
            idempotency_key=key,
            placed_at=placed,
        )
        draft = Draft(order, lines, [adjustment], [], takes_stock=fate == "pending")
        Timeline(self, rng, draft).play(fate)
        return draft


def _load_variants(products: dict[int, ProductRow]) -> None:
    """The products' variants, with the options of those whose product has a type (one query each;
    the products are those of the demo's leaf categories)."""
    options: dict[int, dict[str, str]] = defaultdict(dict)
    typed = VariantOption.objects.filter(
        variant__product__category__slug__in=leaf_slugs(), variant__product__product_type__isnull=False
    )
    # In the order of Variant.options_snapshot(), which checkout keeps on its lines.
    for variant_id, attribute, value in typed.order_by("attribute__name", "id").values_list(
        "variant_id", "attribute__name", "value__name"
    ):
        options[variant_id][attribute] = value
    rows = Variant.objects.filter(product__category__slug__in=leaf_slugs()).order_by("product_id", "position", "id")
    for pk, product_id, sku, price, stock, is_active in rows.values_list(
        "id", "product_id", "sku", "price", "stock", "is_active"
    ):
        product = products[product_id]
        price = product.price if price is None else price
        product.variants.append(VariantRow(pk, sku, price, stock, is_active, options.get(pk, {})))


def _variant(rng: random.Random, product: ProductRow, needed: int) -> VariantRow | None:
    """The variant bought: the well-stocked sizes and colours more often. With `needed`, only an
    active variant with that many left (None if there is none)."""
    variants = product.variants
    if needed:
        variants = [v for v in variants if v.is_active and v.stock >= needed]
    if len(variants) <= 1:  # no draw: a product's single variant takes nothing from its order's generator
        return variants[0] if variants else None
    return rng.choices(variants, weights=[v.stock + 2 for v in variants])[0]


def _leaves(email: str, since: dt.datetime) -> dt.datetime | None:
    """When a customer stops buying, fixed by the email: six in ten leave some day (about eight months
    after they joined or the history began, on average; some within weeks), the rest stay. Without it
    no one would ever be lost, and the customers dashboard would have no churn to show."""
    if _unit(f"stays:{email}") < 0.4:
        return None
    months = -math.log(1 - _unit(f"leaves:{email}") * 0.999) * 8
    return since + dt.timedelta(days=30 * months)


def _fate(rng: random.Random) -> str:
    roll = rng.random()
    for fate, share in [
        ("cancelled", CANCELLED_SHARE),
        ("expired", EXPIRED_SHARE),
        ("refunded", REFUNDED_SHARE),
        ("partial", PARTIAL_SHARE),
    ]:
        if roll < share:
            return fate
        roll -= share
    return "delivered"


class Timeline:
    """Writes an order's events as they would have happened, up to its fate or now, whichever comes first."""

    def __init__(self, world: World, rng: random.Random, draft: Draft):
        self.world, self.rng, self.draft, self.order = world, rng, draft, draft.order
        self.intent = f"pi_demo_{self.order.number}"

    def event(self, kind: str, status: str, at: dt.datetime, message: str = "", data: dict | None = None, actor=None):
        self.order.status = status
        self.draft.events.append(
            _new(OrderEvent, kind=kind, status=status, created_at=at, message=message, data=data or {}, actor_id=actor)
        )
        self.order.updated_at = at

    def play(self, fate: str) -> None:
        o, rng, now = self.order, self.rng, self.world.now
        due = o.placed_at + dt.timedelta(minutes=settings.SHOP_ORDER_PAYMENT_MINUTES)
        o.expires_at = due
        self.event(E.PLACED, S.PENDING_PAYMENT, o.placed_at)
        if fate == "pending":
            return
        if fate == "cancelled":
            at = o.placed_at + dt.timedelta(minutes=rng.uniform(3, 50))
            self.event(E.CANCELLED, S.CANCELLED, at, rng.choice(CANCEL_MESSAGES))
            return
        declined = rng.random() < (DECLINED_SHARE if fate != "expired" else 0.3)
        at = o.placed_at + dt.timedelta(seconds=rng.uniform(15, 240))
        intent_created = o.placed_at
        if declined:
            at = min(at, now)
            self.draft.payments.append(self.payment(f"{self.intent}_declined", Payment.Status.FAILED, o.placed_at, at))
            self.event(E.PAYMENT_DECLINED, S.PAYMENT_FAILED, at, "Your card was declined.")
            intent_created = at
            at += dt.timedelta(minutes=rng.uniform(1, 15))
        if fate == "expired":
            self.event(E.EXPIRED, S.EXPIRED, due + dt.timedelta(minutes=rng.uniform(0.5, 10)))
            return
        paid = at if at <= now else self.draft.events[-1].created_at + (now - self.draft.events[-1].created_at) / 2
        o.paid_at, o.expires_at = paid, None
        self.draft.payments.append(self.payment(self.intent, Payment.Status.SUCCEEDED, intent_created, paid))
        self.event(E.PAID, S.PAID, paid, data={"reference": self.intent})
        if fate == "paid":
            return
        if fate == "refunded" and rng.random() < 0.3:  # refunded before it ever shipped
            self.refund(o.total, paid + dt.timedelta(hours=rng.uniform(1, 20)), rng.choice(UNSHIPPED_REFUND_REASONS))
            return
        shipped = _working_hours(paid + dt.timedelta(hours=rng.uniform(5, 52)), rng)
        if shipped > now:
            return
        o.carrier, o.tracking_number = self.carrier()
        self.event(
            E.SHIPPED,
            S.SHIPPED,
            shipped,
            f"{o.carrier} {o.tracking_number}",
            {"carrier": o.carrier, "tracking_number": o.tracking_number},
            actor=self.world.staff_id,
        )
        if fate == "shipped":
            return
        days = rng.uniform(1, 2) if o.shipping_method == ShippingMethod.EXPRESS else rng.uniform(2, 5)
        if o.shipping_country != "US":
            days += rng.uniform(2, 6)
        delivered = _working_hours(shipped + dt.timedelta(days=days), rng, start=9, end=20, sunday=False)
        if delivered > now:
            return
        self.event(E.DELIVERED, S.DELIVERED, delivered)
        returned = _working_hours(delivered + dt.timedelta(days=rng.uniform(3, 28)), rng)
        if fate == "refunded":
            self.refund(o.total, returned, rng.choice(RETURN_REASONS))
        elif fate == "partial":
            amount, reason = self.partial()
            self.refund(amount, returned, reason)

    def partial(self) -> tuple[Decimal, str]:
        """A part of the order back: one returned line (or unit), else a goodwill credit."""
        o, lines = self.order, self.draft.lines
        if len(lines) > 1:
            line = self.rng.choice(lines)
            return line.subtotal, f"Returned: {line.name}"
        if lines[0].quantity > 1:
            return lines[0].unit_price, f"Returned 1 × {lines[0].name}"
        amount = max(quantize(o.total * Decimal("0.2"), o.currency), Decimal("1.00"))
        return min(amount, o.total - Decimal("0.01")), "Goodwill credit: late delivery"

    def refund(self, amount: Decimal, at: dt.datetime, reason: str) -> None:
        if at > self.world.now or amount <= 0:
            return
        o = self.order
        refund_id = f"re_demo_{o.number}"
        o.amount_refunded = amount
        full = amount == o.total
        self.draft.refunds.append(
            (
                _new(
                    Refund,
                    refund_id=refund_id,
                    amount=amount,
                    currency=o.currency,
                    reason=reason,
                    created_by_id=self.world.staff_id,
                    created_at=at,
                ),
                self.intent,
            )
        )
        data = {"amount": str(amount), "reference": refund_id}
        kind, status = (E.REFUNDED, S.REFUNDED) if full else (E.PARTIALLY_REFUNDED, o.status)
        self.event(kind, status, at, reason, data, actor=self.world.staff_id)

    def payment(self, intent: str, status: str, created: dt.datetime, updated: dt.datetime) -> Payment:
        o = self.order
        return _new(
            Payment,
            intent_id=intent,
            client_secret=f"{intent}_secret_demo",
            amount_minor=Money(o.total, o.currency).to_minor_units(),
            currency=o.currency,
            status=status,
            created_at=created,
            updated_at=updated,
        )

    def carrier(self) -> tuple[str, str]:
        standard, express = CARRIERS.get(self.order.shipping_country, CARRIERS["US"])
        name = self.rng.choice(express if self.order.shipping_method == ShippingMethod.EXPRESS else standard)

        def digits(n: int) -> str:
            return "".join(self.rng.choices("0123456789", k=n))

        def letters(n: int) -> str:
            return "".join(self.rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ", k=n))

        tracking = {
            "UPS": lambda: "1Z" + "".join(self.rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=6)) + digits(10),
            "USPS": lambda: "9400" + digits(18),
            "FedEx": lambda: digits(12),
            "Canada Post": lambda: digits(16),
            "Royal Mail": lambda: letters(2) + digits(9) + "GB",
            "Colissimo": lambda: "6A" + digits(11),
        }.get(name, lambda: digits(10))()
        return name, tracking


def _working_hours(moment: dt.datetime, rng: random.Random, start=8, end=18, sunday=True) -> dt.datetime:
    """The first working moment at or after `moment` (store time): the warehouse sleeps at night and on Sundays."""
    local = timezone.localtime(moment)
    if local.hour < start:
        local = local.replace(hour=rng.randint(start, start + 3), minute=rng.randrange(60))
    while local.hour >= end or (sunday and local.weekday() == 6):
        local = (local + dt.timedelta(days=1)).replace(hour=rng.randint(start, start + 3), minute=rng.randrange(60))
    return local


# --- The two known kinds of special orders ------------------------------------------------------------------


def _shopper_drafts(world: World) -> list[Draft]:
    """The demo shopper's own history, one order in each state worth seeing."""
    if world.shopper is None:
        return []
    drafts = []
    for key, days_ago, fate in SHOPPER_ORDERS:
        rng = random.Random(world.seed_of(key))
        placed = world.now - dt.timedelta(days=days_ago, minutes=rng.uniform(0, 90))
        drafts.append(world._build(key, rng, world.shopper, placed, fate))
    return drafts


def _pending_drafts(world: World) -> list[Draft]:
    """A couple of checkouts from the last hour, still awaiting payment (they hold their stock)."""
    drafts = []
    limit = min(50.0, settings.SHOP_ORDER_PAYMENT_MINUTES * 0.8)
    for key in PENDING_ORDERS:
        rng = random.Random(world.seed_of(key))
        placed = world.now - dt.timedelta(minutes=rng.uniform(2, limit))
        draft = world._build(key, rng, world._customer(rng, placed), placed, "pending")
        if draft.lines:
            drafts.append(draft)
    return drafts


# --- Writing -------------------------------------------------------------------------------------------------


def _insert(ctx: DemoContext, world: World, drafts: list[Draft]) -> int:
    drafts = [d for d in drafts if d.lines]
    taken = set(Order.objects.filter(number__in=[d.order.number for d in drafts]).values_list("number", flat=True))
    if taken:  # a real order drew the same number: leave that demo order out
        ctx.log(f"  orders: {len(taken)} number(s) already used, skipped")
        drafts = [d for d in drafts if d.order.number not in taken]
    if not drafts:
        return 0
    with _historical_timestamps():
        Order.objects.bulk_create([d.order for d in drafts])
        if any(d.order.pk is None for d in drafts):  # a database that does not return ids from bulk inserts
            ids = dict(
                Order.objects.filter(
                    idempotency_scope=SCOPE, idempotency_key__in=[d.order.idempotency_key for d in drafts]
                )
                .exclude(idempotency_key="")  # (lets SQLite use the partial unique index)
                .order_by()
                .values_list("idempotency_key", "id")
            )
            for d in drafts:
                d.order.pk = ids[d.order.idempotency_key]
        for d in drafts:
            for child in itertools.chain(d.lines, d.adjustments, d.events, d.payments):
                child.order_id = d.order.pk
        OrderLine.objects.bulk_create([x for d in drafts for x in d.lines])
        OrderAdjustment.objects.bulk_create([x for d in drafts for x in d.adjustments])
        OrderEvent.objects.bulk_create([x for d in drafts for x in d.events])
        payments = Payment.objects.bulk_create([x for d in drafts for x in d.payments])
        refunds = [(d, refund, intent) for d in drafts for refund, intent in d.refunds]
        if refunds:
            payment_ids = {p.intent_id: p.pk for p in payments}
            if None in payment_ids.values():
                intents = [intent for _d, _r, intent in refunds]
                payment_ids = dict(Payment.objects.filter(intent_id__in=intents).values_list("intent_id", "id"))
            for d, refund, intent in refunds:
                refund.order_id, refund.payment_id = d.order.pk, payment_ids[intent]
            Refund.objects.bulk_create([refund for _d, refund, _i in refunds])
    for d in drafts:
        if d.takes_stock:
            # As a checkout would: from the variant, guarded so that stock never goes below zero, and the
            # same from its product, whose stock is the sum of its active variants'.
            for line in d.lines:
                taken = Variant.objects.filter(pk=line.variant_id, is_active=True, stock__gte=line.quantity).update(
                    stock=F("stock") - line.quantity
                )
                if taken:
                    Product.objects.filter(pk=line.product_id, stock__gte=line.quantity).update(
                        stock=F("stock") - line.quantity
                    )
    return len(drafts)


@contextmanager
def _collect_per_batch():
    """Switch the cyclic garbage collector's automatic runs off (the caller collects after each batch).

    Making a million model instances would otherwise trigger thousands of
    collections that find next to nothing; this saves about a quarter of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _historical_timestamps():
    """Let bulk_create keep the timestamps we give instead of stamping now (auto_now / auto_now_add).

    The seeder runs alone in its management command, so switching the flags off
    for its inserts and back on afterwards affects nothing else.
    """
    fields = [
        Order._meta.get_field("updated_at"),
        Payment._meta.get_field("created_at"),
        Payment._meta.get_field("updated_at"),
        Refund._meta.get_field("created_at"),
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


# --- Helpers -------------------------------------------------------------------------------------------------


_FIELDS: dict[type, list] = {}


def _new(model: type[T], **values) -> T:
    """model(**values), but by position (as Django builds rows read from the database): several times
    faster than keyword arguments, which counts when making a million of them at --scale 50."""
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = [(f.attname, f) for f in model._meta.concrete_fields]
    unknown = values.keys() - {name for name, _f in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    return model(*[values[name] if name in values else f.get_default() for name, f in fields])


def order_number(key: str) -> str:
    """A demo order's number: 8 characters of NUMBER_ALPHABET, one per key, unique (a bijection of an index)."""
    size = len(NUMBER_ALPHABET) ** 8
    if key.startswith("demo-shopper-"):
        index = 2_000_000_000 + int(key.rsplit("-", 1)[1])
    elif key.startswith("demo-pending-"):
        index = 3_000_000_000 + int(key.rsplit("-", 1)[1])
    else:
        index = int(key.removeprefix("demo-"))
    value = (index * 387_420_489 + 123_456_789_012) % size  # 3**18 is coprime with 31**8: no two keys collide
    chars = []
    for _ in range(8):
        value, digit = divmod(value, len(NUMBER_ALPHABET))
        chars.append(NUMBER_ALPHABET[digit])
    return "".join(reversed(chars))


def _unit(text: str) -> float:
    """A number in (0, 1) fixed by the text."""
    return (int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") + 0.5) / 2**64


def _calendar(now: dt.datetime) -> tuple[list[dt.date], list[float]]:
    """The days of the last year (store time) and how busy each was."""
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=HISTORY_DAYS)
    days = [first + dt.timedelta(days=n) for n in range(HISTORY_DAYS + 1)]
    weights = []
    for n, day in enumerate(days):
        weight = MONTHS[day.month] * WEEKDAYS[day.weekday()] * (1 + GROWTH * n / HISTORY_DAYS)
        weight *= _holiday(day) * (0.9 + 0.2 * _unit(f"day:{day.isoformat()}"))
        weights.append(weight)
    return days, weights


def _holiday(day: dt.date) -> float:
    thanksgiving = _fourth_thursday_of_november(day.year)
    if day == thanksgiving + dt.timedelta(days=1):  # Black Friday
        return 3.0
    if day == thanksgiving + dt.timedelta(days=4):  # Cyber Monday
        return 2.5
    if thanksgiving < day < thanksgiving + dt.timedelta(days=4):
        return 1.7
    if day.month == 12:
        if day.day <= 20:
            return 1.15
        if day.day in (24, 25):
            return 0.55
    return 1.0


def _fourth_thursday_of_november(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    return first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)
