"""Figures by store day: built once from the event log and the orders, read by every dashboard.

A dashboard never scans raw events or all orders: it reads `DailyFigure` rows for past days and
works out today live with the same code (`figures_for_day`). A day is the store's day
(ANALYTICS_TIME_ZONE): its events by `Event.day`, its orders by when they were paid, its refunds
by when they were made. Building a day replaces its rows whole, in one transaction, so a reader
sees the old day or the new one. The scheduled job (tasks.build_figures) builds the days not yet
built and the last two again (late events, a refund); `manage.py build_figures` any range.

The measures (what each one counts is written on the dashboards too):

- visits and the funnel, from the event log (visits with an id: a browser that asked not to be
  tracked is counted in page views only): `visits`, `visits_viewing_item`, `visits_adding`,
  `visits_checking_out`, `visits_buying`, split by device, source, medium and campaign;
  `page_views` (all, with the untracked), split by device.
- products, from the event log: `product_views`, `product_adds` (units added), by product.
- sales, from the orders paid that day whatever became of them later: `orders`, `revenue` (what
  customers paid: after discounts and points, shipping included), `merchandise` (line prices
  before discounts), `discounts`, `shipping`, `units`; `new_customers` and `returning_orders`
  (a customer is an email: guests count); `orders` and `revenue` split by device, source and
  medium (the visit that placed the order; "unknown" when none did: an admin's or an import's),
  `units` and `line_revenue` (lines after their discounts, without shipping) by product and by
  category.
- `refunds`: the amounts refunded that day (from the orders' timelines), whenever paid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from marketing.analytics.models import BuiltDay, DailyFigure, Event, EventName, OrderVisit
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import EventKind, Order, OrderEvent, OrderLine

VISIT_DIMENSIONS = ["", "device", "source", "medium", "campaign"]
ORDER_DIMENSIONS = ["device", "source", "medium"]
FUNNEL = {
    "visits_viewing_item": EventName.VIEW_ITEM,
    "visits_adding": EventName.ADD_TO_CART,
    "visits_checking_out": EventName.BEGIN_CHECKOUT,
    "visits_buying": EventName.PURCHASE,
}
MONEY = {"revenue", "merchandise", "discounts", "shipping", "line_revenue", "refunds"}


def zone() -> ZoneInfo:
    return ZoneInfo(settings.ANALYTICS_TIME_ZONE)


def today() -> dt.date:
    return timezone.now().astimezone(zone()).date()


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The moments a store day starts and ends (a day of 23 or 25 hours when the clocks change)."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone())
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone())
    return start, end


def _figure(day, measure, value, dimension="", key="") -> DailyFigure:
    return DailyFigure(day=day, measure=measure, dimension=dimension, key=str(key)[:100], value=Decimal(value or 0))


def figures_for_day(day: dt.date) -> list[DailyFigure]:
    """Every figure of one day (unsaved): a fixed number of queries, whatever the day holds."""
    return [*_visit_figures(day), *_product_figures(day), *_sales_figures(day), *_refund_figures(day)]


def _visit_figures(day) -> Iterator[DailyFigure]:
    events = Event.objects.filter(day=day)
    counts = {"visits": Count("visit", distinct=True)}
    counts |= {m: Count("visit", distinct=True, filter=Q(name=name)) for m, name in FUNNEL.items()}
    for dimension in VISIT_DIMENSIONS:
        rows = events.exclude(visit=None)
        rows = rows.values(dimension).annotate(**counts) if dimension else [rows.aggregate(**counts)]
        for row in rows:
            key = row[dimension] if dimension else ""
            if dimension == "campaign" and not key:
                continue
            for measure in counts:
                if row[measure] or not dimension:
                    yield _figure(day, measure, row[measure], dimension, key)
    views = events.filter(name=EventName.PAGE_VIEW)
    yield _figure(day, "page_views", views.count())
    for row in views.values("device").annotate(n=Count("id")):
        yield _figure(day, "page_views", row["n"], "device", row["device"])


def _product_figures(day) -> Iterator[DailyFigure]:
    rows = (
        Event.objects.filter(day=day, name__in=[EventName.VIEW_ITEM, EventName.ADD_TO_CART])
        .exclude(product=None)
        .values("product_id")
        .annotate(
            views=Count("id", filter=Q(name=EventName.VIEW_ITEM)),
            adds=Sum("quantity", filter=Q(name=EventName.ADD_TO_CART)),
        )
    )
    for row in rows:
        if row["views"]:
            yield _figure(day, "product_views", row["views"], "product", row["product_id"])
        if row["adds"]:
            yield _figure(day, "product_adds", row["adds"], "product", row["product_id"])


def _money(units) -> Decimal:
    return from_minor_units(units, settings.SHOP_CURRENCY)


def _sum(expression, **extra):
    return minor_units_sum(expression, currency=settings.SHOP_CURRENCY, **extra)


def _sales_figures(day) -> Iterator[DailyFigure]:
    start, end = day_window(day)
    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    earlier = Order.objects.filter(email=OuterRef("email"), paid_at__lt=OuterRef("paid_at"))
    totals = paid.annotate(returning=Exists(earlier)).aggregate(
        orders=Count("id"),
        revenue=_sum("total"),
        merchandise=_sum("subtotal"),
        discounts=_sum("discount_total"),
        shipping=_sum("shipping_total"),
        returning_orders=Count("id", filter=Q(returning=True)),
        new_customers=Count("email", distinct=True, filter=Q(returning=False)),
    )
    for measure, value in totals.items():
        yield _figure(day, measure, _money(value) if measure in MONEY else value)
    came = OrderVisit.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end)
    known = {"orders": 0, "revenue": 0}
    for dimension in ORDER_DIMENSIONS:
        for row in came.values(dimension).annotate(orders=Count("order_id"), revenue=_sum("order__total")):
            yield _figure(day, "orders", row["orders"], dimension, row[dimension])
            yield _figure(day, "revenue", _money(row["revenue"]), dimension, row[dimension])
            if dimension == ORDER_DIMENSIONS[0]:
                known["orders"] += row["orders"]
                known["revenue"] += row["revenue"] or 0
    unknown_orders = totals["orders"] - known["orders"]
    if unknown_orders:
        unknown_revenue = _money((totals["revenue"] or 0) - known["revenue"])
        for dimension in ORDER_DIMENSIONS:
            yield _figure(day, "orders", unknown_orders, dimension, "unknown")
            yield _figure(day, "revenue", unknown_revenue, dimension, "unknown")
    lines = OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end)
    units = 0
    for dimension, field in (("product", "product_id"), ("category", "product__category_id")):
        rows = lines.values(field).annotate(units=Sum("quantity"), revenue=_sum(F("subtotal") - F("discount")))
        for row in rows:
            key = row[field] if row[field] is not None else "unknown"
            yield _figure(day, "units", row["units"], dimension, key)
            yield _figure(day, "line_revenue", _money(row["revenue"]), dimension, key)
            if dimension == "product":
                units += row["units"] or 0
    yield _figure(day, "units", units)


def _refund_figures(day) -> Iterator[DailyFigure]:
    start, end = day_window(day)
    rows = OrderEvent.objects.filter(
        kind__in=[EventKind.REFUNDED, EventKind.PARTIALLY_REFUNDED], created_at__gte=start, created_at__lt=end
    ).values_list("data", flat=True)
    yield _figure(day, "refunds", sum((Decimal(data.get("amount") or 0) for data in rows), Decimal(0)))


def build_day(day: dt.date) -> int:
    """Build one day's figures, replacing the ones it had; the number of rows written."""
    figures = figures_for_day(day)
    with transaction.atomic():
        DailyFigure.objects.filter(day=day).delete()
        DailyFigure.objects.bulk_create(figures, batch_size=1000)
        BuiltDay.objects.update_or_create(day=day, defaults={"built_at": timezone.now()})
    return len(figures)


def days_to_build(*, since: dt.date | None = None, again: int = 2) -> list[dt.date]:
    """Past days with no figures yet (from the first event or order, or `since`), and the last `again` again."""
    last = today() - dt.timedelta(days=1)
    first = since or _first_day()
    if first is None or first > last:
        return []
    built = set(BuiltDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True))
    recent = {last - dt.timedelta(days=n) for n in range(again)}
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [d for d in days if d not in built or d in recent]


def _first_day() -> dt.date | None:
    event = Event.objects.order_by("day").values_list("day", flat=True).first()
    paid = Order.objects.exclude(paid_at=None).order_by("paid_at").values_list("paid_at", flat=True).first()
    days = [d for d in (event, paid.astimezone(zone()).date() if paid else None) if d is not None]
    return min(days) if days else None
