"""Demo data: the similar-items tables built from the demo's year of orders and visits, a few pins
and blocks of the kind staff make, and the shelves' own history (what they showed and had chosen
over the last months), so the admin and the Marketing dashboard show what shelves do."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils import timezone

from marketing.analytics import selectors as analytics
from marketing.analytics import services as analytics_services
from marketing.recommendations import build
from marketing.recommendations.models import Neighbours, Rule, Table
from shop.catalog.models import Product
from shop.core.demo import DemoContext


def seed(ctx: DemoContext) -> None:
    record = build.build(progress=lambda message: ctx.log(f"recommendations: {message}"))
    ctx.log(f"recommendations: built in {record.seconds} s")
    if Rule.objects.exists():
        ctx.log("recommendations: pins, blocks and shelf history already there")
        return
    _shelf_history(ctx)
    rng = ctx.rng("recommendations:rules")
    featured = list(Product.objects.filter(is_featured=True, is_active=True).order_by("pk")[:4])
    rules = []
    for product in featured:
        row = Neighbours.objects.filter(product=product, table=Table.BLENDED).first()
        others = [pk for pk, _score in (row.items if row else []) if pk != product.pk]
        if len(others) < 3:
            continue
        pinned, blocked = rng.sample(others[-6:], 2)  # a weak neighbour pinned first, another one kept out
        rules += [
            Rule(product=product, target_id=pinned, action=Rule.Action.PIN, note="Goes with it: our stylists' pick"),
            Rule(product=product, target_id=blocked, action=Rule.Action.BLOCK, note="Not a match for this product"),
        ]
    Rule.objects.bulk_create(rules, ignore_conflicts=True)
    ctx.log(f"recommendations: {len(rules)} pins and blocks")


HISTORY_DAYS = 120
SHOWN = 8


def _shelf_history(ctx: DemoContext) -> None:
    """The last months' visits that went from one product to another saw the first one's "viewed
    together" shelf, and half of those chose the second product from it when it was there (its
    cart additions and orders then count for the shelf, docs/shelf-figures.md); some saw "bought
    together" too. The tables are the ones just built: a demo's shortcut, said here."""
    rng = ctx.rng("recommendations:shelf-history")
    since = timezone.localdate() - dt.timedelta(days=HISTORY_DAYS)
    visits = defaultdict(list)
    for _name, visit, customer_id, product_id, at in analytics.product_events(since=since, names=[analytics.VIEW_ITEM]):
        if visit is not None:
            visits[visit].append((at, product_id, customer_id))
    tables = defaultdict(dict)
    for product_id, table, items in Neighbours.objects.filter(table__in=[Table.VIEWED, Table.BOUGHT]).values_list(
        "product_id", "table", "items"
    ):
        tables[table][product_id] = [pk for pk, score in items if score > 0][:SHOWN]
    events = []
    for visit in sorted(visits, key=str):
        views = sorted(visits[visit])
        if len(views) < 2 or rng.random() < 0.3:
            continue
        (first_at, first, customer_id), (then_at, then, _c) = views[0], views[1]
        for table, shelf, share in ((Table.VIEWED, "viewed_together", 1.0), (Table.BOUGHT, "bought_together", 0.6)):
            shown = tables[table].get(first, [])
            if not shown or rng.random() > share:
                continue
            common = {"visit": visit, "customer_id": customer_id}
            seen = first_at + dt.timedelta(seconds=rng.randint(4, 40))
            if seen >= then_at:
                continue
            events.append({"name": "view_item_list", "at": seen, "data": {"list": f"rec:{shelf}", "items": shown},
                           **common})  # fmt: skip
            if then in shown and rng.random() < 0.5:
                chosen = then_at - dt.timedelta(seconds=1)
                events.append({"name": "select_item", "at": chosen, "product_id": then,
                               "data": {"list": f"rec:{shelf}"}, **common})  # fmt: skip
    written = analytics_services.events_record(events)
    ctx.log(f"recommendations: {written:,} shelf impressions and clicks over {HISTORY_DAYS} days")
    analytics_services.figures_rebuild(since, timezone.localdate() - dt.timedelta(days=1))
    ctx.log("recommendations: daily figures built again for those days")
