"""Demo promotions, and a history of their use on the demo orders (shop/orders/demo.py), for the admin to show.

* The promotions: shared codes (YALDA50, WELCOME10, FREESHIP, MIDSEASON15 which
  has ended, SHOES20 which has not started), automatic ones (dresses this
  weekend, 3-for-2 on beauty sponges, last Black Friday) and 200 single-use
  VIP- codes. Found by name (codes by their text), so a rerun creates nothing.
* The history: in each promotion's window, a share of the demo orders that
  qualify (~8% for a code, every one for an automatic promotion; one promotion
  per order) used it. Each gets what a checkout would have written: a
  Redemption, a discount OrderAdjustment, its lines' shares (adding up exactly,
  from the engine), lower discount_total/total and payments of the new total.
  Orders whose shipping would have changed with the discount, refunded ones
  and those still awaiting payment are left alone. An order of a cancelled or
  expired checkout keeps its discount, its redemption released.
* Counters (times_used) are set from the active redemptions, so they always match.

Picks depend on the order's key alone: orders put back by the orders seeder
get the same promotion again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Min
from django.utils import timezone

from marketing.discounts import engine, services
from marketing.discounts.models import CODE_ALPHABET, CodeBatch, DiscountCode, Promotion, Redemption
from shop.cart.pricing import AdjustmentKind, PricedCart, PricedLine
from shop.catalog.models import Category, Product
from shop.core.demo import DemoContext
from shop.core.money import Money
from shop.orders.models import PAID_STATES, Order, OrderAdjustment, OrderLine, OrderStatus
from shop.orders.shipping import shipping_price
from shop.payments.models import Payment

SCOPE = "demo"  # the orders seeder's idempotency scope
CODE_SHARE = 0.08
K = Promotion.Kind
D = Decimal
RELEASED_WHEN = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
SKIPPED_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.REFUNDED)
VIP_CODES = 200


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str
    value: Decimal
    days: tuple[float, float | None]  # window, in days from now
    code: str = ""  # a shared code
    batch: tuple[str, int] | None = None  # (prefix, count) of single-use codes
    categories: tuple[str, ...] = ()
    min_subtotal: Decimal | None = None
    max_discount: Decimal | None = None
    usage_limit: int | None = None
    per_customer: int | None = None
    first_order_only: bool = False
    buy_get: tuple[int, int] = (0, 0)
    priority: int = 0
    stackable: bool = True
    share: float = CODE_SHARE

    @property
    def automatic(self) -> bool:
        return not self.code and not self.batch


def specs(now: dt.datetime) -> list[Spec]:
    black_friday = (_black_friday(now) - now).total_seconds() / 86400
    return [
        Spec(
            "Black Friday: 20% off everything",
            K.PERCENTAGE,
            D(20),
            (black_friday, black_friday + 4),
            priority=20,
            stackable=False,
            share=1.0,
        ),
        Spec(
            "Yalda night: 50% off",
            K.PERCENTAGE,
            D(50),
            (-40, 7),
            code="YALDA50",
            min_subtotal=D(80),
            max_discount=D(60),
            usage_limit=500,
            priority=10,
            stackable=False,
        ),
        Spec("Mid-season sale: 15% off", K.PERCENTAGE, D(15), (-240, -150), code="MIDSEASON15"),
        Spec(
            "Welcome: 10% off your first order",
            K.PERCENTAGE,
            D(10),
            (-330, None),
            code="WELCOME10",
            first_order_only=True,
            per_customer=1,
            share=0.25,
        ),
        Spec("VIP: 15% off", K.PERCENTAGE, D(15), (-60, 30), batch=("VIP-", VIP_CODES)),
        Spec("Dress weekend: 10% off all dresses", K.PERCENTAGE, D(10), (-2, 2), categories=("dresses",), share=1.0),
        Spec(
            "Beauty sponges: buy 2, get 1 free",
            K.BUY_X_GET_Y,
            D(100),
            (-45, 15),
            categories=("beauty-sponges",),
            buy_get=(2, 1),
            share=1.0,
        ),
        Spec(
            "Free shipping over $30",
            K.FREE_SHIPPING,
            D(0),
            (-120, None),
            code="FREESHIP",
            min_subtotal=D(30),
            share=0.15,
        ),
        Spec(
            "Shoe week: 20% off shoes",
            K.PERCENTAGE,
            D(20),
            (20, 27),
            code="SHOES20",
            categories=("womens-shoes", "mens-shoes"),
        ),
    ]  # fmt: skip


def seed(ctx: DemoContext) -> None:
    now = timezone.now()
    promotions = [(spec, _promotion(ctx, spec, now)) for spec in specs(now)]
    ctx.log(f"promotions: {len(promotions)} ({Promotion.objects.count()} in all)")
    history = History.load(ctx, [p for _s, p in promotions])
    for spec, promotion in promotions:
        history.use(spec, promotion)
    written = history.write()
    _recount([p for _s, p in promotions])
    ctx.log(f"promotions: {written:,} orders newly used a promotion")


# --- The promotions --------------------------------------------------------------------------------------------


def _promotion(ctx: DemoContext, spec: Spec, now: dt.datetime) -> Promotion:
    start, end = spec.days
    promotion = Promotion.objects.filter(name=spec.name).first()
    if promotion is None:
        promotion = Promotion.objects.create(
            name=spec.name,
            kind=spec.kind,
            value=spec.value,
            buy_quantity=spec.buy_get[0],
            get_quantity=spec.buy_get[1],
            scope=Promotion.Scope.CATEGORIES if spec.categories else Promotion.Scope.ORDER,
            starts_at=_day(now, start),
            ends_at=_day(now, end) if end is not None else None,
            min_subtotal=spec.min_subtotal,
            max_discount=spec.max_discount,
            usage_limit=spec.usage_limit,
            usage_limit_per_customer=spec.per_customer,
            first_order_only=spec.first_order_only,
            requires_code=not spec.automatic,
            stackable=spec.stackable,
            priority=spec.priority,
        )
        if spec.categories:
            promotion.categories.set(Category.objects.filter(slug__in=spec.categories))
    if spec.code and not DiscountCode.objects.filter(code=spec.code).exists():
        DiscountCode.objects.create(promotion=promotion, code=spec.code)
    if spec.batch and not promotion.batches.exists():
        _batch(ctx, promotion, *spec.batch)
    return promotion


def _batch(ctx: DemoContext, promotion: Promotion, prefix: str, count: int) -> None:
    """Like services.batch_create, but drawn from the demo's seed (the same codes on every machine)."""
    rng = ctx.rng(f"discounts:batch:{promotion.name}")
    batch = CodeBatch.objects.create(promotion=promotion, prefix=prefix, length=8, count=count)
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(prefix + "".join(rng.choices(CODE_ALPHABET, k=8)))
    codes -= set(DiscountCode.objects.filter(code__in=codes).values_list("code", flat=True))
    DiscountCode.objects.bulk_create(
        [DiscountCode(promotion=promotion, code=c, max_uses=1, batch=batch) for c in sorted(codes)]
    )
    # Made in full here, not by the background job: the batch is ready to download.
    CodeBatch.objects.filter(pk=batch.pk).update(
        count=len(codes), made=len(codes), status=CodeBatch.Status.DONE, finished_at=batch.created_at
    )


def _day(now: dt.datetime, days: float) -> dt.datetime:
    """`days` from now, at midnight store time (windows start and end on a day)."""
    return timezone.localtime(now + dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


def _black_friday(now: dt.datetime) -> dt.datetime:
    """The last Black Friday before now (it is always within the year of demo history)."""
    today = timezone.localtime(now).date()
    for year in (today.year, today.year - 1):
        first = dt.date(year, 11, 1)
        day = first + dt.timedelta(days=(3 - first.weekday()) % 7 + 22)
        if day < today - dt.timedelta(days=4):
            return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())
    raise AssertionError("unreachable")


# --- The history -----------------------------------------------------------------------------------------------


@dataclass
class OrderRow:
    id: int
    key: str
    user_id: int | None
    placed_at: dt.datetime
    updated_at: dt.datetime
    status: str
    subtotal: Decimal
    shipping_total: Decimal
    shipping_method: str
    currency: str
    lines: list[PricedLine]


@dataclass
class Use:
    order: OrderRow
    promotion: Promotion
    code: DiscountCode | None
    amount: Decimal
    shares: dict
    on_shipping: bool


class History:
    def __init__(self, ctx, orders, first_paid, used_per_customer, used_total, free_codes):
        self.ctx = ctx
        self.orders: list[OrderRow] = orders
        self.first_paid: dict = first_paid
        self.used_per_customer: Counter = used_per_customer
        self.used_total: Counter = used_total
        self.free_codes: dict[int, list[DiscountCode]] = free_codes
        self.uses: list[Use] = []
        self.taken: set[int] = set()

    @classmethod
    def load(cls, ctx: DemoContext, promotions: list[Promotion]) -> History:
        start = min(p.starts_at for p in promotions)
        done = set(Redemption.objects.values_list("order_id", flat=True))
        done |= set(
            OrderAdjustment.objects.filter(kind__in=[AdjustmentKind.DISCOUNT, AdjustmentKind.POINTS]).values_list(
                "order_id", flat=True
            )
        )  # an order paid partly with points (loyalty/demo/) is left as it is
        rows = (
            Order.objects.filter(idempotency_scope=SCOPE, placed_at__gte=start, amount_refunded=0)
            .exclude(status__in=SKIPPED_STATUSES)
            .order_by("placed_at", "id")
            .values_list(
                "id", "idempotency_key", "user_id", "placed_at", "updated_at", "status", "subtotal",
                "shipping_total", "shipping_method", "currency",
            )
        )  # fmt: skip
        orders = {row[0]: OrderRow(*row, lines=[]) for row in rows if row[0] not in done}
        lines = OrderLine.objects.filter(order_id__in=list(orders)).values_list(
            "id", "order_id", "product_id", "unit_price", "quantity", "subtotal"
        )
        lines = list(lines) if len(orders) < 20_000 else list(lines.iterator(chunk_size=5000))
        products = (
            Product.objects.select_related("category")
            .only("id", "compare_at_price", "category__path")
            .in_bulk({line[2] for line in lines if line[2]})
        )
        for line_id, order_id, product_id, unit_price, quantity, subtotal in lines:
            order = orders[order_id]
            if product_id not in products:  # a product deleted since: leave the order alone
                order.lines = None
                continue
            if order.lines is not None:
                order.lines.append(
                    PricedLine(
                        line_id=line_id,
                        product=products[product_id],
                        quantity=quantity,
                        unit_price=Money(unit_price, order.currency),
                        compare_at=None,
                        total=Money(subtotal, order.currency),
                    )
                )
        first_paid = dict(
            Order.objects.filter(status__in=[*PAID_STATES, OrderStatus.REFUNDED], user__isnull=False)
            .values("user_id")
            .annotate(first=Min("placed_at"))
            .values_list("user_id", "first")
        )
        active = Redemption.objects.filter(promotion__in=promotions, status=Redemption.Status.ACTIVE)
        used_per_customer = Counter(
            {(p, c): n for p, c, n in active.values_list("promotion_id", "customer_id").annotate(n=Count("id"))}
        )
        used_total = Counter(dict(active.values_list("promotion_id").annotate(n=Count("id"))))
        free_codes = defaultdict(list)
        for code in DiscountCode.objects.filter(promotion__in=promotions, batch__isnull=False, times_used=0).order_by(
            "-id"
        ):
            free_codes[code.promotion_id].append(code)  # popped from the end: oldest first
        return cls(ctx, [o for o in orders.values() if o.lines], first_paid, used_per_customer, used_total, free_codes)

    def use(self, spec: Spec, promotion: Promotion) -> None:
        """Pick the orders of its window that used this promotion."""
        end = promotion.ends_at or timezone.now()
        shared = DiscountCode.objects.filter(code=spec.code).first() if spec.code else None
        for order in self.orders:
            if order.id in self.taken or not promotion.starts_at <= order.placed_at < end:
                continue
            if spec.share < 1 and _unit(f"{self.ctx.seed}:discounts:{spec.name}:{order.key}") >= spec.share:
                continue
            use = self._try(promotion, order, shared)
            if use is not None:
                self.uses.append(use)
                self.taken.add(order.id)

    def _try(self, promotion: Promotion, order: OrderRow, shared: DiscountCode | None) -> Use | None:
        active = order.status not in RELEASED_WHEN
        if active and promotion.usage_limit is not None and self.used_total[promotion.pk] >= promotion.usage_limit:
            return None
        if promotion.usage_limit_per_customer is not None and (
            order.user_id is None
            or self.used_per_customer[(promotion.pk, order.user_id)] >= promotion.usage_limit_per_customer
        ):
            return None
        if promotion.first_order_only and (
            order.user_id is None or order.placed_at > self.first_paid.get(order.user_id, order.placed_at)
        ):
            return None
        amount, shares = self._discount(promotion, order)
        if amount <= 0:
            return None
        code = shared
        if promotion.requires_code and code is None:
            if not self.free_codes[promotion.pk]:
                return None
            code = self.free_codes[promotion.pk].pop()
        if active:
            self.used_total[promotion.pk] += 1
            self.used_per_customer[(promotion.pk, order.user_id)] += 1
        return Use(order, promotion, code, amount, shares, promotion.kind == K.FREE_SHIPPING)

    def _discount(self, promotion: Promotion, order: OrderRow) -> tuple[Decimal, dict]:
        subtotal = Money(order.subtotal, order.currency)
        priced = PricedCart(currency=order.currency, lines=order.lines, subtotal=subtotal)
        lines = engine.eligible_lines(promotion, priced)
        quantity = sum(line.quantity for line in lines)
        if (
            not lines
            or (promotion.min_subtotal is not None and order.subtotal < promotion.min_subtotal)
            or (promotion.min_quantity is not None and quantity < promotion.min_quantity)
            or quantity < promotion.buy_quantity + promotion.get_quantity
        ):
            return D(0), {}
        if promotion.kind == K.FREE_SHIPPING:
            cap = promotion.max_discount if promotion.max_discount is not None else order.shipping_total
            return min(order.shipping_total, cap), {}
        remaining = {line.line_id: line.total.amount for line in order.lines}
        amount, shares = engine.compute(promotion, lines, remaining, order.currency)
        # The discount comes before shipping at checkout: an order whose shipping it would
        # have changed (no longer over the free threshold) is not one it could have been.
        if shipping_price(order.shipping_method, subtotal - Money(amount, order.currency)).amount != (
            order.shipping_total
        ):
            return D(0), {}
        return amount, shares

    def write(self) -> int:
        if not self.uses:
            return 0
        orders = {u.order.id: u for u in self.uses}
        OrderAdjustment.objects.bulk_create(
            [
                OrderAdjustment(
                    order_id=u.order.id,
                    kind=AdjustmentKind.DISCOUNT,
                    label=f"{u.promotion.name} ({u.code.code})" if u.code else u.promotion.name,
                    amount=-u.amount,
                    source="discounts-shipping" if u.on_shipping else "discounts",
                    reference=services.reference(u.promotion, u.code),
                )
                for u in self.uses
            ]
        )
        line_updates = [OrderLine(pk=line_id, discount=share) for u in self.uses for line_id, share in u.shares.items()]
        OrderLine.objects.bulk_update(line_updates, ["discount"], batch_size=500)
        order_updates = []
        for u in self.uses:
            order = u.order
            total = order.subtotal + order.shipping_total - u.amount
            order_updates.append(Order(pk=order.id, discount_total=u.amount, total=total))
        Order.objects.bulk_update(order_updates, ["discount_total", "total"], batch_size=500)
        totals = {o.pk: Money(o.total, orders[o.pk].order.currency).to_minor_units() for o in order_updates}
        payments = [
            Payment(pk=pk, amount_minor=totals[order_id])
            for pk, order_id in Payment.objects.filter(order_id__in=list(totals)).values_list("id", "order_id")
        ]
        Payment.objects.bulk_update(payments, ["amount_minor"], batch_size=500)
        with _historical_created_at():
            Redemption.objects.bulk_create(
                [
                    Redemption(
                        promotion=u.promotion,
                        code=u.code,
                        order_id=u.order.id,
                        customer_id=u.order.user_id,
                        amount=u.amount,
                        currency=u.order.currency,
                        status=Redemption.Status.RELEASED
                        if u.order.status in RELEASED_WHEN
                        else Redemption.Status.ACTIVE,
                        created_at=u.order.placed_at,
                        released_at=u.order.updated_at if u.order.status in RELEASED_WHEN else None,
                    )
                    for u in self.uses
                ],
                batch_size=500,
            )
        return len(self.uses)


def _recount(promotions: list[Promotion]) -> None:
    """times_used from the active redemptions: right after any rerun, whatever was there."""
    active = Redemption.objects.filter(promotion__in=promotions, status=Redemption.Status.ACTIVE)
    per_promotion = dict(active.values_list("promotion_id").annotate(n=Count("id")))
    for promotion in promotions:
        n = per_promotion.get(promotion.pk, 0)
        if promotion.times_used != n:
            Promotion.objects.filter(pk=promotion.pk).update(times_used=n)
    per_code = dict(active.filter(code__isnull=False).values_list("code_id").annotate(n=Count("id")))
    codes = list(DiscountCode.objects.filter(promotion__in=promotions).only("id", "times_used"))
    changed = [c for c in codes if c.times_used != per_code.get(c.pk, 0)]
    for code in changed:
        code.times_used = per_code.get(code.pk, 0)
    DiscountCode.objects.bulk_update(changed, ["times_used"], batch_size=500)


@contextmanager
def _historical_created_at():
    """Let bulk_create keep the redemption's time (the order's) instead of stamping now."""
    field = Redemption._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _unit(text: str) -> float:
    """A number in (0, 1) fixed by the text."""
    return (int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") + 0.5) / 2**64
