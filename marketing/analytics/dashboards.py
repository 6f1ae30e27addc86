"""What each dashboard shows: figures for a period beside a compared one, daily series, tables.

Pure reads of the daily figures (reports.py), shared by the admin pages, their CSV downloads and
the staff API: each builder returns plain data (Decimals, dates, strings).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from marketing.analytics import reports, rollups
from marketing.analytics.reports import Period, change, ratio
from shop.catalog.models import Category, Product

TOP = 10


def _card(key, label, now, before, *, kind="count", help_text=""):
    return {"key": key, "label": label, "value": now, "before": before, "change": change(now, before),
            "kind": kind, "help": help_text}  # fmt: skip


GROUPS = {"day": _("day"), "week": _("week"), "month": _("month")}


def _bucket(day, group: str):
    """The first day of the day's week (Monday) or month; the day itself by day."""
    if group == "week":
        return day - dt.timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    return day


def grouped(days: list, series: dict[str, list[Decimal]], group: str) -> tuple[list, dict[str, list[Decimal]]]:
    """Daily series summed by week or month: the buckets' first days, and each series per bucket."""
    buckets: list = []
    out: dict[str, list[Decimal]] = {name: [] for name in series}
    for i, day in enumerate(days):
        bucket = _bucket(day, group)
        if not buckets or buckets[-1] != bucket:
            buckets.append(bucket)
            for name in series:
                out[name].append(Decimal(0))
        for name, values in series.items():
            out[name][-1] += values[i]
    return buckets, out


def sales(p: Period, compare: str, group: str = "day") -> dict:
    measures = ["orders", "revenue", "units", "refunds", "discounts", "shipping", "new_customers", "returning_orders"]
    now = reports.totals(p, measures)
    q = p.before(compare)
    was = reports.totals(q, measures) if q else {}

    def avg(t):
        return ratio(t.get("revenue", Decimal(0)), t.get("orders", Decimal(0)))

    def net(t):
        return t.get("revenue", Decimal(0)) - t.get("refunds", Decimal(0))

    cards = [
        _card("revenue", _("Revenue"), now["revenue"], was.get("revenue"), kind="money",
              help_text=_("What customers paid for the orders paid in the period: after discounts and points, "
                          "shipping included, before refunds.")),
        _card("net_revenue", _("Net revenue"), net(now), net(was) if q else None, kind="money",
              help_text=_("Revenue less the refunds made in the period.")),
        _card("orders", _("Orders"), now["orders"], was.get("orders"),
              help_text=_("Orders paid in the period, whatever became of them later.")),
        _card("average_order", _("Average order"), avg(now), avg(was) if q else None, kind="money",
              help_text=_("Revenue divided by orders.")),
        _card("units", _("Units sold"), now["units"], was.get("units")),
        _card("refunds", _("Refunds"), now["refunds"], was.get("refunds"), kind="money",
              help_text=_("Amounts refunded in the period, whenever their orders were paid.")),
        _card("discounts", _("Discounts given"), now["discounts"], was.get("discounts"), kind="money"),
        _card("new_customers", _("New customers"), now["new_customers"], was.get("new_customers"),
              help_text=_("Customers (one email, guests included) whose first paid order falls in the period.")),
    ]  # fmt: skip
    buckets, series = grouped(p.days, reports.daily(p, ["revenue", "orders", "units", "refunds"]), group)
    before_series = None
    if q and len(q) == len(p):
        before_series = grouped(q.days, reports.daily(q, ["revenue"]), group)[1]["revenue"]
    days = [
        {"day": day, "orders": series["orders"][i], "revenue": series["revenue"][i], "units": series["units"][i],
         "refunds": series["refunds"][i]}
        for i, day in enumerate(buckets)
    ]  # fmt: skip
    return {
        "cards": cards,
        "group": group,
        "days": days,
        "revenue": series["revenue"],
        "revenue_before": before_series,
        "products": _top(p, "product", Product),
        "categories": _top(p, "category", Category),
    }


def _top(p: Period, dimension: str, model) -> list[dict]:
    rows = reports.totals(p, ["line_revenue", "units"], dimension=dimension)
    revenue = {key: v for (m, key), v in rows.items() if m == "line_revenue"}
    best = sorted(revenue, key=lambda k: revenue[k], reverse=True)[:TOP]
    names = dict(model.objects.filter(pk__in=[k for k in best if k.isdigit()]).values_list("pk", "name"))
    return [
        {"key": k, "name": names.get(int(k), _("(deleted)")) if k.isdigit() else _("(unknown)"),
         "revenue": revenue[k], "units": rows.get(("units", k), Decimal(0))}
        for k in best
    ]  # fmt: skip


def marketing(p: Period, compare: str) -> dict:
    """The panels other apps add (settings.ANALYTICS_PANELS), each for the period's moments."""
    start, end = rollups.day_window(p.start)[0], rollups.day_window(p.end)[1]
    return {"panels": [import_string(path)(start, end) for path in settings.ANALYTICS_PANELS]}


FUNNEL_STEPS = [
    ("visits", _("Visits")),
    ("visits_viewing_item", _("Viewed a product")),
    ("visits_adding", _("Added to cart")),
    ("visits_checking_out", _("Started checkout")),
    ("visits_buying", _("Paid")),
]


def funnel(p: Period, compare: str) -> dict:
    measures = [m for m, _label in FUNNEL_STEPS]
    now = reports.totals(p, [*measures, "page_views"])
    q = p.before(compare)
    was = reports.totals(q, measures) if q else {}
    steps, previous = [], None
    for measure, label in FUNNEL_STEPS:
        value = now[measure]
        steps.append({
            "key": measure, "label": label, "value": value, "before": was.get(measure),
            "change": change(value, was.get(measure)),
            "of_previous": ratio(value, previous) if previous is not None else None,
            "of_visits": ratio(value, now["visits"]),
        })  # fmt: skip
        previous = value
    abandonment = None
    if now["visits_adding"]:
        abandonment = 1 - now["visits_buying"] / now["visits_adding"]
    return {
        "steps": steps,
        "page_views": now["page_views"],
        "conversion": ratio(now["visits_buying"], now["visits"]),
        "conversion_before": ratio(was.get("visits_buying", Decimal(0)), was.get("visits", Decimal(0))) if q else None,
        "abandonment": abandonment,
        "by_device": _split(p, "device"),
        "by_source": _split(p, "source"),
        "by_medium": _split(p, "medium"),
    }


def _split(p: Period, dimension: str) -> list[dict]:
    rows = reports.totals(p, ["visits", "visits_adding", "visits_buying"], dimension=dimension)
    keys = sorted({k for _m, k in rows}, key=lambda k: rows.get(("visits", k), 0), reverse=True)[:TOP]
    out = []
    for key in keys:
        visits = rows.get(("visits", key), Decimal(0))
        buying = rows.get(("visits_buying", key), Decimal(0))
        out.append({"key": key, "visits": visits, "adding": rows.get(("visits_adding", key), Decimal(0)),
                    "buying": buying, "conversion": ratio(buying, visits)})  # fmt: skip
    return out
