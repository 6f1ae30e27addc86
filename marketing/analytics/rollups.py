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
- people: `orders` and `revenue` by two of the shipping region, the customer's age band that day
  and their gender at once (`region×age`, `region×gender`, `age×gender`; "unknown" for guests).
- `returning_revenue`: what the orders of returning customers paid; `product_orders`, by product:
  the orders with the product (its view-to-purchase rate is these over its views).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone
from django.utils.module_loading import import_string

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
MONEY = {"revenue", "returning_revenue", "merchandise", "discounts", "shipping", "line_revenue", "refunds"}


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
    """Every figure of one day (unsaved)."""
    return figures_for_days(day, day)[day]


def figures_for_days(first: dt.date, last: dt.date) -> dict[dt.date, list[DailyFigure]]:
    """Every figure of each day from `first` to `last` (unsaved): a fixed number of queries, each
    grouped by day, whatever the range holds. Each day has its totals, zeros included."""
    days: dict[dt.date, list[DailyFigure]] = {first + dt.timedelta(days=n): [] for n in range((last - first).days + 1)}
    for figure in (
        *_visit_figures(first, last, days),
        *_product_figures(first, last),
        *_sales_figures(first, last, days),
        *_refund_figures(first, last, days),
        *_people_figures(first, last),
        *_app_figures(first, last),
    ):
        days[figure.day].append(figure)
    return days


def _window(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return day_window(first)[0], day_window(last)[1]


def _store_date(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=zone())


def _visit_figures(first, last, days) -> Iterator[DailyFigure]:
    events = Event.objects.filter(day__gte=first, day__lte=last)
    counts = {"visits": Count("visit", distinct=True)}
    counts |= {m: Count("visit", distinct=True, filter=Q(name=name)) for m, name in FUNNEL.items()}
    for dimension in VISIT_DIMENSIONS:
        seen = set()
        group = ["day", dimension] if dimension else ["day"]
        for row in events.exclude(visit=None).values(*group).annotate(**counts):
            key = row[dimension] if dimension else ""
            if dimension == "campaign" and not key:
                continue
            seen.add(row["day"])
            for measure in counts:
                if row[measure] or not dimension:
                    yield _figure(row["day"], measure, row[measure], dimension, key)
        if not dimension:
            for day in days.keys() - seen:
                for measure in counts:
                    yield _figure(day, measure, 0)
    page_views = events.filter(name=EventName.PAGE_VIEW)
    views = {row["day"]: row["n"] for row in page_views.values("day").annotate(n=Count("id"))}
    for day in days:
        yield _figure(day, "page_views", views.get(day, 0))
    rows = page_views.values("day", "device").annotate(n=Count("id"))
    for row in rows:
        yield _figure(row["day"], "page_views", row["n"], "device", row["device"])


def _product_figures(first, last) -> Iterator[DailyFigure]:
    rows = (
        Event.objects.filter(day__gte=first, day__lte=last, name__in=[EventName.VIEW_ITEM, EventName.ADD_TO_CART])
        .exclude(product=None)
        .values("day", "product_id")
        .annotate(
            views=Count("id", filter=Q(name=EventName.VIEW_ITEM)),
            adds=Sum("quantity", filter=Q(name=EventName.ADD_TO_CART)),
        )
    )
    for row in rows:
        if row["views"]:
            yield _figure(row["day"], "product_views", row["views"], "product", row["product_id"])
        if row["adds"]:
            yield _figure(row["day"], "product_adds", row["adds"], "product", row["product_id"])


def _money(units) -> Decimal:
    return from_minor_units(units, settings.SHOP_CURRENCY)


def _sum(expression, **extra):
    return minor_units_sum(expression, currency=settings.SHOP_CURRENCY, **extra)


SALES = ["orders", "revenue", "merchandise", "discounts", "shipping", "returning_orders", "returning_revenue",
         "new_customers"]  # fmt: skip


def _sales_figures(first, last, days) -> Iterator[DailyFigure]:
    start, end = _window(first, last)
    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    earlier = Order.objects.filter(email=OuterRef("email"), paid_at__lt=OuterRef("paid_at"))
    rows = (
        paid.annotate(returning=Exists(earlier), paid_day=_store_date("paid_at"))
        .values("paid_day")
        .annotate(
            orders=Count("id"),
            revenue=_sum("total"),
            merchandise=_sum("subtotal"),
            discounts=_sum("discount_total"),
            shipping=_sum("shipping_total"),
            returning_orders=Count("id", filter=Q(returning=True)),
            returning_revenue=_sum("total", filter=Q(returning=True)),
            new_customers=Count("email", distinct=True, filter=Q(returning=False)),
        )
    )
    totals = {row["paid_day"]: row for row in rows}
    for day in days:
        row = totals.get(day, {})
        for measure in SALES:
            value = row.get(measure)
            yield _figure(day, measure, _money(value) if measure in MONEY else value)
    came = OrderVisit.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end).annotate(
        paid_day=_store_date("order__paid_at")
    )
    known = defaultdict(lambda: [0, 0])  # day: [orders, revenue in minor units] the visits account for
    for dimension in ORDER_DIMENSIONS:
        for row in came.values("paid_day", dimension).annotate(orders=Count("order_id"), revenue=_sum("order__total")):
            day = row["paid_day"]
            yield _figure(day, "orders", row["orders"], dimension, row[dimension])
            yield _figure(day, "revenue", _money(row["revenue"]), dimension, row[dimension])
            if dimension == ORDER_DIMENSIONS[0]:
                known[day][0] += row["orders"]
                known[day][1] += row["revenue"] or 0
    for day, row in totals.items():
        orders, revenue = known[day]
        if row["orders"] - orders:
            for dimension in ORDER_DIMENSIONS:
                yield _figure(day, "orders", row["orders"] - orders, dimension, "unknown")
                yield _figure(day, "revenue", _money((row["revenue"] or 0) - revenue), dimension, "unknown")
    lines = OrderLine.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end).annotate(
        paid_day=_store_date("order__paid_at")
    )
    units = defaultdict(int)
    for dimension, field in (("product", "product_id"), ("category", "product__category_id")):
        rows = lines.values("paid_day", field).annotate(
            units=Sum("quantity"), revenue=_sum(F("subtotal") - F("discount")), orders=Count("order_id", distinct=True)
        )
        for row in rows:
            day, key = row["paid_day"], row[field] if row[field] is not None else "unknown"
            yield _figure(day, "units", row["units"], dimension, key)
            yield _figure(day, "line_revenue", _money(row["revenue"]), dimension, key)
            if dimension == "product":
                units[day] += row["units"] or 0
                yield _figure(day, "product_orders", row["orders"], dimension, key)
    for day in days:
        yield _figure(day, "units", units[day])


AGE_BANDS = [(18, "18–24"), (25, "25–34"), (35, "35–44"), (45, "45–54"), (55, "55–64"), (65, "65+")]
CROSSES = [("region", "age"), ("region", "gender"), ("age", "gender")]


def age_band(birthday: dt.date | None, on: dt.date) -> str:
    """The customer's age band on a day: "under 18", "18–24" ... "65+", or "unknown"."""
    if birthday is None:
        return "unknown"
    age = on.year - birthday.year - ((on.month, on.day) < (birthday.month, birthday.day))
    band = "under 18"
    for start, label in AGE_BANDS:
        if age >= start:
            band = label
    return band


def cross_dimension(a: str, b: str) -> str:
    """The dimension of a figure split by two traits at once, e.g. "region×age"."""
    return f"{a}×{b}"


def _people_figures(first, last) -> Iterator[DailyFigure]:
    """Orders and revenue by the shipping region and the customer's age band and gender, two at a
    time ("unknown" for a guest or a trait not given): keys are "US-CA|25–34"."""
    start, end = _window(first, last)
    rows = (
        Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
        .annotate(paid_day=_store_date("paid_at"))
        .values_list(
            "paid_day",
            "shipping_country",
            "shipping_region",
            "user__profile__gender",
            "user__profile__birthday",
            "total",
        )  # fmt: skip
    )
    sums: dict = defaultdict(lambda: [0, Decimal(0)])
    for day, country, region, gender, birthday, total in rows:
        traits = {
            "region": f"{country}-{region}" if region else (country or "unknown"),
            "age": age_band(birthday, day),
            "gender": gender or "unknown",
        }
        for a, b in CROSSES:
            entry = sums[(day, cross_dimension(a, b), f"{traits[a]}|{traits[b]}")]
            entry[0] += 1
            entry[1] += total
    for (day, dimension, key), (orders, revenue) in sums.items():
        yield _figure(day, "orders", orders, dimension, key)
        yield _figure(day, "revenue", revenue, dimension, key)


def _app_figures(first, last) -> Iterator[DailyFigure]:
    """What other apps add to each day (settings.ANALYTICS_DAILY_SOURCES: functions of the first and
    last day and the store's time zone yielding (day, measure, dimension, key, value)), read back by
    their panels: this app imports none of them."""
    for path in settings.ANALYTICS_DAILY_SOURCES:
        for day, measure, dimension, key, value in import_string(path)(first, last, zone()):
            yield _figure(day, measure, value, dimension, key)


def _refund_figures(first, last, days) -> Iterator[DailyFigure]:
    start, end = _window(first, last)
    rows = OrderEvent.objects.filter(
        kind__in=[EventKind.REFUNDED, EventKind.PARTIALLY_REFUNDED], created_at__gte=start, created_at__lt=end
    ).values_list("created_at", "data")
    refunds = defaultdict(Decimal)
    for at, data in rows:
        refunds[at.astimezone(zone()).date()] += Decimal(data.get("amount") or 0)
    for day in days:
        yield _figure(day, "refunds", refunds[day])


def build_day(day: dt.date) -> int:
    """Build one day's figures, replacing the ones it had; the number of rows written."""
    return build_days(day, day)


def sweep_purchases(first: dt.date, last: dt.date) -> int:
    """Orders paid on these days whose purchase never reached the event log (recording stepped
    aside, a process died after the payment): recorded now, as the order's visit's, in three
    queries whatever their number. The number recorded."""
    from marketing.analytics.receivers import ORDER_FIELDS, build_order_event
    from shop.core.tracking import Fact

    start, end = _window(first, last)
    logged = Event.objects.filter(name=EventName.PURCHASE, order_id=OuterRef("pk"))
    missing = list(
        Order.objects.filter(paid_at__gte=start, paid_at__lt=end).exclude(Exists(logged)).only(*ORDER_FIELDS, "paid_at")
    )
    if not missing:
        return 0
    came = {v.order_id: v for v in OrderVisit.objects.filter(order_id__in=[o.pk for o in missing])}
    rows = [build_order_event(Fact(EventName.PURCHASE, o.paid_at, {}), o, came.get(o.pk)) for o in missing]
    Event.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def build_days(first: dt.date, last: dt.date) -> int:
    """Build the figures of every day from `first` to `last`, replacing theirs, in one transaction
    (after recording the purchases the log missed)."""
    sweep_purchases(first, last)
    figures = figures_for_days(first, last)
    now = timezone.now()
    with transaction.atomic():
        DailyFigure.objects.filter(day__gte=first, day__lte=last).delete()
        DailyFigure.objects.bulk_create([f for day in figures.values() for f in day], batch_size=2000)
        BuiltDay.objects.filter(day__gte=first, day__lte=last).delete()
        BuiltDay.objects.bulk_create([BuiltDay(day=day, built_at=now, version=VERSION) for day in figures])
        _build_months(first, last)
    return sum(len(day) for day in figures.values())


# Splits with many keys (a thousand products) are also summed by month, so a year reads 12 rows a
# key instead of 365: `monthly(dimension)` rows, dated the month's first day, are the sums of the
# month's daily rows, built again with any of its days (reports.totals reads them for whole months).
MONTHLY = ["product", "category"]


def monthly(dimension: str) -> str:
    return f"{dimension}/month"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _build_months(first: dt.date, last: dt.date) -> None:
    """The monthly sums of the months these days fall in, replaced (inside the caller's transaction)."""
    start, end = month_start(first), month_end(last)
    DailyFigure.objects.filter(day__gte=start, day__lte=end, dimension__in=[monthly(d) for d in MONTHLY]).delete()
    rows = (
        DailyFigure.objects.filter(day__gte=start, day__lte=end, dimension__in=MONTHLY)
        .annotate(month=TruncMonth("day"))
        .values("month", "measure", "dimension", "key")
        .annotate(total=minor_units_sum("value", currency=settings.SHOP_CURRENCY))
    )
    DailyFigure.objects.bulk_create(
        [
            _figure(row["month"], row["measure"], _money(row["total"]), monthly(row["dimension"]), row["key"])
            for row in rows
        ],
        batch_size=2000,
    )


def runs(days: list[dt.date], longest: int = 31) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) runs of at most `longest` days: what build_days takes."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if out and day == out[-1][1] + dt.timedelta(days=1) and (day - out[-1][0]).days < longest:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


# Raised when a change adds figures to a day: the job then builds its days again (within LOOKBACK_DAYS).
# 2: people crossed, returning revenue, product orders, monthly sums, the apps' daily sources.
VERSION = 2
LOOKBACK_DAYS = 400  # how far back the hourly job looks for days not built: older ones are the command's


def days_to_build(*, since: dt.date | None = None, again: int = 2) -> list[dt.date]:
    """Past days with no figures yet (from the first event or order, or `since`; the job looks back
    LOOKBACK_DAYS at most, so a log imported from years ago is not followed by years of empty days),
    and the last `again` again."""
    last = today() - dt.timedelta(days=1)
    first = since or _first_day()
    if first is not None and since is None:
        first = max(first, last - dt.timedelta(days=LOOKBACK_DAYS))
    if first is None or first > last:
        return []
    built = set(
        BuiltDay.objects.filter(day__gte=first, day__lte=last, version__gte=VERSION).values_list("day", flat=True)
    )
    recent = {last - dt.timedelta(days=n) for n in range(again)}
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [d for d in days if d not in built or d in recent]


def _first_day() -> dt.date | None:
    event = Event.objects.order_by("day").values_list("day", flat=True).first()
    paid = Order.objects.exclude(paid_at=None).order_by("paid_at").values_list("paid_at", flat=True).first()
    days = [d for d in (event, paid.astimezone(zone()).date() if paid else None) if d is not None]
    return min(days) if days else None
