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

Four queries over the period, whatever it holds, each by an index: what was shown and chosen
(grouped), the clicks, the adds, the paid orders' lines with their placing visit; the adds and
lines are matched to the clicks in Python, by visit and product (a correlated EXISTS per list
name was tried first: on PostgreSQL a month of the demo took minutes). JSON lookups on `data` are
the ORM's (`data__list`), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Func, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KT, KeyTransform

from marketing.analytics import rollups
from marketing.analytics.models import Event, EventName
from shop.orders.models import OrderLine

# The most list names found in the log and credited in one computation (a beacon may send any name).
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
    lines = (
        OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end, product__isnull=False)
        .annotate(placed_visit=_placed("visit"), placed_at=_placed("at"))
        .filter(placed_visit__isnull=False)
    )
    clicks = _clicks(adds, lines, wanted)
    if names is None:
        names = sorted({name for by_list in clicks.values() for _at, name in by_list})[:MAX_LISTS]
    names = set(names)
    if not clicks or not names:
        return out
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


def _clicks(adds, lines, wanted) -> dict[tuple, list[tuple]]:
    """{(visit, product): [(moment, list), ...]} of the clicks in the visits that added to a cart or
    placed an order paid in the period: the only ones that can be credited (one query, by the visit
    index). A click may precede the period (a visit across midnight, an order paid days after it
    was placed), so they are found by visit, not by day."""
    visits = Q(visit__in=adds.values("visit")) | Q(visit__in=lines.values("placed_visit"))
    rows = Event.objects.filter(wanted, visits, name=CHOSEN, product__isnull=False).values_list(
        "visit", "product_id", "at", KT("data__list")
    )
    clicks: dict[tuple, list[tuple]] = defaultdict(list)
    for visit, product_id, moment, name in rows.order_by().iterator(chunk_size=5000):
        clicks[(visit, product_id)].append((moment, name))
    return clicks


def _lists_before(clicks, visit, product_id, moment, names) -> set[str]:
    return {name for at, name in clicks.get((visit, product_id), ()) if at < moment and name in names}


def _adds(adds, clicks, names):
    """(day, list, adds credited to it): the period's adds read once (the (day, name) index) and
    matched to the clicks here, so nothing is asked once per list."""
    visits = {visit for visit, _product in clicks}
    counts: dict[tuple, int] = defaultdict(int)
    rows = adds.values_list("day", "visit", "product_id", "at").order_by()
    for day, visit, product_id, moment in rows.iterator(chunk_size=5000):
        if visit in visits:
            for name in _lists_before(clicks, visit, product_id, moment, names):
                counts[(day, name)] += 1
    for (day, name), count in sorted(counts.items()):
        yield day, name, count


def _orders(lines, clicks, names, zone):
    """(day paid, list, orders credited to it, what their lines of the clicked products came to): the
    lines of the orders paid in the period, each with its order's placing visit and moment (one
    query), matched to the clicks here."""
    rows = lines.values_list(
        "order_id", "order__paid_at", "placed_visit", "placed_at", "product_id", "subtotal", "discount"
    ).order_by()
    visits = {visit for visit, _product in clicks}
    orders: dict[tuple, set] = defaultdict(set)
    revenue: dict[tuple, Decimal] = defaultdict(Decimal)
    for order_id, paid_at, visit, placed_at, product_id, subtotal, discount in rows.iterator(chunk_size=2000):
        if visit not in visits:
            continue
        day = paid_at.astimezone(zone).date()
        for name in _lists_before(clicks, visit, product_id, placed_at, names):
            orders[(day, name)].add(order_id)
            revenue[(day, name)] += subtotal - discount
    for key in sorted(orders):
        yield key[0], key[1], len(orders[key]), revenue[key]
