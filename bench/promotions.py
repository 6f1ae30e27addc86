"""Pricing a cart as the number of running promotions grows: does the discount engine stay flat?

    .venv/bin/python bench/promotions.py                  # 10, 100 and 1,000 running promotions
    .venv/bin/python bench/promotions.py --counts 10 100 1000 5000 --runs 100

A throwaway SQLite store (bench/results/var-promotions) gets a category tree, 200
products and a member whose cart holds 3 lines. Then, step by step, running automatic
promotions are added until each count is reached: one in ten applies to the cart (the
whole order, a product in it, or a category above one of its products); the others are
for products and categories the cart does not hold, as in a store with many campaigns.
For each count it prints the SQL queries one pricing of the cart runs (price_cart: every
adjuster of the pipeline) and its median and 95th-percentile time in-process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup_django(var_dir: Path) -> None:
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    os.environ.update(
        {
            "BAZAAR_VAR_DIR": str(var_dir),
            "DJANGO_DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SHOP_PAGE_CACHE_SECONDS": "0",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    log("migrating a throwaway database")
    call_command("migrate", verbosity=0)


def make_store():
    from shop.accounts.models import User
    from shop.cart.models import Cart, CartLine
    from shop.catalog.models import Category, Product

    roots = [Category.objects.create(name=f"Department {d}", slug=f"department-{d}") for d in range(10)]
    leaves = [
        Category.objects.create(name=f"Aisle {d}.{a}", slug=f"aisle-{d}-{a}", parent=root)
        for d, root in enumerate(roots)
        for a in range(3)
    ]
    products = [
        Product.objects.create(
            name=f"Product {n}", slug=f"product-{n}", sku=f"BENCH-{n:04d}", price=Decimal("10.00") + n,
            stock=1000, category=leaves[n % len(leaves)],
        )
        for n in range(200)
    ]  # fmt: skip
    member = User.objects.create_user(email="member@example.org", password="bench-member-password")
    cart = Cart.objects.create(user=member)
    for product in products[:3]:
        CartLine.objects.create(cart=cart, product=product, quantity=2)
    return member, cart, roots, leaves, products


def add_promotions(count: int, start: int, store) -> None:
    """Promotions start..count-1: every tenth applies to the cart, the rest are for other things."""
    from marketing.discounts.models import Promotion

    _member, _cart, roots, leaves, products = store
    in_cart, elsewhere = products[:3], products[3:]
    for n in range(start, count):
        kind = n % 10
        fields = {"name": f"Promotion {n}", "kind": "percentage", "value": Decimal("1"), "requires_code": False}
        if kind == 0:  # applies: by turns the whole order, a product in the cart, a department above it
            scope = (Promotion.Scope.ORDER, Promotion.Scope.PRODUCTS, Promotion.Scope.CATEGORIES)[(n // 10) % 3]
            promotion = Promotion.objects.create(scope=scope, **fields)
            if scope == Promotion.Scope.PRODUCTS:
                promotion.products.set([in_cart[n % 3]])
            elif scope == Promotion.Scope.CATEGORIES:
                promotion.categories.set([in_cart[n % 3].category.parent])
        elif kind < 6:
            promotion = Promotion.objects.create(scope=Promotion.Scope.PRODUCTS, **fields)
            promotion.products.set(elsewhere[n % len(elsewhere) : n % len(elsewhere) + 3])
        else:
            promotion = Promotion.objects.create(scope=Promotion.Scope.CATEGORIES, **fields)
            promotion.categories.set([leaves[3 + n % (len(leaves) - 3)]])
    del roots


def measure(store, runs: int) -> dict:
    from django.db import connection

    from shop.cart.models import Cart
    from shop.cart.pricing import price_cart

    member, cart, *_ = store
    loaded = Cart.objects.prefetch_related("lines__product__category").get(pk=cart.pk)
    price_cart(loaded, customer=member)  # warm: what is read once per process is not the point
    queries = []  # counted by a wrapper: Django's own query log keeps only the last 9,000

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        priced = price_cart(loaded, customer=member)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        price_cart(loaded, customer=member)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    applied = sum(1 for a in priced.adjustments if a.source.startswith("discounts"))
    return {
        "queries": len(queries),
        "applied": applied,
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100, 1000], help="running promotions")
    parser.add_argument("--runs", type=int, default=50, help="pricings timed per count (default 50)")
    parser.add_argument("--var-dir", default=str(ROOT / "bench" / "results" / "var-promotions"))
    args = parser.parse_args()
    setup_django(Path(args.var_dir))
    store = make_store()
    rows, made = [], 0
    for count in sorted(args.counts):
        log(f"adding promotions {made + 1:,} to {count:,}")
        add_promotions(count, made, store)
        made = count
        result = measure(store, args.runs)
        log(f"{count:,} running promotions: {result['queries']} queries, p50 {result['p50']:.1f} ms")
        rows.append((count, result))
    print()
    print("running promotions | applying to the cart | SQL per pricing | p50 ms | p95 ms")
    print("---: | ---: | ---: | ---: | ---:")
    for count, r in rows:
        print(f"{count:,} | {r['applied']} | {r['queries']} | {r['p50']:.1f} | {r['p95']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
