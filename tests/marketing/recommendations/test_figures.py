"""Each shelf's figures (marketing/recommendations/figures.py) against events written by hand: what a
shelf showed and had chosen, and the adds and paid orders credited to it (docs/shelf-figures.md)."""

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from marketing.analytics import recorder, rollups
from marketing.analytics.models import DailyFigure, Event
from marketing.recommendations import figures
from shop.orders.models import OrderLine
from tests.factories import OrderFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db
D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 6, 10)
NEXT = DAY + dt.timedelta(days=1)
TODAY = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def store(settings, monkeypatch):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"  # UTC+2 in June: a store day is not a UTC day
    settings.SHOP_CURRENCY = "USD"
    monkeypatch.setattr(rollups, "today", lambda: TODAY)


def at(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def log(*events):
    Event.objects.bulk_create(events)


def shown(visit, shelf, items, when):
    return recorder.event("view_item_list", when, visit=visit, data={"list": f"rec:{shelf}", "items": items})


def click(visit, shelf, product, when):
    return recorder.event("select_item", when, visit=visit, product_id=product.pk, data={"list": f"rec:{shelf}"})


def add(visit, product, when, quantity=1):
    return recorder.event("add_to_cart", when, visit=visit, product_id=product.pk, quantity=quantity,
                          value=product.price * quantity)  # fmt: skip


def order(visit, placed, paid, *lines):
    """An order placed in `visit` (its place_order event) at `placed`, paid at `paid` (None: never),
    with lines (product, quantity, subtotal, discount); a paid one has its purchase event too."""
    subtotal = sum((D(line[2]) - D(line[3]) for line in lines), D(0))
    made = OrderFactory(placed_at=placed, paid_at=paid, status="paid" if paid else "pending_payment",
                        subtotal=subtotal, total=subtotal)  # fmt: skip
    for product, quantity, line_subtotal, discount in lines:
        OrderLine.objects.create(order=made, product=product, sku=product.sku, name=product.name,
                                 unit_price=product.price, quantity=quantity, subtotal=D(line_subtotal),
                                 discount=D(discount))  # fmt: skip
    log(recorder.event("place_order", placed, visit=visit, order_id=made.pk, value=made.total, currency="USD"))
    if paid:
        log(recorder.event("purchase", paid, visit=visit, order_id=made.pk, value=made.total, currency="USD"))
    return made


def by_shelf(first=DAY, last=DAY):
    """{(day, measure, shelf): value} of daily_figures."""
    out = {}
    for day, measure, dimension, key, value in figures.daily_figures(first, last, BERLIN):
        assert dimension == "shelf" and (day, measure, key) not in out
        out[(day, measure, key)] = value
    return out


def test_it_counts_impressions_per_product_shown_and_clicks_per_shelf():
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    v1, v2 = uuid.uuid4(), uuid.uuid4()
    log(
        shown(v1, "for_you", [a.pk, b.pk, c.pk], at(DAY, 10)),
        shown(v2, "for_you", [a.pk, b.pk], at(DAY, 11)),
        shown(v1, "trending", [c.pk], at(DAY, 10)),
        click(v1, "for_you", a, at(DAY, 10, 1)),
        click(v2, "for_you", b, at(DAY, 11, 1)),
        click(None, "trending", c, at(DAY, 12)),  # a browser that asked not to be tracked: a click all the same
        # Not a shelf's: a category list, a name no shelf has (a beacon may send any), another day.
        recorder.event("view_item_list", at(DAY, 10), visit=v1, data={"list": "category:3", "items": [a.pk]}),
        recorder.event("select_item", at(DAY, 10), visit=v1, product_id=a.pk, data={"list": "category:3"}),
        shown(v1, "nonsense", [a.pk], at(DAY, 10)),
        shown(v1, "for_you", [a.pk], at(NEXT, 9)),
    )
    assert by_shelf() == {
        (DAY, "shelf_impressions", "for_you"): 5,
        (DAY, "shelf_clicks", "for_you"): 2,
        (DAY, "shelf_impressions", "trending"): 1,
        (DAY, "shelf_clicks", "trending"): 1,
    }


def test_an_add_to_cart_counts_after_a_click_in_the_same_visit_only():
    boot, cap = ProductFactory(), ProductFactory()
    clicked, other, early = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    log(
        click(clicked, "for_you", boot, at(DAY, 10)),
        click(clicked, "for_you", boot, at(DAY, 10, 2)),  # chosen twice: the add still counts once
        add(clicked, boot, at(DAY, 10, 5), quantity=2),  # counts
        add(clicked, cap, at(DAY, 10, 6)),  # a product not chosen from the shelf
        add(other, boot, at(DAY, 10, 7)),  # another visit
        add(early, boot, at(DAY, 9)),  # before the click
        click(early, "for_you", boot, at(DAY, 9, 30)),
    )
    assert by_shelf()[(DAY, "shelf_add_to_carts", "for_you")] == 1
    add_again = add(clicked, boot, at(DAY, 11))  # a second add after the click counts too
    log(add_again)
    assert by_shelf()[(DAY, "shelf_add_to_carts", "for_you")] == 2


def test_a_paid_order_counts_with_the_clicked_product_s_lines_only():
    boot, cap, sock = ProductFactory(), ProductFactory(), ProductFactory()
    v, other = uuid.uuid4(), uuid.uuid4()
    log(click(v, "for_you", boot, at(DAY, 10)), click(v, "for_you", sock, at(DAY, 10, 1)))
    # Counts: boot's line after its discount, and sock's, both chosen from the shelf: one order, 35 + 8.
    order(
        v, at(DAY, 10, 30), at(DAY, 10, 31), (boot, 2, "40.00", "5.00"), (cap, 1, "12.00", "0"), (sock, 1, "8.00", "0")
    )
    order(v, at(DAY, 11), None, (boot, 1, "20.00", "0"))  # never paid
    order(other, at(DAY, 11), at(DAY, 11, 1), (boot, 1, "20.00", "0"))  # placed in another visit
    order(v, at(DAY, 9), at(DAY, 11, 2), (boot, 1, "20.00", "0"))  # placed before the click, paid after it
    order(v, at(DAY, 12), at(DAY, 12, 1), (cap, 1, "12.00", "0"))  # no product chosen from the shelf
    found = by_shelf()
    assert found[(DAY, "shelf_orders", "for_you")] == 1
    assert found[(DAY, "shelf_revenue", "for_you")] == D("43.00")
    assert isinstance(found[(DAY, "shelf_revenue", "for_you")], Decimal)


def test_an_order_that_followed_two_shelves_counts_for_each_with_its_own_products():
    boot, cap = ProductFactory(), ProductFactory()
    v = uuid.uuid4()
    log(click(v, "for_you", boot, at(DAY, 10)), click(v, "trending", cap, at(DAY, 10, 1)),
        click(v, "trending", boot, at(DAY, 10, 2)))  # fmt: skip
    order(v, at(DAY, 10, 30), at(DAY, 10, 31), (boot, 1, "20.00", "0"), (cap, 3, "30.00", "0"))
    found = by_shelf()
    assert (found[(DAY, "shelf_orders", "for_you")], found[(DAY, "shelf_revenue", "for_you")]) == (1, D("20.00"))
    assert (found[(DAY, "shelf_orders", "trending")], found[(DAY, "shelf_revenue", "trending")]) == (1, D("50.00"))


def test_each_figure_counts_on_its_store_day():
    boot = ProductFactory()
    v = uuid.uuid4()
    log(
        shown(v, "bought_together", [boot.pk], at(DAY, 23, 40)),
        click(v, "bought_together", boot, at(DAY, 23, 50)),  # 21:50 UTC: the store's DAY
        add(v, boot, at(NEXT, 0, 10)),  # 22:10 UTC on DAY, but the store's next day
    )
    order(v, at(NEXT, 0, 20), at(NEXT, 0, 30), (boot, 1, "20.00", "0"))  # paid the store's next day
    order(v, at(NEXT, 0, 25), at(NEXT + dt.timedelta(days=2), 9), (boot, 1, "20.00", "0"))  # paid two days on
    assert by_shelf(DAY, NEXT) == {
        (DAY, "shelf_impressions", "bought_together"): 1,
        (DAY, "shelf_clicks", "bought_together"): 1,
        (NEXT, "shelf_add_to_carts", "bought_together"): 1,
        (NEXT, "shelf_orders", "bought_together"): 1,
        (NEXT, "shelf_revenue", "bought_together"): D("20.00"),
    }
    # The order paid later counts then, though its click and its placing were days before.
    later = NEXT + dt.timedelta(days=2)
    assert by_shelf(later, later) == {
        (later, "shelf_orders", "bought_together"): 1,
        (later, "shelf_revenue", "bought_together"): D("20.00"),
    }


def _visits(n, products):
    """n visits that each saw a shelf, clicked, added and paid an order: the log grows with n."""
    for _k in range(n):
        v = uuid.uuid4()
        for p in products:
            log(shown(v, "for_you", [p.pk for p in products], at(DAY, 10)), click(v, "for_you", p, at(DAY, 10, 1)),
                click(v, "trending", p, at(DAY, 10, 2)), add(v, p, at(DAY, 10, 3)))  # fmt: skip
        order(v, at(DAY, 10, 4), at(DAY, 10, 5), *[(p, 1, "10.00", "0") for p in products])


def test_the_computation_takes_the_same_few_queries_however_many_events():
    products = [ProductFactory() for _k in range(3)]
    _visits(1, products)
    with CaptureQueriesContext(connection) as few:
        small = by_shelf()
    _visits(12, products)
    with CaptureQueriesContext(connection) as many:
        large = by_shelf()
    assert len(few) == len(many) <= 4  # shown and chosen, the clicks, the adds, the paid lines
    assert large[(DAY, "shelf_clicks", "for_you")] == 13 * 3 == 13 * small[(DAY, "shelf_clicks", "for_you")]
    assert large[(DAY, "shelf_orders", "trending")] == 13
    assert large[(DAY, "shelf_revenue", "trending")] == D("390.00")


def test_the_rollups_keep_the_figures_and_the_admin_reads_them_back():
    boot = ProductFactory()
    v = uuid.uuid4()
    log(shown(v, "for_you", [boot.pk], at(DAY, 10)), click(v, "for_you", boot, at(DAY, 10, 1)),
        add(v, boot, at(DAY, 10, 2)))  # fmt: skip
    order(v, at(DAY, 10, 3), at(DAY, 10, 4), (boot, 1, "19.99", "0"))
    assert figures.shelf_totals(DAY, DAY)["for_you"]["clicks"] == 0  # read from the daily figures: none built
    rollups.build_day(DAY)
    assert DailyFigure.objects.get(day=DAY, measure="shelf_revenue", dimension="shelf", key="for_you").value == D(
        "19.99"
    )
    totals = figures.shelf_totals(DAY, DAY)
    assert list(totals) == list(figures.Shelf.values)
    assert totals["for_you"] == {"impressions": 1, "clicks": 1, "add_to_carts": 1, "orders": 1,
                                 "revenue": D("19.99"), "ctr": D("1.0000")}  # fmt: skip
    assert totals["trending"] == {"impressions": 0, "clicks": 0, "add_to_carts": 0, "orders": 0,
                                  "revenue": D(0), "ctr": None}  # fmt: skip


def staff_client():
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client = Client()
    client.force_login(staff)
    return client


def test_the_marketing_dashboard_shows_the_shelves_panel_and_its_csv():
    boot, cap = ProductFactory(), ProductFactory()
    v = uuid.uuid4()
    log(
        shown(v, "for_you", [boot.pk, cap.pk], at(DAY, 10)),
        shown(uuid.uuid4(), "for_you", [boot.pk, cap.pk], at(DAY, 11)),
        click(v, "for_you", boot, at(DAY, 10, 1)),
        add(v, boot, at(DAY, 10, 2)),
        shown(v, "trending", [cap.pk], at(DAY, 10)),
    )
    order(v, at(DAY, 10, 3), at(DAY, 10, 4), (boot, 1, "1234.50", "0"), (cap, 1, "5.00", "0"))
    rollups.build_day(DAY)
    client = staff_client()
    response = client.get(f"/admin/analytics/dashboard/marketing/?from={DAY}&to={DAY}")
    assert response.status_code == 200
    panel = next(p for p in response.context["data"]["panels"] if p["key"] == "recommendations")
    rows = {row["shelf"]: row for row in panel["context"]["rows"]}
    assert rows["for_you"] == {"shelf": "for_you", "name": "Recommended for you", "impressions": 4, "clicks": 1,
                               "ctr": D("0.2500"), "add_to_carts": 1, "orders": 1, "revenue": D("1234.50")}  # fmt: skip
    assert panel["context"]["totals"] == {"impressions": 5, "clicks": 1, "ctr": D("0.2000"), "add_to_carts": 1,
                                          "orders": 1, "revenue": D("1234.50")}  # fmt: skip
    html = response.content.decode()
    assert 'id="panel-recommendations"' in html and "Recommended for you" in html
    assert "<caption" in html and '<th scope="row">All shelves</th>' in html
    assert "$1,234.50" in html and "25.0%" in html  # by the locale, like the other panels
    download = client.get(f"/admin/analytics/dashboard/marketing/?from={DAY}&to={DAY}&format=csv&table=recommendations")
    lines = list(csv.reader(io.StringIO(download.content.decode())))
    assert lines[0] == figures.COLUMNS
    assert ["for_you", "Recommended for you", "4", "1", "0.2500", "1", "1", "1234.50"] in lines
    assert len(lines) == 1 + len(figures.Shelf.values)


def test_the_analytics_selector_finds_the_lists_of_a_prefix_itself():
    from marketing.analytics import selectors

    boot = ProductFactory()
    v = uuid.uuid4()
    log(click(v, "for_you", boot, at(DAY, 10)), click(v, "a_new_shelf", boot, at(DAY, 10, 1)),
        recorder.event("select_item", at(DAY, 10), visit=v, product_id=boot.pk, data={"list": "category:3"}),
        add(v, boot, at(DAY, 10, 2)))  # fmt: skip
    order(v, at(DAY, 10, 3), at(DAY, 10, 4), (boot, 1, "20.00", "0"))
    with CaptureQueriesContext(connection) as queries:
        found = selectors.list_figures(first=DAY, last=DAY, prefix="rec:")
    assert len(queries) <= 4
    credited = {"views": 0, "impressions": 0, "clicks": 1, "add_to_carts": 1, "orders": 1, "revenue": D("20.00")}
    assert found == {(DAY, "rec:for_you"): credited, (DAY, "rec:a_new_shelf"): credited}
