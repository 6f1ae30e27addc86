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
from shop.core.money import decimal_places

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
    ranked = _ranked(p)
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
        **ranked,
        # The products' figures are read once (the heaviest read of the page): the best by revenue are these.
        "products": [{k: row[k] for k in ("key", "name", "revenue", "units")} for row in ranked["best_revenue"]],
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


MIN_VIEWS = 20  # a view-to-purchase rate is ranked only over this many views


def _ranked(p: Period) -> dict:
    """Products viewed or sold in the period: best and worst by revenue and by view-to-purchase rate."""
    rows = reports.totals(p, ["line_revenue", "units", "product_views", "product_orders"], dimension="product")
    keys = {k for _m, k in rows}
    names = dict(Product.objects.filter(pk__in=[k for k in keys if k.isdigit()]).values_list("pk", "name"))
    ranked = []
    for k in keys:
        views, orders = rows.get(("product_views", k), Decimal(0)), rows.get(("product_orders", k), Decimal(0))
        name = names.get(int(k), _("(deleted)")) if k.isdigit() else _("(unknown)")
        ranked.append({
            "key": k, "name": name, "views": views, "orders": orders,
            "units": rows.get(("units", k), Decimal(0)), "revenue": rows.get(("line_revenue", k), Decimal(0)),
            "rate": ratio(orders, views),
        })  # fmt: skip
    by_revenue = sorted(ranked, key=lambda r: (r["revenue"], r["units"], r["key"]))
    rated = sorted((r for r in ranked if r["views"] >= MIN_VIEWS), key=lambda r: (r["rate"], r["views"], r["key"]))
    return {
        "ranked": sorted(ranked, key=lambda r: (-r["revenue"], r["key"])),
        "best_revenue": by_revenue[::-1][:TOP],
        "worst_revenue": by_revenue[:TOP],
        "best_rate": rated[::-1][:TOP],
        "worst_rate": rated[:TOP],
        "min_views": MIN_VIEWS,
    }


def marketing(p: Period, compare: str) -> dict:
    """The panels other apps add (settings.ANALYTICS_PANELS), each for the period's moments."""
    start, end = rollups.day_window(p.start)[0], rollups.day_window(p.end)[1]

    def figures(measures: list[str], dimension: str = "") -> dict:
        return reports.totals(p, measures, dimension=dimension)

    return {"panels": [import_string(path)(start, end, figures=figures) for path in settings.ANALYTICS_PANELS]}


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


# --- Customers ---------------------------------------------------------------------------------------------------

TRAITS = {"region": _("region"), "age": _("age band"), "gender": _("gender")}
TRAIT_CHOICES = list(TRAITS)
COHORT_MONTHS = 12  # columns of the retention heat map: the first order's month and 11 after it


def customers(p: Period, compare: str, rows: str = "region", cols: str = "age") -> dict:
    """New and returning customers in the period; segments, cohorts and lifetime value as of the last scoring."""
    from marketing.analytics import customers as scoring
    from marketing.analytics.models import Segment

    measures = ["orders", "revenue", "new_customers", "returning_orders", "returning_revenue"]
    now = reports.totals(p, measures)
    q = p.before(compare)
    was = reports.totals(q, measures) if q else {}

    def share(t):
        return ratio(t.get("returning_revenue", Decimal(0)), t.get("revenue", Decimal(0)))

    cards = [
        _card("new_customers", _("New customers"), now["new_customers"], was.get("new_customers"),
              help_text=_("Customers (one email, guests included) whose first paid order falls in the period.")),
        _card("returning_orders", _("Orders from returning customers"), now["returning_orders"],
              was.get("returning_orders"), help_text=_("Paid orders of customers who had paid for one before.")),
        _card("returning_revenue", _("Revenue from returning customers"), now["returning_revenue"],
              was.get("returning_revenue"), kind="money"),
        _card("returning_share", _("Share of revenue from returning customers"), share(now),
              share(was) if q else None, kind="percent"),
    ]  # fmt: skip
    snapshot = scoring.latest(by=p.end)
    out = {"cards": cards, "as_of": None, "cross": cross(p, rows, cols), "rows": rows, "cols": cols,
           "rows_label": TRAITS[rows], "cols_label": TRAITS[cols]}  # fmt: skip
    if snapshot is None:
        return out
    data = snapshot.data
    places = Decimal(1).scaleb(-decimal_places(settings.SHOP_CURRENCY))
    total = snapshot.customers

    def cents(value) -> Decimal:
        return reports.from_cents(value)

    segments = []
    for row in data["segments"]:
        segments.append({
            "key": row["key"], "name": Segment(row["key"]).label, "note": scoring.SEGMENT_NOTES[row["key"]],
            "customers": row["customers"], "share": ratio(Decimal(row["customers"]), Decimal(total)),
            "revenue": cents(row["cents"]), "orders": row["orders"],
            "recency": None if row["recency"] is None else round(Decimal(row["recency"])),
            "predicted": None if row["predicted"] is None else Decimal(row["predicted"]).quantize(places),
        })  # fmt: skip
    clv = data["clv"]
    out |= {
        "as_of": snapshot.as_of,
        "customers": total,
        "repeat_rate": ratio(Decimal(data["repeat_customers"]), Decimal(total)),
        "historical": cents(data["revenue_cents"]),
        "average_historical": ratio(cents(data["revenue_cents"]), Decimal(total)),
        "segments": segments,
        "cohorts": _cohort_rows(data["cohorts"], p),
        "clv": {
            "months": clv["months"],
            "fitted": clv["fitted"],
            "method": clv.get("method", ""),
            "parameters": clv.get("parameters", {}),
            "correlation": clv.get("correlation"),
            "predicted": Decimal(clv["predicted"]).quantize(places) if clv["fitted"] else None,
            "average_predicted": Decimal(clv["average_predicted"]).quantize(places) if clv["fitted"] else None,
            "alive": Decimal(clv["alive"]).quantize(Decimal("0.0001")) if clv["fitted"] else None,
        },
        "check": data.get("check"),
        "top": [
            {
                **row,
                "segment": Segment(row["segment"]).label,
                "revenue": Decimal(row["revenue"]),
                "alive": Decimal(row["alive"]),  # named customers all have a prediction, so a chance too
                "predicted": Decimal(row["predicted"]),
            }
            for row in data.get("top", [])
        ],  # fmt: skip
    }
    return out


def _cohort_rows(cohorts: list[dict], p: Period) -> list[dict]:
    """The cohorts whose first month falls in the period (the 12 latest), each month's share still buying."""
    first, last = p.start.strftime("%Y-%m"), p.end.strftime("%Y-%m")
    chosen = [c for c in cohorts if first <= c["month"] <= last][-COHORT_MONTHS:]
    rows = []
    for c in chosen:
        size = Decimal(c["size"])
        shares = [ratio(Decimal(n), size) for n in c["active"][:COHORT_MONTHS]]
        row = {"month": dt.date.fromisoformat(c["month"] + "-01"), "size": c["size"],
               "active": c["active"][:COHORT_MONTHS], "shares": shares,
               "revenue": reports.from_cents(sum(c["cents"]))}  # fmt: skip
        row |= {f"month_{k}": n for k, n in enumerate(row["active"])}  # flat, for the CSV
        rows.append(row)
    return rows


def cross(p: Period, rows: str, cols: str) -> dict:
    """Orders and revenue in the period by two traits: {"rows": [...], "cols": [...], "cells": {row: {col: {...}}}}."""
    pair = (rows, cols)
    stored = next(((a, b) for a, b in rollups.CROSSES if {a, b} == set(pair)), None)
    if stored is None:
        raise ValueError(f"no figures split by {rows} and {cols}")
    flipped = stored != pair
    figures = reports.totals(p, ["orders", "revenue"], dimension=rollups.cross_dimension(*stored))
    cells: dict[str, dict[str, dict]] = {}
    for (measure, key), value in figures.items():
        a, _sep, b = key.partition("|")
        r, c = (b, a) if flipped else (a, b)
        cells.setdefault(r, {}).setdefault(c, {"orders": Decimal(0), "revenue": Decimal(0)})[measure] = value
    row_keys = sorted(cells, key=lambda k: -sum(v["revenue"] for v in cells[k].values()))
    col_keys = sorted({c for r in cells.values() for c in r}, key=_trait_order)
    if rows != "region":
        row_keys = sorted(cells, key=_trait_order)
    return {"rows": row_keys, "cols": col_keys, "cells": cells,
            "max": max((v["revenue"] for r in cells.values() for v in r.values()), default=Decimal(0))}  # fmt: skip


def _trait_order(key: str):
    """Age bands by age, then the rest by name, unknown last."""
    return (key == "unknown", key != "under 18", key)


# --- Forecast ----------------------------------------------------------------------------------------------------

FORECAST_WEEKS = 8  # weeks ahead
HISTORY_WEEKS = 26  # weeks of history on the chart
BACKTEST_ORIGINS = 12  # past weeks each method is tried from
METHODS = {
    "naive": (_("Last week again"),
              _("Each coming week's revenue is the last full week's.")),
    "average": (_("Average of the last 4 weeks"),
                _("Each coming week's revenue is the average of the last 4 full weeks'.")),
    "seasonal": (_("Same week last year"),
                 _("Each coming week's revenue is the same week's a year before (seasonal naive, 52 weeks).")),
    "seasonal_trend": (_("Same week last year × this year's trend"),
                       _("The same week a year before, times how the last 8 weeks compare with the same 8 weeks "
                         "a year before (seasonal naive with growth).")),
}  # fmt: skip
METHOD_CHOICES = list(METHODS)


def _weekly(days: list[dt.date], revenue: list[Decimal]) -> tuple[list[dt.date], list[Decimal]]:
    weeks, totals = grouped(days, {"revenue": revenue}, "week")
    return weeks, totals["revenue"]


def _predict(method: str, history: list[Decimal], ahead: int) -> list[Decimal] | None:
    """`ahead` weeks after `history` (weekly revenue, oldest first) by a method; None without enough history."""
    if method == "naive":
        return [history[-1]] * ahead if history else None
    if method == "average":
        return [sum(history[-4:]) / 4] * ahead if len(history) >= 4 else None
    if len(history) < (52 if method == "seasonal" else 60):
        return None
    base = [history[len(history) - 52 + h] for h in range(ahead)]  # ahead is at most 26 weeks
    if method == "seasonal":
        return base
    recent, year_before = sum(history[-8:]), sum(history[-60:-52])
    growth = recent / year_before if year_before else Decimal(1)
    return [b * growth for b in base]


def _backtest(method: str, weekly: list[Decimal], ahead: int) -> list[tuple[Decimal, Decimal]]:
    """(forecast, actual) pairs from forecasting at each of the last BACKTEST_ORIGINS weeks."""
    pairs = []
    for origin in range(len(weekly) - BACKTEST_ORIGINS, len(weekly)):
        if origin < 1:
            continue
        predicted = _predict(method, weekly[:origin], ahead)
        if predicted is None:
            continue
        pairs += [(f, weekly[origin + h]) for h, f in enumerate(predicted) if origin + h < len(weekly)]
    return pairs


def forecast(p: Period, compare: str, weeks: int = FORECAST_WEEKS) -> dict:
    """Weekly revenue for the `weeks` after the period's last full week, by the method that erred least on the past."""
    today = rollups.today()
    end = min(p.end, today - dt.timedelta(days=1))
    last_sunday = end - dt.timedelta(days=(end.weekday() + 1) % 7)
    start = last_sunday - dt.timedelta(weeks=52 * 2 + BACKTEST_ORIGINS + weeks, days=-1)
    span = Period(start, last_sunday)
    week_starts, weekly = _weekly(span.days, reports.daily(span, ["revenue"])["revenue"])
    first_sale = next((i for i, v in enumerate(weekly) if v), len(weekly))
    week_starts, weekly = week_starts[first_sale:], weekly[first_sale:]  # weeks before the first sale are no history
    methods = []
    for key, (name, description) in METHODS.items():
        pairs = _backtest(key, weekly, weeks)
        actual = sum(a for _f, a in pairs)
        error = sum(abs(f - a) for f, a in pairs)
        methods.append({
            "key": key, "name": name, "description": description, "tested": len(pairs),
            "error": ratio(error, actual) if pairs else None,
            "mean_error": (error / len(pairs)).quantize(Decimal("0.01")) if pairs else None,
            "ratios": sorted(abs(f - a) / a for f, a in pairs if a),
        })  # fmt: skip
    usable = [m for m in methods if m["error"] is not None]
    chosen = min(usable, key=lambda m: m["error"]) if usable else None
    ahead = []
    if chosen is not None:
        predicted = _predict(chosen["key"], weekly, weeks) or []
        spread = _quantile(chosen["ratios"], Decimal("0.8"))
        # What really happened in those weeks, when the period ends before today (a forecast tried on the past).
        later = Period(last_sunday + dt.timedelta(days=1), min(today, last_sunday + dt.timedelta(weeks=weeks)))
        done = _weekly(later.days, reports.daily(later, ["revenue"])["revenue"])[1] if later.start <= later.end else []
        cent = Decimal(1).scaleb(-decimal_places(settings.SHOP_CURRENCY))
        for h, value in enumerate(predicted):
            value = value.quantize(cent)
            week = last_sunday + dt.timedelta(days=1 + 7 * h)
            complete = week + dt.timedelta(days=6) < today
            ahead.append({"week": week, "forecast": value, "low": (value * (1 - spread)).quantize(cent),
                          "high": (value * (1 + spread)).quantize(cent),
                          "actual": done[h] if h < len(done) and complete else None})  # fmt: skip
    for m in methods:
        del m["ratios"]
    history = [{"week": w, "actual": v} for w, v in zip(week_starts, weekly, strict=True)][-HISTORY_WEEKS:]
    return {"weeks": weeks, "origin": last_sunday, "history": history, "ahead": ahead, "methods": methods,
            "chosen": chosen["key"] if chosen else None}  # fmt: skip


def _quantile(values: list[Decimal], q: Decimal) -> Decimal:
    if not values:
        return Decimal(0)
    return min(values[min(len(values) - 1, int(q * len(values)))], Decimal(1))


# --- Each dashboard's own choices --------------------------------------------------------------------------------

WEEKS = [4, 8, 13, 26]
OPTIONS = {
    "sales": {"group": list(GROUPS)},
    "customers": {"rows": list(TRAITS), "cols": list(TRAITS)},
    "forecast": {"weeks": [str(n) for n in WEEKS]},
}
DEFAULTS = {"group": "day", "rows": "region", "cols": "age", "weeks": str(FORECAST_WEEKS)}


class BadOption(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def options(name: str, query, *, strict: bool = True) -> dict:
    """The dashboard's own choices from a query string (the sales' grouping, the customers' two traits,
    the forecast's weeks). Strict (the API): a bad value is a BadOption; else the default is used."""
    out = {}
    for field, allowed in OPTIONS.get(name, {}).items():
        value = query.get(field) or DEFAULTS[field]
        if value not in allowed:
            if strict:
                raise BadOption(field, f"{field} must be one of: {', '.join(allowed)}.")
            value = DEFAULTS[field]
        out[field] = int(value) if field == "weeks" else value
    if out.get("rows") is not None and out["rows"] == out["cols"]:
        if strict:
            raise BadOption("cols", "rows and cols must be two different traits.")
        out["cols"] = next(t for t in TRAITS if t != out["rows"])
    return out
