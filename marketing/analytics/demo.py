"""The demo store's year of visits, consistent with its orders; then its daily figures.

Every order the demo placed gets the visit that placed it: a landing page, the products of its
lines viewed and added, the checkout, the order, and its payment when it was paid (with the
`OrderVisit` that ties them). Around them, the visits that bought nothing: for each day, as many
as make the day's conversion about 2 to 4% (phones convert less than computers, newsletters more
than search), of which most look at a product or two, some add to the cart, and most of those
who add never pay (cart abandonment about 75%). The days follow the orders, so the seasons and
the promotions' peaks show in traffic too. Each visit has a device and a source; a logged-in
customer who allows it (`Profile.analytics_consent`) is named on their visit's events.

At a large --scale the visits that bought nothing are made for the most recent days only, up to
DEMO_MAX_VISITS, so that seeding stays minutes, not hours: the dashboards say which days lack them.
Idempotent: nothing is made if the demo's events are there.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketing.analytics import customers, rollups
from marketing.analytics.models import Event, EventName, OrderVisit
from marketing.analytics.recorder import store_day
from shop.accounts.models import Profile
from shop.catalog.models import Product
from shop.core.demo import DemoContext
from shop.orders.models import Order, OrderLine

DEMO_MAX_VISITS = 120_000
FLUSH_ROWS = 50_000
DEVICES = [("mobile", 56, 0.7), ("desktop", 37, 1.25), ("tablet", 7, 0.9)]  # share, how well it converts
SOURCES = [  # (source, medium, campaign, share of visits, how well it converts)
    ("direct", "none", "", 31, 1.2),
    ("Google", "organic", "", 29, 1.0),
    ("Bing", "organic", "", 3, 1.0),
    ("newsletter", "email", "weekly-picks", 9, 1.8),
    ("Instagram", "social", "", 9, 0.55),
    ("Facebook", "social", "", 5, 0.6),
    ("google", "cpc", "brand-search", 7, 1.3),
    ("blog.cosyhome.example", "referral", "", 4, 0.9),
    ("Pinterest", "social", "", 3, 0.5),
]
BASE_CONVERSION = 0.03
# Where the demo visits land: real pages of the demo store.
LANDINGS = ["/", "/products/", "/category/home/", "/category/sports/", "/category/electronics/"]


def _pick(rng, options, weight_at):
    return rng.choices(options, weights=[o[weight_at] for o in options])[0]


class Builder:
    """Makes the visits' events and writes them as it goes, FLUSH_ROWS at a time (a large --scale
    makes millions: they never sit in memory all at once)."""

    def __init__(self, ctx: DemoContext, rng: random.Random, consenting: set[int]):
        self.ctx = ctx
        self.rng = rng
        self.consenting = consenting
        self.events: list[list] = []  # rows ready for the database, in COLUMNS order
        self.written = 0
        self._sql = _insert_sql()
        self.order_visits: list[OrderVisit] = []
        ops = connection.ops
        field = Event._meta.get_field
        self._at = ops.adapt_datetimefield_value
        self._day = ops.adapt_datefield_value
        self._money = lambda v: None if v is None else ops.adapt_decimalfield_value(v, 12, 2)
        self._uuid = lambda v: field("visit").get_db_prep_save(v, connection)
        self._data = {False: field("data").get_db_prep_save({}, connection),
                      True: field("data").get_db_prep_save({"demo": True}, connection)}  # fmt: skip

    def visit(self, start: dt.datetime, *, device=None, source=None, customer_id=None):
        rng = self.rng
        device = device or _pick(rng, DEVICES, 1)
        source = source or _pick(rng, SOURCES, 3)
        visit = uuid.UUID(int=rng.getrandbits(128))
        fields = {"visit": visit, "db_visit": self._uuid(visit), "device": device[0], "source": source[0],
                  "medium": source[1], "campaign": source[2],
                  "customer_id": customer_id if customer_id in self.consenting else None}  # fmt: skip
        return fields, start

    def add(self, name, at, fields, *, product_id=None, order_id=None, quantity=None, value=None, currency="",
            path=""):  # fmt: skip
        """One event as a row of COLUMNS, its values prepared as the ORM prepares them."""
        demo = name == EventName.PAGE_VIEW and path in LANDINGS  # the marker that says the demo's visits are there
        self.events.append([
            name, self._at(at), self._day(store_day(at)), fields["db_visit"], fields["customer_id"], product_id,
            order_id, quantity, self._money(value), currency, fields["device"], fields["source"], fields["medium"],
            fields["campaign"], path, self._data[demo],
        ])  # fmt: skip
        if len(self.events) >= FLUSH_ROWS:
            self.flush()
        return at + dt.timedelta(seconds=self.rng.randint(15, 140))

    def flush(self) -> None:
        """Insert the events made so far with executemany (through model instances and bulk_create a
        quarter of a million took four times as long); their values are prepared as the ORM would."""
        if not self.events:
            return
        with connection.cursor() as cursor:
            cursor.executemany(self._sql, self.events)
        self.written += len(self.events)
        self.events = []
        self.ctx.log(f"  events: {self.written:,} written")

    def browse(self, fields, at, products: list[Product]):
        """A landing page, then each product's page; returns the time after them."""
        at = self.add(EventName.PAGE_VIEW, at, fields, path=self.rng.choice(LANDINGS))
        for product in products:
            at = self.add(EventName.PAGE_VIEW, at, fields, path=f"/product/{product.slug}/")
            at = self.add(EventName.VIEW_ITEM, at, fields, product_id=product.pk)
        return at


def seed(ctx: DemoContext) -> None:
    if Event.objects.filter(name=EventName.PAGE_VIEW, path__in=LANDINGS, data__demo=True).exists():
        ctx.log("visits: already there")
        _build_figures(ctx)
        return
    rng = ctx.rng("analytics:visits")
    now = timezone.now()
    consenting = set(Profile.objects.filter(analytics_consent=True).values_list("user_id", flat=True))
    products = list(Product.objects.filter(is_active=True).only("id", "slug", "price", "category_id"))
    if not products:
        return
    by_id = {p.pk: p for p in products}
    lines = defaultdict(list)
    for order_id, product_id, quantity, price in OrderLine.objects.values_list(
        "order_id", "product_id", "quantity", "unit_price"
    ):
        lines[order_id].append((product_id, quantity, price))
    # Orders the log already knows (placed in the running store, or an import's swept purchases)
    # keep their own events: a made-up visit would record them twice.
    known = Event.objects.filter(order_id=OuterRef("pk"))
    orders = list(
        Order.objects.filter(placed_at__lte=now).exclude(Exists(known)).order_by("placed_at")
        .values_list("id", "placed_at", "paid_at", "user_id", "total", "currency")
    )  # fmt: skip
    builder = Builder(ctx, rng, consenting)
    per_day: dict[dt.date, int] = defaultdict(int)
    for order_id, placed, paid, user_id, total, currency in orders:
        per_day[store_day(placed)] += 1 if paid else 0
        _buying_visit(builder, order_id, placed, paid, user_id, total, currency, lines[order_id], by_id)
    ctx.log(f"visits: {len(orders):,} that placed an order")
    popular = [by_id[pid] for ids in lines.values() for pid, _q, _price in ids if pid in by_id] or products
    by_category = defaultdict(list)
    for product in products:
        by_category[product.category_id].append(product)
    budget = DEMO_MAX_VISITS
    made = 0
    for day in sorted(per_day, reverse=True):  # the most recent days first, while the budget lasts
        wanted = int(per_day[day] * (1 / BASE_CONVERSION - 1) * rng.uniform(0.85, 1.15))
        if made + wanted > budget:
            break
        for _n in range(wanted):
            _idle_visit(builder, day, popular, products, by_category)
        made += wanted
    ctx.log(f"visits: {made:,} that bought nothing, over {len(per_day):,} days")
    builder.flush()
    OrderVisit.objects.bulk_create(builder.order_visits, batch_size=2000, ignore_conflicts=True)
    _build_figures(ctx)


COLUMNS = ["name", "at", "day", "visit", "customer_id", "product_id", "order_id", "quantity", "value", "currency",
           "device", "source", "medium", "campaign", "path", "data"]  # fmt: skip


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    return "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (the model's own table and column names, quoted)
        quote(Event._meta.db_table),
        ", ".join(quote(Event._meta.get_field(name).column) for name in COLUMNS),
        ", ".join(["%s"] * len(COLUMNS)),
    )


def _buying_visit(builder, order_id, placed, paid, user_id, total, currency, order_lines, by_id) -> None:
    rng = builder.rng
    # Buyers lean to the sources and devices that convert: weight the draw by how well each converts.
    device = rng.choices(DEVICES, weights=[d[1] * d[2] for d in DEVICES])[0]
    source = rng.choices(SOURCES, weights=[s[3] * s[4] for s in SOURCES])[0]
    fields, _start = builder.visit(placed, device=device, source=source, customer_id=user_id)
    bought = [(by_id[pid], q, price) for pid, q, price in order_lines if pid in by_id]
    at = placed - dt.timedelta(minutes=rng.randint(4, 25))
    at = builder.browse(fields, at, [p for p, _q, _price in bought])
    for product, quantity, price in bought:  # at the price of the variant bought (a king-size costs more)
        at = builder.add(EventName.ADD_TO_CART, at, fields, product_id=product.pk, quantity=quantity,
                         value=price * quantity, currency=currency)  # fmt: skip
    builder.add(EventName.BEGIN_CHECKOUT, min(at, placed - dt.timedelta(seconds=30)), fields, value=total,
                currency=currency)  # fmt: skip
    builder.add(EventName.PLACE_ORDER, placed, fields, order_id=order_id, value=total, currency=currency)
    if paid:
        builder.add(EventName.PURCHASE, paid, fields, order_id=order_id, value=total, currency=currency)
    builder.order_visits.append(
        OrderVisit(order_id=order_id, visit=fields["visit"], customer_id=fields["customer_id"], device=fields["device"],
                   source=fields["source"], medium=fields["medium"], campaign=fields["campaign"])
    )  # fmt: skip


def _idle_visit(builder, day, popular, products, by_category) -> None:
    rng = builder.rng
    start = dt.datetime.combine(day, dt.time(0), tzinfo=rollups.zone()) + dt.timedelta(
        seconds=int(rng.triangular(6 * 3600, 86399, 20 * 3600))
    )
    device = rng.choices(DEVICES, weights=[d[1] / d[2] for d in DEVICES])[0]
    source = rng.choices(SOURCES, weights=[s[3] / s[4] for s in SOURCES])[0]
    fields, at = builder.visit(start, device=device, source=source)
    roll = rng.random()
    viewed = [] if roll < 0.38 else _browsed(rng, popular, products, by_category, rng.choice((1, 1, 1, 2, 2, 3, 4)))
    at = builder.browse(fields, at, viewed)
    if viewed and rng.random() < 0.14:
        product = viewed[-1]
        at = builder.add(EventName.ADD_TO_CART, at, fields, product_id=product.pk, quantity=1,
                         value=product.price, currency=settings.SHOP_CURRENCY)  # fmt: skip
        if rng.random() < 0.12:
            at = builder.add(EventName.REMOVE_FROM_CART, at, fields, product_id=product.pk, quantity=1,
                             value=product.price, currency=settings.SHOP_CURRENCY)  # fmt: skip
        elif rng.random() < 0.3:
            builder.add(EventName.BEGIN_CHECKOUT, at, fields, value=product.price, currency=settings.SHOP_CURRENCY)


def _browsed(rng, popular, products, by_category, count: int) -> list:
    """What a visit looks at: a first product (often a popular one), then mostly its neighbours on the
    shelf (the same category), as shoppers compare before they choose."""
    first = rng.choice(popular if rng.random() < 0.6 else products)
    viewed = [first]
    same = [p for p in by_category[first.category_id] if p.pk != first.pk]
    for _i in range(count - 1):
        viewed.append(rng.choice(same) if same and rng.random() < 0.7 else rng.choice(products))
    return viewed


def _build_figures(ctx: DemoContext) -> None:
    days = rollups.days_to_build()
    done = 0
    for first, last in rollups.runs(days):
        rollups.build_days(first, last)
        done += (last - first).days + 1
        ctx.log(f"  daily figures: {done}/{len(days)} days")
    snapshot = customers.score()
    ctx.log(f"  customers scored: {snapshot.customers:,} (segments, cohorts, lifetime value)")
