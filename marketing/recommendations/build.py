"""The build: the store's history in, similar-items tables and rankings out.

Read once, in a few streamed queries: paid orders' lines (who bought what, in which basket) and
the event log's product views and cart additions (through marketing.analytics.selectors). Three
tables come out (models.Table), each product keeping its RECOMMENDATIONS_NEIGHBOURS closest
neighbours, and the rankings for shelves with no product to start from (trending, best-sellers
of the store and of each category). They replace the previous ones in one transaction, then the
shelves' token is replaced, so serving never sees half a build.

Weights (RECOMMENDATIONS_WEIGHTS) say what a purchase, a cart addition and a view are worth; a
half-life (RECOMMENDATIONS_HALF_LIFE_DAYS) fades old interactions, so the tables follow tastes
as they change. The maths is model.py's. docs/recommendations.md, "The build".
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import resource
import time
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from scipy import sparse

from marketing.analytics import selectors as analytics
from marketing.recommendations import cache as recs_cache
from marketing.recommendations import model
from marketing.recommendations.models import Build, Neighbours, Ranking, Table
from shop.catalog.models import Product
from shop.core.errors import Conflict
from shop.orders.models import OrderLine

log = logging.getLogger(__name__)

LOCK_SECONDS = 30 * 60  # a build running longer is taken for dead
RANKING_SIZE = 60
CATEGORY_RANKING_SIZE = 24
BESTSELLER_DAYS = 90
WRITE_BATCH = 2_000


@dataclass
class Matrix:
    """A users × items matrix being gathered: row keys, and (row, item, weight, moment) in compact
    arrays (a few bytes an interaction, not a Python object each: a million events stay small).
    The fading by age is applied at the end, to all of them at once."""

    rows: dict = field(default_factory=dict)
    row_ids: array = field(default_factory=lambda: array("i"))
    item_ids: array = field(default_factory=lambda: array("i"))
    weights: array = field(default_factory=lambda: array("f"))
    moments: array = field(default_factory=lambda: array("d"))

    def add(self, key, item: int, weight: float = 1.0, at: dt.datetime | None = None) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = len(self.rows)
        self.row_ids.append(row)
        self.item_ids.append(item)
        self.weights.append(weight)
        self.moments.append(at.timestamp() if at is not None else 0.0)

    def csr(self, n_items: int, *, binary=False, now: dt.datetime | None = None, half_life_days=None):
        if binary:
            data = np.ones(len(self.weights), np.float32)
        else:
            data = np.frombuffer(self.weights, dtype=np.float32).astype(np.float64)
            if now is not None and half_life_days:
                age = np.maximum(now.timestamp() - np.frombuffer(self.moments, dtype=np.float64), 0.0)
                data = data * np.exp(-math.log(2) / (half_life_days * 86400) * age)
        matrix = sparse.csr_matrix(
            (data.astype(np.float32), (np.frombuffer(self.row_ids, np.int32), np.frombuffer(self.item_ids, np.int32))),
            shape=(len(self.rows), n_items),
            dtype=np.float32,
        )
        if binary:
            matrix.data[:] = 1  # several events of one pair count once
        return matrix


@dataclass
class History:
    """What one build read: the matrices, the item index, the rankings' scores, the count read."""

    index: dict[int, int]
    products: list[int]
    blended: Matrix = field(default_factory=Matrix)
    bought: Matrix = field(default_factory=Matrix)
    viewed: Matrix = field(default_factory=Matrix)
    trending: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    units: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    read: int = 0


def decay(now: dt.datetime, half_life_days: float) -> Callable[[dt.datetime], float]:
    """The weight left to an interaction of a given moment: 1 now, ½ one half-life ago."""
    rate = math.log(2) / (half_life_days * 86400)

    def weight(at: dt.datetime) -> float:
        return math.exp(-rate * max((now - at).total_seconds(), 0.0))

    return weight


def read_history(*, now: dt.datetime, progress: Callable[[str], None] = lambda _message: None) -> History:
    products = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    history = History(index={pk: i for i, pk in enumerate(products)}, products=products)
    index = history.index
    weights = settings.RECOMMENDATIONS_WEIGHTS
    since = now - dt.timedelta(days=settings.RECOMMENDATIONS_HISTORY_DAYS)
    trending_since = now - dt.timedelta(days=settings.RECOMMENDATIONS_TRENDING_DAYS)
    trending_fade = decay(now, max(settings.RECOMMENDATIONS_TRENDING_DAYS / 3, 0.5))
    bestseller_since = now - dt.timedelta(days=BESTSELLER_DAYS)

    lines = (
        OrderLine.objects.filter(order__paid_at__isnull=False, order__placed_at__gte=since, product__isnull=False)
        .order_by()
        .values_list("order_id", "order__user_id", "order__email", "product_id", "quantity", "order__placed_at")
        .iterator(chunk_size=20_000)
    )
    purchase = weights.get("purchase", 0.0)
    for order_id, user_id, email, product_id, quantity, placed in lines:
        item = index.get(product_id)
        if item is None:
            continue
        history.read += 1
        customer = ("c", user_id) if user_id else ("e", email.lower())
        history.blended.add(customer, item, purchase, placed)
        history.bought.add(order_id, item)
        if placed >= bestseller_since:
            history.units[product_id] += quantity
        if placed >= trending_since:
            history.trending[product_id] += purchase * trending_fade(placed)
    progress(f"{history.read:,} order lines read")

    names = {analytics.VIEW_ITEM: weights.get("view_item", 0.0), analytics.ADD_TO_CART: weights.get("add_to_cart", 0.0)}
    events = 0
    for name, visit, customer_id, product_id, at in analytics.product_events(since=since.date(), names=list(names)):
        item = index.get(product_id)
        if item is None or (visit is None and customer_id is None):
            continue
        events += 1
        weight = names[name]
        who = ("c", customer_id) if customer_id else ("v", visit)
        history.blended.add(who, item, weight, at)
        if name == analytics.VIEW_ITEM and visit is not None:
            history.viewed.add(visit, item)
        if at >= trending_since:
            history.trending[product_id] += weight * trending_fade(at)
        if events % 250_000 == 0:
            progress(f"{events:,} events read")
    history.read += events
    progress(f"{events:,} product views and cart additions read")
    return history


def neighbour_rows(table: str, similarity: sparse.csr_matrix, products: list[int]) -> list[Neighbours]:
    rows = []
    for item in range(similarity.shape[0]):
        start, end = similarity.indptr[item], similarity.indptr[item + 1]
        if start == end:
            continue
        order = np.argsort(-similarity.data[start:end], kind="stable")  # best first, negative weights last
        columns, values = similarity.indices[start:end][order], similarity.data[start:end][order]
        items = [[products[c], round(float(v), 5)] for c, v in zip(columns, values, strict=True) if round(float(v), 5)]
        if items:
            rows.append(Neighbours(product_id=products[item], table=table, items=items))
    return rows


def ranked(scores: dict[int, float], size: int) -> list[list]:
    best = sorted(((score, pk) for pk, score in scores.items() if score > 0), key=lambda s: (-s[0], s[1]))[:size]
    return [[pk, round(float(score), 4)] for score, pk in best]


def ranking_rows(history: History) -> list[Ranking]:
    rows = [
        Ranking(kind=Ranking.Kind.TRENDING, category=None, items=ranked(history.trending, RANKING_SIZE)),
        Ranking(kind=Ranking.Kind.BESTSELLERS, category=None, items=ranked(history.units, RANKING_SIZE)),
    ]
    by_category: dict[int, dict[int, float]] = defaultdict(dict)
    category_of = dict(Product.objects.filter(pk__in=list(history.units)).values_list("pk", "category_id"))
    for pk, units in history.units.items():
        if pk in category_of:
            by_category[category_of[pk]][pk] = units
    for category_id, scores in sorted(by_category.items()):
        rows.append(
            Ranking(kind=Ranking.Kind.BESTSELLERS, category_id=category_id, items=ranked(scores, CATEGORY_RANKING_SIZE))
        )
    return rows


def build(*, now: dt.datetime | None = None, progress: Callable[[str], None] = lambda _message: None) -> Build:
    """Build every table and ranking again and put them in place; one build at a time (Conflict)."""
    now = now or timezone.now()
    record = _start()
    started = time.monotonic()
    try:
        history = read_history(now=now, progress=progress)
        n = len(history.products)
        k = settings.RECOMMENDATIONS_NEIGHBOURS
        # Co-occurrence tables (a shelf lists their neighbours): RP3beta, k per product, all positive.
        # The blended table (personal shelves add up its weights): the model's default, EASE, with its
        # own number of weights per product, negative ones included. recommendations-evaluation.md.
        tables = {
            Table.BOUGHT: (history.bought.csr(n, binary=True), {"method": "rp3beta", "neighbours": k}),
            Table.VIEWED: (history.viewed.csr(n, binary=True), {"method": "rp3beta", "neighbours": k}),
            Table.BLENDED: (
                history.blended.csr(n, now=now, half_life_days=settings.RECOMMENDATIONS_HALF_LIFE_DAYS),
                {},
            ),
        }
        rows: list[Neighbours] = []
        for table, (matrix, params) in tables.items():
            tick = time.monotonic()
            similarity = model.similar_items(matrix, **params)
            rows += neighbour_rows(table, similarity, history.products)
            progress(
                f"{Table(table).label}: {matrix.shape[0]:,} shoppers × {n:,} products, {time.monotonic() - tick:.1f} s"
            )
        rankings = ranking_rows(history)
        with transaction.atomic():
            Neighbours.objects.all().delete()
            Neighbours.objects.bulk_create(rows, batch_size=WRITE_BATCH)
            Ranking.objects.all().delete()
            Ranking.objects.bulk_create(rankings, batch_size=WRITE_BATCH)
            recs_cache.changed()
        progress(f"{len(rows):,} neighbour lists and {len(rankings):,} rankings written")
        record.status = Build.Status.DONE
        record.products = len({row.product_id for row in rows})
        record.interactions = history.read
    except Exception as exc:
        record.status = Build.Status.FAILED
        record.message = str(exc)[:2000]
        log.exception("Recommendations: the build failed")
        raise
    finally:
        record.finished_at = timezone.now()
        record.seconds = Decimal(f"{time.monotonic() - started:.2f}")
        record.peak_memory_mib = Decimal(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
        record.save()
    return record


def _start() -> Build:
    """The row of a new build, unless one is running (Conflict): the database holds at most one
    running row, so two processes never build at once. A run that never finished (its process
    died) is marked failed after LOCK_SECONDS and no longer stands in the way."""
    stale = timezone.now() - dt.timedelta(seconds=LOCK_SECONDS)
    Build.objects.filter(status=Build.Status.RUNNING, started_at__lt=stale).update(
        status=Build.Status.FAILED, message="It never finished (its process stopped)."
    )
    try:
        with transaction.atomic():
            return Build.objects.create(started_at=timezone.now())
    except IntegrityError:
        raise Conflict("A build of the recommendations is already running: wait for it to finish.") from None
