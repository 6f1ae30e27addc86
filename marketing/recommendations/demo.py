"""Demo data: the similar-items tables built from the demo's year of orders and visits, and a few
pins and blocks of the kind staff make, so the admin shows what they do."""

from __future__ import annotations

from marketing.recommendations import build
from marketing.recommendations.models import Neighbours, Rule, Table
from shop.catalog.models import Product
from shop.core.demo import DemoContext


def seed(ctx: DemoContext) -> None:
    record = build.build(progress=lambda message: ctx.log(f"recommendations: {message}"))
    ctx.log(f"recommendations: built in {record.seconds} s")
    if Rule.objects.exists():
        return
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
