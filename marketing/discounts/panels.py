"""The promotions' panel on the analytics dashboards (settings.ANALYTICS_PANELS).

A panel is a function of the period's first and last moments that returns a plain dict: its
title, the template that shows it, its context and a table for the CSV download. The analytics
app renders it without knowing this app. Its figures are daily ones this app adds to the
analytics rollups (`daily_figures`, settings.ANALYTICS_DAILY_SOURCES), so a year's panel reads a
few hundred rows, never the year's orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from marketing.discounts.models import Promotion, Redemption
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import Order

TOP = 15


def daily_figures(first: dt.date, last: dt.date, zone: dt.tzinfo) -> Iterator[tuple]:
    """This app's daily figures for the analytics rollups (settings.ANALYTICS_DAILY_SOURCES), grouped
    by the store day an order was paid: per promotion its uses, the discount it gave and the revenue
    of its orders; and the orders that used no promotion, with their revenue. (day, measure,
    dimension, key, value) tuples, amounts in the store's currency."""
    currency = settings.SHOP_CURRENCY
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    rows = (
        Redemption.objects.filter(order__in=paid, status=Redemption.Status.ACTIVE)
        .annotate(day=TruncDate("order__paid_at", tzinfo=zone))
        .values("day", "promotion_id")
        .annotate(
            uses=Count("id"),
            discount=minor_units_sum("amount", currency=currency),
            revenue=minor_units_sum("order__total", currency=currency),
        )
    )
    for row in rows:
        key = row["promotion_id"]
        yield row["day"], "promotion_uses", "promotion", key, row["uses"]
        yield row["day"], "promotion_discount", "promotion", key, from_minor_units(row["discount"], currency)
        yield row["day"], "promotion_revenue", "promotion", key, from_minor_units(row["revenue"], currency)
    without = (
        paid.exclude(Exists(Redemption.objects.filter(order=OuterRef("pk"))))
        .annotate(day=TruncDate("paid_at", tzinfo=zone))
        .values("day")
        .annotate(orders=Count("id"), revenue=minor_units_sum("total", currency=currency))
    )
    for row in without:
        yield row["day"], "orders_without_promotion", "", "", row["orders"]
        yield row["day"], "revenue_without_promotion", "", "", from_minor_units(row["revenue"], currency)


def promotions(start: dt.datetime, end: dt.datetime, *, figures) -> dict:
    """Each promotion's uses, discount given and revenue for orders paid in the period; the average
    order with it beside the average order of orders that used no promotion at all. Read from the
    daily figures `daily_figures` adds (`figures(measures, dimension)` sums them over the period)."""
    split = figures(["promotion_uses", "promotion_discount", "promotion_revenue"], dimension="promotion")
    uses = {key: int(value) for (measure, key), value in split.items() if measure == "promotion_uses" and value}
    names = dict(Promotion.objects.filter(pk__in=[k for k in uses if k.isdigit()]).values_list("pk", "name"))
    top = sorted(uses, key=lambda k: (-uses[k], k))[:TOP]
    table = []
    for key in top:
        revenue = split.get(("promotion_revenue", key), Decimal(0))
        table.append({
            "promotion": names.get(int(key), _("(deleted)")) if key.isdigit() else key,
            "uses": uses[key],
            "discount": split.get(("promotion_discount", key), Decimal(0)),
            "revenue": revenue,
            "average_order": revenue / uses[key],
        })  # fmt: skip
    without = figures(["orders_without_promotion", "revenue_without_promotion"])
    orders_without = int(without["orders_without_promotion"])
    average_without = without["revenue_without_promotion"] / orders_without if orders_without else None
    return {
        "key": "promotions",
        "title": _("Promotions and codes"),
        "template": "discounts/analytics_panel.html",
        "context": {"rows": table, "average_without": average_without, "orders_without": orders_without},
        "columns": ["promotion", "uses", "discount", "revenue", "average_order"],
        "table": table,
    }
