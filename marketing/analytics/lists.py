"""Lists of products: what a list showed, what was chosen from it, and what followed the choice.

The browser reports what a list (`data-list` on the page) showed and which card was chosen from it
(static/analytics/track.js, views.collect): `view_item_list` events with `data={"list": name,
"items": [product ids]}` and `select_item` events with `data={"list": name}` and the product. This
module sums them per list and store day, and credits a list with what followed a click on it.

Attribution: a click on product P from list L in visit V at moment t.
- An `add_to_cart` counts for L when the same visit V adds P after t. An add counts once for L
  however many clicks on P from L came before it (and for each other list that also led to it).
- An order counts for L when its `place_order` event is in V after t, it contains P and it was
  paid (`Order.paid_at`). Its revenue for L is what P's lines of the order came to (after their
  discounts, without shipping), not the whole order's total. An order counts once for L even if
  several of its products were chosen from L.
- Impressions are products shown (the `items` of each `view_item_list`), so the click-through
  rate is clicks over impressions.
- Days: impressions, clicks and adds count on their event's store day (`Event.day`); orders and
  their revenue on the day they were paid, as the sales figures do (a click yesterday, a payment
  today: today's order). A click without a visit (the browser asked not to be tracked) counts as a
  click and is credited with nothing.

A handful of grouped queries over the period, whatever it holds: one for what was shown and
chosen, one for the adds, one for the orders (and one to find the lists' names, unless given).
The adds and orders each test one EXISTS per list name against the visit's clicks (the
`analytics_event_visit` index), so the names are kept few (`MAX_LISTS`). JSON lookups on `data`
are the ORM's (`data__list`), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, ExpressionWrapper, F, Func, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import TruncDate

from marketing.analytics import rollups
from marketing.analytics.models import Event, EventName
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import OrderLine

# The most list names credited with adds and orders in one computation: each costs an EXISTS per
# add and per order line. A beacon may send any name, so names found in the log are capped.
MAX_LISTS = 40

SHOWN, CHOSEN = EventName.VIEW_ITEM_LIST.value, EventName.SELECT_ITEM.value
ADDED, PLACED = EventName.ADD_TO_CART.value, EventName.PLACE_ORDER.value


@dataclass
class ListFigures:
    """One list's figures on one store day. Money in the store's currency (SHOP_CURRENCY)."""

    views: int = 0  # times the list was seen
    impressions: int = 0  # products shown, summed over those times
    clicks: int = 0
    add_to_carts: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)


class _ArrayLength(Func):
    """The length of a JSON array (None for anything else): JSON_ARRAY_LENGTH on SQLite,
    JSONB_ARRAY_LENGTH on PostgreSQL (which raises on a non-array, hence the CASE)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CASE WHEN JSONB_TYPEOF({sql}) = 'array' THEN JSONB_ARRAY_LENGTH({sql}) END", (*params, *params)


def figures(
    first: dt.date,
    last: dt.date,
    *,
    prefix: str = "",
    names: Iterable[str] | None = None,
    zone: dt.tzinfo | None = None,
) -> dict[tuple[dt.date, str], ListFigures]:
    """{(store day, list name): ListFigures} for the days `first` to `last` (both included), for the
    lists whose name starts with `prefix`, or only those in `names`. Days and lists with nothing
    are left out. `zone` is the store's time zone (ANALYTICS_TIME_ZONE by default), that of the
    events' `day`, used for the day an order was paid."""
    zone = zone or rollups.zone()
    wanted = Q(data__list__startswith=prefix)
    if names is not None:
        names = sorted({name for name in names if name.startswith(prefix)})
        wanted &= Q(data__list__in=names)
    out: dict[tuple[dt.date, str], ListFigures] = {}

    def at(day, name) -> ListFigures:
        return out.setdefault((day, name), ListFigures())

    for row in _shown_and_chosen(first, last, wanted):
        entry = at(row["day"], row["list_name"])
        entry.views, entry.impressions, entry.clicks = row["views"], row["impressions"] or 0, row["clicks"]
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    adds = Event.objects.filter(name=ADDED, day__gte=first, day__lte=last, product__isnull=False, visit__isnull=False)
    lines = OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end, product__isnull=False)
    if names is None:
        names = _names_clicked(adds, lines, wanted)
    if not names:
        return out
    clicks = Event.objects.filter(name=CHOSEN)
    for day, name, count in _adds(adds, clicks, names):
        at(day, name).add_to_carts = count
    for day, name, orders, revenue in _orders(lines, clicks, names, zone):
        entry = at(day, name)
        entry.orders, entry.revenue = orders, revenue
    return out


def _shown_and_chosen(first, last, wanted):
    """Per day and list: times shown, products shown, clicks (one query)."""
    return (
        Event.objects.filter(wanted, day__gte=first, day__lte=last, name__in=[SHOWN, CHOSEN])
        .values("day", list_name=KT("data__list"))
        .annotate(
            views=Count("id", filter=Q(name=SHOWN)),
            impressions=Sum(_ArrayLength(KeyTransform("items", "data")), filter=Q(name=SHOWN)),
            clicks=Count("id", filter=Q(name=CHOSEN)),
        )
        .order_by()
    )


def _placed(field: str) -> Subquery:
    """The visit, or the moment, of the order line's order's `place_order` event (the first one)."""
    placed = Event.objects.filter(name=PLACED, order_id=OuterRef("order_id")).order_by("at", "id")
    return Subquery(placed.values(field)[:1])


def _names_clicked(adds, lines, wanted) -> list[str]:
    """The lists clicked in the visits that added to a cart or placed an order in the period: the only
    ones that can be credited (one query). A click may precede the period (a visit across midnight,
    an order paid days after it was placed), so they are found by visit, not by day."""
    visits = Q(visit__in=adds.values("visit")) | Q(visit__in=lines.annotate(placed=_placed("visit")).values("placed"))
    return list(
        Event.objects.filter(wanted, visits, name=CHOSEN)
        .values_list(KT("data__list"), flat=True)
        .distinct()
        .order_by(KT("data__list"))[:MAX_LISTS]
    )


def _credited(rows, clicks, names, *, visit: str, moment: str):
    """The rows (adds, order lines) that followed a click on their product from any of the lists, in
    `visit` before `moment`, each with `from_<n>`: whether one came from the n-th list. The rows no
    click led to, most of them, are left out by the first EXISTS before the one per list is asked."""
    # Found by the visit (a visit holds a few dozen events), never by the product: "+ 0" keeps the
    # planner off the product index, whose rows for a popular product grow with all of history
    # (SQLite, without statistics, would otherwise prefer it; measured: 20,000 visits took 28 s).
    clicks = clicks.alias(clicked=ExpressionWrapper(F("product_id") + 0, output_field=IntegerField()))
    clicked = clicks.filter(visit=OuterRef(visit), clicked=OuterRef("product_id"), at__lt=OuterRef(moment))
    rows = rows.filter(Exists(clicked.filter(data__list__in=names)))
    return rows.annotate(**{f"from_{n}": Exists(clicked.filter(data__list=name)) for n, name in enumerate(names)})


def _adds(adds, clicks, names):
    """(day, list, adds credited to it) (one query)."""
    credited = _credited(adds, clicks, names, visit="visit", moment="at")
    counts = {f"adds_{n}": Count("id", filter=Q(**{f"from_{n}": True})) for n in range(len(names))}
    for row in credited.values("day").annotate(**counts).order_by():
        for n, name in enumerate(names):
            if row[f"adds_{n}"]:
                yield row["day"], name, row[f"adds_{n}"]


def _orders(lines, clicks, names, zone):
    """(day paid, list, orders credited to it, what their lines of the clicked products came to)
    (one query)."""
    currency = settings.SHOP_CURRENCY
    lines = lines.annotate(placed_visit=_placed("visit"), placed_at=_placed("at")).filter(placed_visit__isnull=False)
    credited = _credited(lines, clicks, names, visit="placed_visit", moment="placed_at")
    sums = {}
    for n in range(len(names)):
        chosen = Q(**{f"from_{n}": True})
        sums[f"orders_{n}"] = Count("order_id", distinct=True, filter=chosen)
        sums[f"revenue_{n}"] = minor_units_sum(F("subtotal") - F("discount"), currency=currency, filter=chosen)
    rows = credited.values(paid_day=TruncDate("order__paid_at", tzinfo=zone)).annotate(**sums)
    for row in rows.order_by():
        for n, name in enumerate(names):
            if row[f"orders_{n}"]:
                yield row["paid_day"], name, row[f"orders_{n}"], from_minor_units(row[f"revenue_{n}"], currency)
