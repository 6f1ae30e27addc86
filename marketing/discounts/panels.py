"""The promotions' panel on the analytics dashboards (settings.ANALYTICS_PANELS).

A panel is a function of the period's first and last moments that returns a plain dict: its
title, the template that shows it, its context and a table for the CSV download. The analytics
app renders it without knowing this app.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext as _

from marketing.discounts.models import Redemption
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import Order

TOP = 15


def promotions(start: dt.datetime, end: dt.datetime) -> dict:
    """Each promotion's uses, discount given and revenue for orders paid in the period; the average
    order with it beside the average order of orders that used no promotion at all."""
    currency = settings.SHOP_CURRENCY

    def money(units):
        return from_minor_units(units, currency)

    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    rows = (
        Redemption.objects.filter(order__in=paid, status=Redemption.Status.ACTIVE)
        .values("promotion_id", "promotion__name")
        .annotate(
            uses=Count("id"),
            discount=minor_units_sum("amount", currency=currency),
            revenue=minor_units_sum("order__total", currency=currency),
        )
        .order_by("-uses")[:TOP]
    )
    without = paid.exclude(Exists(Redemption.objects.filter(order=OuterRef("pk")))).aggregate(
        orders=Count("id"), revenue=minor_units_sum("total", currency=currency)
    )
    average_without = money(without["revenue"]) / without["orders"] if without["orders"] else None
    table = [
        {
            "promotion": row["promotion__name"],
            "uses": row["uses"],
            "discount": money(row["discount"]),
            "revenue": money(row["revenue"]),
            "average_order": money(row["revenue"]) / row["uses"],
        }
        for row in rows
    ]
    return {
        "key": "promotions",
        "title": _("Promotions and codes"),
        "template": "discounts/analytics_panel.html",
        "context": {"rows": table, "average_without": average_without, "orders_without": without["orders"]},
        "columns": ["promotion", "uses", "discount", "revenue", "average_order"],
        "table": table,
    }
