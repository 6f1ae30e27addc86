"""Each shelf's figures for staff: how often it was seen and chosen from, and what that led to.

A shelf is rendered as `<ul data-list="rec:<shelf>">`, so the analytics app's browser script
records its impressions and clicks in the event log under the list name `rec:<shelf>`. The
analytics app sums them and credits each list with the adds to cart and paid orders that followed
a click on it (marketing.analytics.selectors.list_figures; the attribution, in short: a click on
product P from shelf S in visit V at moment t earns S the adds of P in V after t, and the orders
placed in V after t that contain P and were paid, with the revenue of P's lines, each order once
per shelf). This module adds those figures to the daily rollups (`daily_figures`,
settings.ANALYTICS_DAILY_SOURCES) and reads them back for the Marketing dashboard's panel
(`shelves`, settings.ANALYTICS_PANELS) and the admin's list of shelves (`shelf_totals`), so
neither ever scans the log. See docs/shelf-figures.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.utils.translation import gettext as _

from marketing.analytics import selectors as analytics
from marketing.recommendations.models import Shelf

PREFIX = "rec:"
DIMENSION = "shelf"
# Measure of the daily figures: what each counts.
MEASURES = {
    "impressions": "shelf_impressions",  # products shown on the shelf
    "clicks": "shelf_clicks",  # products chosen from it
    "add_to_carts": "shelf_add_to_carts",  # adds to cart credited to it
    "orders": "shelf_orders",  # paid orders credited to it (on the day paid)
    "revenue": "shelf_revenue",  # what the credited products' lines of those orders came to
}
COLUMNS = ["shelf", "name", "impressions", "clicks", "ctr", "add_to_carts", "orders", "revenue"]


def list_name(shelf: str) -> str:
    """The `data-list` a shelf is rendered with, and the list name of its events: "rec:for_you"."""
    return f"{PREFIX}{shelf}"


def daily_figures(first: dt.date, last: dt.date, zone: dt.tzinfo) -> Iterator[tuple]:
    """The shelves' daily figures for the analytics rollups (settings.ANALYTICS_DAILY_SOURCES):
    (day, measure, "shelf", shelf, value) tuples for every measure in MEASURES that is not zero.
    Impressions, clicks and adds on the day they happened, orders and revenue on the day the order
    was paid; revenue in the store's currency. Only the store's shelves (Shelf), whatever list names
    a beacon sent. A few queries for the whole run of days."""
    names = {list_name(shelf): shelf for shelf in Shelf.values}
    found = analytics.list_figures(first=first, last=last, prefix=PREFIX, names=names, zone=zone)
    for (day, name), values in sorted(found.items()):
        for field, measure in MEASURES.items():
            if values[field]:
                yield day, measure, DIMENSION, names[name], values[field]


def _rows(split: dict) -> dict[str, dict]:
    """{shelf: its figures} from daily figures summed by shelf, every shelf present (zeros too)."""
    rows = {}
    for shelf in Shelf.values:
        row = {field: split.get((measure, shelf), Decimal(0)) for field, measure in MEASURES.items()}
        for field in ("impressions", "clicks", "add_to_carts", "orders"):
            row[field] = int(row[field])
        row["ctr"] = _rate(row["clicks"], row["impressions"])
        rows[shelf] = row
    return rows


def _rate(clicks: int, impressions: int) -> Decimal | None:
    """Click-through rate as a fraction (0.025 for 2.5%); None when nothing was shown."""
    return (Decimal(clicks) / Decimal(impressions)).quantize(Decimal("0.0001")) if impressions else None


def shelf_totals(first: dt.date, last: dt.date) -> dict[str, dict]:
    """{shelf: {"impressions", "clicks", "ctr", "add_to_carts", "orders", "revenue"}} over the store
    days `first` to `last` (both included), for every shelf, read from the daily figures (today
    worked out live, days not built yet as zeros). Counts are ints, revenue a Decimal in the store's
    currency, `ctr` a Decimal fraction or None when the shelf was never shown."""
    return _rows(analytics.figure_totals(first=first, last=last, measures=list(MEASURES.values()), dimension=DIMENSION))


def shelves(start: dt.datetime, end: dt.datetime, *, figures) -> dict:
    """The shelves' panel on the Marketing dashboard (settings.ANALYTICS_PANELS): per shelf its
    impressions, clicks, click-through rate, adds to cart, orders and revenue in the period, and
    the period's totals. Read from the daily figures `daily_figures` adds (`figures(measures,
    dimension)` sums them over the period)."""
    rows = _rows(figures(list(MEASURES.values()), dimension=DIMENSION))
    table = [{"shelf": shelf, "name": str(Shelf(shelf).label), **row} for shelf, row in rows.items()]
    totals = {field: sum((row[field] for row in table), 0) for field in MEASURES}
    totals["ctr"] = _rate(totals["clicks"], totals["impressions"])
    return {
        "key": "recommendations",
        "title": _("Recommendations"),
        "template": "recommendations/analytics_panel.html",
        "context": {"rows": table, "totals": totals},
        "columns": COLUMNS,
        "table": table,
    }
