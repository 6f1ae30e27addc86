"""The build and the shelves on small hand-made histories where the right answer is known:
similarity, assembly, exclusions, diversity, cold start, pins and blocks, personal shelves."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing.analytics.models import Event
from marketing.recommendations import build, shelves
from marketing.recommendations import cache as recs_cache
from marketing.recommendations.models import Build, Neighbours, Ranking, Rule, Shelf, ShelfSetting, Table
from shop.orders.models import OrderLine
from tests.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def order(user, *products, days_ago=3, paid=True):
    placed = NOW - dt.timedelta(days=days_ago)
    made = OrderFactory(
        user=user, placed_at=placed, paid_at=placed if paid else None, status="paid" if paid else "cancelled"
    )
    for product in products:
        OrderLine.objects.create(
            order=made, product=product, sku=product.sku, name=product.name, unit_price=product.price, quantity=1,
            subtotal=product.price,
        )  # fmt: skip
    return made


def views(visit, *products, days_ago=2):
    at = NOW - dt.timedelta(days=days_ago)
    Event.objects.bulk_create(
        Event(name="view_item", at=at, day=at.date(), visit=visit, product=product) for product in products
    )


@pytest.fixture
def store():
    """Shirts are bought with trousers; shirts are viewed with other shirts; a lamp stands apart."""
    shirts, trousers, home = (CategoryFactory(name=n) for n in ("Shirts", "Trousers", "Home"))
    s1, s2, s3 = (ProductFactory(category=shirts, name=f"Shirt {i}") for i in (1, 2, 3))
    t1, t2 = (ProductFactory(category=trousers, name=f"Trousers {i}") for i in (1, 2))
    lamp = ProductFactory(category=home, name="Lamp")
    for _i in range(4):
        order(UserFactory(), s1, t1)
    order(UserFactory(), s2, t2)
    order(UserFactory(), lamp)
    for _i in range(3):
        views(uuid.uuid4(), s1, s2)
    views(uuid.uuid4(), s3, lamp)
    build.build(now=NOW)
    return {"s1": s1, "s2": s2, "s3": s3, "t1": t1, "t2": t2, "lamp": lamp, "shirts": shirts}


def names(result):
    known = {pick.product_id for pick in result.picks}
    from shop.catalog.models import Product

    by_id = dict(Product.objects.filter(pk__in=known).values_list("pk", "name"))
    return [by_id[pick.product_id] for pick in result.picks]


# -- the build -----------------------------------------------------------------------------------


def test_the_build_finds_what_is_bought_together_and_viewed_together(store):
    bought = Neighbours.objects.get(product=store["s1"], table=Table.BOUGHT).items
    viewed = Neighbours.objects.get(product=store["s1"], table=Table.VIEWED).items
    assert bought[0][0] == store["t1"].pk
    assert store["s2"].pk not in [pk for pk, _score in bought]  # never in the same order
    assert viewed[0][0] == store["s2"].pk
    assert store["s1"].pk not in [pk for pk, _score in bought + viewed]  # never itself
    record = Build.objects.get()
    assert record.status == Build.Status.DONE and record.interactions == 4 * 2 + 2 + 1 + 3 * 2 + 2
    assert record.products >= 5


def test_unpaid_orders_and_other_events_do_not_count():
    a, b = ProductFactory(), ProductFactory()
    order(UserFactory(), a, b, paid=False)
    at = NOW - dt.timedelta(days=1)
    Event.objects.create(name="page_view", at=at, day=at.date(), visit=uuid.uuid4(), product=a)
    build.build(now=NOW)
    assert not Neighbours.objects.exists()
    assert Build.objects.get().interactions == 0


def test_old_interactions_fade(settings):
    settings.RECOMMENDATIONS_HALF_LIFE_DAYS = 30
    shirt, old, new = ProductFactory(), ProductFactory(), ProductFactory()
    for _i in range(3):
        order(UserFactory(), shirt, old, days_ago=300)
    for _i in range(2):
        order(UserFactory(), shirt, new, days_ago=5)
    build.build(now=NOW)
    blended = Neighbours.objects.get(product=shirt, table=Table.BLENDED).items
    assert [pk for pk, _score in blended][0] == new.pk  # two recent buyers outweigh three a year ago


def test_a_build_at_a_time_and_a_dead_one_stands_aside(store):
    from shop.core.errors import Conflict

    running = Build.objects.create(started_at=timezone.now() - dt.timedelta(minutes=5))
    with pytest.raises(Conflict):
        build.build(now=NOW)
    running.started_at = timezone.now() - dt.timedelta(hours=1)
    running.save()
    assert build.build(now=NOW).status == Build.Status.DONE
    running.refresh_from_db()
    assert running.status == Build.Status.FAILED and "never finished" in running.message


def test_a_failed_build_keeps_the_previous_tables_and_says_why(store, monkeypatch):
    before = Neighbours.objects.count()
    monkeypatch.setattr(build.model, "similar_items", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build.build(now=NOW)
    assert Neighbours.objects.count() == before
    failed = Build.objects.filter(status=Build.Status.FAILED).get()
    assert "division" in failed.message


def test_rankings_hold_trending_and_each_category_s_best_sellers(store):
    bestsellers = Ranking.objects.get(kind=Ranking.Kind.BESTSELLERS, category=store["shirts"]).items
    assert bestsellers[0][0] == store["s1"].pk
    assert Ranking.objects.get(kind=Ranking.Kind.TRENDING, category=None).items


# -- product shelves -----------------------------------------------------------------------------


def test_bought_together_shows_the_partner_first_with_its_reason(store):
    result = shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk)
    assert result.ids[0] == store["t1"].pk
    assert result.picks[0].reason_text == "Often bought with Shirt 1"
    assert store["s1"].pk not in result.ids


def test_what_cannot_be_bought_is_never_shown(store):
    store["t1"].stock = 0
    store["t1"].save()
    store["s2"].is_active = False
    store["s2"].save()
    for kind in (Shelf.BOUGHT_TOGETHER, Shelf.VIEWED_TOGETHER):
        result = shelves.for_product(kind, store["s1"].pk)
        assert store["t1"].pk not in result.ids and store["s2"].pk not in result.ids


def test_pins_come_first_and_blocks_never_show(store):
    Rule.objects.create(product=store["s1"], target=store["lamp"], action=Rule.Action.PIN)
    Rule.objects.create(product=store["s1"], target=store["t1"], action=Rule.Action.BLOCK)
    result = shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk)
    assert result.ids[0] == store["lamp"].pk
    assert result.picks[0].reason == "pinned"
    assert store["t1"].pk not in result.ids


def test_a_customer_is_not_shown_what_they_bought_unless_it_is_bought_again_and_again(store, rf):
    buyer = UserFactory()
    order(buyer, store["t1"])
    request = rf.get("/")
    request.user = buyer
    assert store["t1"].pk not in shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk, request=request).ids
    store["t1"].is_consumable = True
    store["t1"].save()
    request = rf.get("/")
    request.user = buyer
    assert shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk, request=request).ids[0] == store["t1"].pk


def test_a_new_product_borrows_its_category_s_best_sellers(store):
    newcomer = ProductFactory(category=store["shirts"], name="New shirt")
    result = shelves.for_product(Shelf.BOUGHT_TOGETHER, newcomer.pk)
    assert result.ids[0] == store["s1"].pk
    assert result.picks[0].reason_text == "Popular in Shirts"


def test_a_shelf_turned_off_is_empty_and_its_size_is_kept(store):
    ShelfSetting.objects.update_or_create(shelf=Shelf.BOUGHT_TOGETHER, defaults={"enabled": False})
    assert shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk).picks == []
    assert len(shelves.for_product(Shelf.VIEWED_TOGETHER, store["s1"].pk).picks) == 2
    ShelfSetting.objects.update_or_create(shelf=Shelf.VIEWED_TOGETHER, defaults={"size": 1})
    assert len(shelves.for_product(Shelf.VIEWED_TOGETHER, store["s1"].pk).picks) == 1


def test_a_row_is_never_all_one_category():
    picks = [(shelves.Pick(i, "trending"), category) for i, category in enumerate([1, 1, 1, 1, 2, 3])]
    assert [p.product_id for p in shelves.diverse(picks, 3)] == [0, 1, 4]  # at most 2 of one in 3
    assert [p.product_id for p in shelves.diverse(picks, 6)] == [0, 1, 4, 5, 2, 3]  # held ones fill the rest
    only_one = [(shelves.Pick(i, "trending"), 1) for i in range(4)]
    assert len(shelves.diverse(only_one, 4)) == 4  # a catalog of one category still fills the shelf


# -- personal shelves ----------------------------------------------------------------------------


def visitor(rf, user=None, **headers):
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", **headers)
    from django.contrib.auth.models import AnonymousUser

    request.user = user or AnonymousUser()
    return request


def test_for_you_follows_what_the_visitor_viewed_and_says_so(store, rf):
    from marketing.analytics import selectors

    visit = selectors.visit_id(visitor(rf))
    recs_cache.saw("v", visit, [("view_item", store["s1"].pk)], start=True)
    result = shelves.for_you(visitor(rf))
    assert store["s1"].pk not in result.ids
    assert result.ids[0] == store["t1"].pk
    assert result.picks[0].reason_text == "Because you viewed Shirt 1"
    assert shelves.recently_viewed(visitor(rf)).ids == [store["s1"].pk]


def test_a_visitor_with_no_history_gets_no_for_you_but_trending(store, rf):
    assert shelves.for_you(visitor(rf)).picks == []
    assert shelves.trending().picks


def test_a_visitor_who_asks_not_to_be_tracked_gets_nothing_personal(store, rf):
    request = visitor(rf, HTTP_DNT="1")
    from marketing.analytics import selectors

    assert selectors.visit_id(request) is None
    assert shelves.for_you(request).picks == [] and shelves.recently_viewed(request).picks == []


def test_the_cart_shelf_completes_the_order(store):
    result = shelves.for_cart([store["s1"].pk])
    assert result.ids[0] == store["t1"].pk
    assert result.picks[0].reason_text == "Goes with Shirt 1 in your cart"


def test_a_paid_order_is_excluded_from_the_customer_s_next_shelves_at_once(store, rf):
    buyer = UserFactory()
    request = visitor(rf, buyer)
    assert store["t1"].pk in shelves.for_cart([store["s1"].pk], request=request).ids
    made = order(buyer, store["t1"])
    from shop.orders.signals import order_paid

    order_paid.send(sender=None, order_id=made.pk, user_id=buyer.pk)
    assert store["t1"].pk not in shelves.for_cart([store["s1"].pk], request=visitor(rf, buyer)).ids


# -- queries ---------------------------------------------------------------------------------------


def count(func):
    func()  # the first call fills what is kept (neighbours, rules, rankings, settings)
    with CaptureQueriesContext(connection) as queries:
        func()
    return len(queries)


def test_a_product_shelf_reads_as_many_queries_for_1_neighbour_as_for_20(store):
    few = count(lambda: shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s2"].pk))
    many_neighbours = [ProductFactory(category=CategoryFactory()) for _i in range(20)]
    for partner in many_neighbours:
        order(UserFactory(), store["s3"], partner)
    build.build(now=NOW)
    many = count(lambda: shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s3"].pk))
    assert few == many <= 3  # the candidates' facts, new arrivals, the brand's products (page cache off)


def test_with_the_page_cache_on_a_warm_shelf_reads_nothing(store, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert count(lambda: shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk)) == 0
    assert count(lambda: shelves.trending()) == 0
    assert count(lambda: shelves.for_cart([store["s1"].pk, store["s2"].pk])) == 0


def test_a_new_build_is_seen_at_once(store, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert shelves.for_product(Shelf.BOUGHT_TOGETHER, store["lamp"].pk).picks[0].reason != "bought_with"
    for _i in range(3):
        order(UserFactory(), store["lamp"], store["t2"])
    build.build(now=NOW)
    result = shelves.for_product(Shelf.BOUGHT_TOGETHER, store["lamp"].pk)
    assert result.ids[0] == store["t2"].pk and result.picks[0].reason == "bought_with"


@pytest.fixture
def rf():
    return RequestFactory()


def test_a_kept_shelf_drops_a_product_that_sells_out_at_once(store, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk).ids[0] == store["t1"].pk
    assert count(lambda: shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk)) == 0
    store["t1"].stock = 0
    store["t1"].save()
    assert store["t1"].pk not in shelves.for_product(Shelf.BOUGHT_TOGETHER, store["s1"].pk).ids


def test_a_customer_without_a_visit_gets_products_in_stock_for_a_message(monkeypatch):
    from marketing.recommendations import selectors
    from marketing.recommendations.shelves import Pick, Result
    from tests.factories import ProductFactory, UserFactory

    sold_out, shirt, hidden = ProductFactory(stock=0), ProductFactory(stock=3), ProductFactory(is_active=False)
    monkeypatch.setattr(
        selectors.shelves,
        "trending",
        lambda **kw: Result("trending", [Pick(p.pk, "trending") for p in (sold_out, shirt, hidden)]),
    )

    assert selectors.for_customer(user=UserFactory(), size=4) == [shirt]
