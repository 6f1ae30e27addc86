"""Daily figures against sums worked out by hand on small stores."""

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from marketing.analytics import reports, rollups, tasks
from marketing.analytics.models import BuiltDay, DailyFigure, Event, OrderVisit
from marketing.analytics.recorder import store_day
from shop.orders.models import EventKind, OrderAdjustment, OrderEvent, OrderLine
from tests.factories import CategoryFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db
D = Decimal
DAY = dt.date(2026, 6, 10)


@pytest.fixture(autouse=True)
def store_zone(settings):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"  # UTC+2 in June
    settings.SHOP_CURRENCY = "USD"


def at(day, hour, minute=0):
    """A moment of the store's day (Berlin)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo("Europe/Berlin"))


def figures(day=DAY, dimension=""):
    return {
        (f.measure, f.key) if dimension else f.measure: f.value
        for f in DailyFigure.objects.filter(day=day, dimension=dimension)
    }


def paid_order(paid, *, email="a@example.com", subtotal="50.00", discount="0.00", shipping="5.00", lines=()):
    total = D(subtotal) - D(discount) + D(shipping)
    order = OrderFactory(
        email=email,
        placed_at=paid - dt.timedelta(minutes=5),
        paid_at=paid,
        subtotal=D(subtotal),
        discount_total=D(discount),
        shipping_total=D(shipping),
        total=total,
    )
    for product, quantity, line_subtotal, line_discount in lines:
        OrderLine.objects.create(
            order=order, product=product, sku=product.sku, name=product.name, unit_price=product.price,
            quantity=quantity, subtotal=D(line_subtotal), discount=D(line_discount),
        )  # fmt: skip
    return order


def event(name, when, visit=None, **fields):
    return Event.objects.create(name=name, at=when, day=store_day(when), visit=visit, **fields)


def test_sales_of_a_day_by_hand():
    shoes, hats = CategoryFactory(name="Shoes"), CategoryFactory(name="Hats")
    boot, cap = ProductFactory(category=shoes, price=D("40.00")), ProductFactory(category=hats, price=D("10.00"))
    # A first order; the same customer's second order that day; another customer's order with a discount.
    paid_order(at(DAY, 9), email="ann@example.com", subtotal="80.00", lines=[(boot, 2, "80.00", "0.00")])
    paid_order(at(DAY, 15), email="ann@example.com", subtotal="10.00", lines=[(cap, 1, "10.00", "0.00")])
    paid_order(
        at(DAY, 23, 30), email="bob@example.com", subtotal="50.00", discount="5.00", shipping="0.00",
        lines=[(boot, 1, "40.00", "4.00"), (cap, 1, "10.00", "1.00")],
    )  # fmt: skip
    # Not counted: paid the day before (in Berlin, though the same UTC day as nothing here), never paid.
    paid_order(at(DAY - dt.timedelta(days=1), 23, 59), email="cy@example.com")
    OrderFactory(status="cancelled", placed_at=at(DAY, 10), paid_at=None, total=D("99.00"))
    # A refund made that day, of an order paid long before: refunds count when made.
    old = paid_order(at(DAY - dt.timedelta(days=40), 12), email="dee@example.com")
    OrderEvent.objects.create(order=old, kind=EventKind.PARTIALLY_REFUNDED, status="paid",
                              data={"amount": "12.50"}, created_at=at(DAY, 11))  # fmt: skip

    rollups.build_day(DAY)

    day = figures()
    assert day["orders"] == 3
    assert day["revenue"] == D("85.00") + D("15.00") + D("45.00")  # totals: after discounts, shipping included
    assert day["merchandise"] == D("140.00")
    assert day["discounts"] == D("5.00")
    assert day["shipping"] == D("10.00")
    assert day["units"] == 5
    assert day["refunds"] == D("12.50")
    assert day["new_customers"] == 2  # ann and bob: their first paid order is this day
    assert day["returning_orders"] == 1  # ann's second
    by_product = figures(dimension="product")
    assert by_product[("units", str(boot.pk))] == 3
    assert by_product[("line_revenue", str(boot.pk))] == D("116.00")  # 80 + (40 - 4)
    by_category = figures(dimension="category")
    assert by_category[("line_revenue", str(hats.pk))] == D("19.00")  # 10 + (10 - 1)
    # No visit placed these orders: they are "unknown" by source, all of them.
    assert figures(dimension="source") == {("orders", "unknown"): 3, ("revenue", "unknown"): D("145.00")}


def test_a_customer_with_one_order_long_ago_is_returning_and_a_refund_day_stands_alone():
    paid_order(at(DAY - dt.timedelta(days=300), 12), email="eve@example.com")
    paid_order(at(DAY, 12), email="eve@example.com")
    rollups.build_day(DAY)
    assert (figures()["new_customers"], figures()["returning_orders"]) == (0, 1)


def test_points_count_as_a_discount_and_revenue_is_what_was_paid():
    # 100 of goods, a 10 promotion and 5 paid in points, 5 shipping: the customer paid 90.
    order = paid_order(at(DAY, 10), email="pat@example.com", subtotal="100.00", discount="15.00", shipping="5.00")
    OrderAdjustment.objects.create(order=order, kind="discount", label="Spring", amount=D("-10.00"), source="promo")
    OrderAdjustment.objects.create(order=order, kind="points", label="500 points", amount=D("-5.00"), source="loyalty")
    # Paid, then cancelled and refunded in full the next day: counted as sold that day, refunded the next.
    cancelled = paid_order(at(DAY, 11), email="quinn@example.com", subtotal="20.00", shipping="0.00")
    cancelled.status = "cancelled"
    cancelled.save(update_fields=["status"])
    OrderEvent.objects.create(order=cancelled, kind=EventKind.REFUNDED, status="cancelled", data={"amount": "20.00"},
                              created_at=at(DAY + dt.timedelta(days=1), 9))  # fmt: skip
    rollups.build_days(DAY, DAY + dt.timedelta(days=1))
    day, next_day = figures(), figures(DAY + dt.timedelta(days=1))
    assert (day["orders"], day["revenue"], day["discounts"], day["merchandise"]) == (2, D("110.00"), D("15.00"),
                                                                                    D("120.00"))  # fmt: skip
    assert (day["refunds"], next_day["refunds"], next_day["orders"]) == (0, D("20.00"), 0)


def test_an_empty_day_has_its_zero_figures():
    rollups.build_day(DAY)
    day = figures()
    assert day["orders"] == 0 and day["revenue"] == 0 and day["visits"] == 0 and day["refunds"] == 0
    assert BuiltDay.objects.filter(day=DAY).exists()


def test_visits_and_the_funnel_by_device_and_source():
    lamp = ProductFactory()
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for visit, device, source in ((one, "mobile", "Google"), (two, "desktop", "direct"), (three, "mobile", "direct")):
        event("page_view", at(DAY, 10), visit, device=device, source=source)
    event("view_item", at(DAY, 10, 1), one, device="mobile", source="Google", product=lamp)
    event("view_item", at(DAY, 10, 2), one, device="mobile", source="Google", product=lamp)
    event("view_item", at(DAY, 11), two, device="desktop", product=lamp)
    event("add_to_cart", at(DAY, 10, 3), one, device="mobile", source="Google", product=lamp, quantity=2)
    event("begin_checkout", at(DAY, 10, 4), one, device="mobile", source="Google")
    event("purchase", at(DAY, 10, 5), one, device="mobile", source="Google")
    event("page_view", at(DAY, 12), None, device="desktop")  # Do-Not-Track: a page view, no visit
    event("page_view", at(DAY + dt.timedelta(days=1), 0, 30), uuid.uuid4())  # the next store day

    rollups.build_day(DAY)

    day = figures()
    assert (day["visits"], day["visits_viewing_item"], day["visits_adding"]) == (3, 2, 1)
    assert (day["visits_checking_out"], day["visits_buying"], day["page_views"]) == (1, 1, 4)
    by_device = figures(dimension="device")
    assert by_device[("visits", "mobile")] == 2 and by_device[("visits_buying", "mobile")] == 1
    assert ("visits_buying", "desktop") not in by_device  # zeros are not stored split
    assert figures(dimension="source")[("visits", "direct")] == 2
    by_product = figures(dimension="product")
    assert by_product[("product_views", str(lamp.pk))] == 3 and by_product[("product_adds", str(lamp.pk))] == 2


def test_orders_split_by_the_visit_that_placed_them():
    placed = paid_order(at(DAY, 9), subtotal="20.00", shipping="0.00")
    OrderVisit.objects.create(order=placed, visit=uuid.uuid4(), device="mobile", source="newsletter", medium="email")
    paid_order(at(DAY, 10), subtotal="30.00", shipping="0.00")
    rollups.build_day(DAY)
    assert figures(dimension="medium") == {
        ("visits", "email"): 1,  # the purchase the log missed, recorded by the build as that visit's
        ("visits_buying", "email"): 1,
        ("orders", "email"): 1,
        ("revenue", "email"): D("20.00"),
        ("orders", "unknown"): 1,
        ("revenue", "unknown"): D("30.00"),
    }


def test_building_a_day_again_replaces_its_figures():
    paid_order(at(DAY, 9))
    rollups.build_day(DAY)
    paid_order(at(DAY, 10))
    rollups.build_day(DAY)
    assert figures()["orders"] == 2
    assert DailyFigure.objects.filter(day=DAY, measure="orders", dimension="").count() == 1


def test_the_job_builds_missing_days_and_the_last_two_again(monkeypatch):
    monkeypatch.setattr(rollups, "today", lambda: DAY)
    paid_order(at(DAY - dt.timedelta(days=5), 9))
    assert tasks.build_figures() == 5  # five past days, from the first order's
    assert rollups.days_to_build() == [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1)]
    assert tasks.build_figures() == 2


def test_the_command_builds_a_range_and_refuses_a_day_not_over(monkeypatch, capsys):
    monkeypatch.setattr(rollups, "today", lambda: DAY)
    call_command("build_figures", "--from", "2026-06-01", "--to", "2026-06-03")
    assert "Built 3 days" in capsys.readouterr().out
    assert set(BuiltDay.objects.values_list("day", flat=True)) == {dt.date(2026, 6, n) for n in (1, 2, 3)}
    with pytest.raises(CommandError, match="has not ended yet"):
        call_command("build_figures", "--from", "2026-06-09", "--to", "2026-06-10")
    with pytest.raises(CommandError, match="is not a date"):
        call_command("build_figures", "--from", "June")
    with pytest.raises(CommandError, match="earlier day first"):
        call_command("build_figures", "--from", "2026-06-05", "--to", "2026-06-01")


def test_a_day_takes_a_fixed_number_of_queries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    products = ProductFactory.create_batch(5)

    def fill(day, n):
        for i in range(n):
            paid_order(at(day, 8 + i % 10), email=f"c{i}@example.com", lines=[(products[i % 5], 1, "50.00", "0.00")])
            event("view_item", at(day, 9), uuid.uuid4(), product=products[i % 5], device=["mobile", "desktop"][i % 2])

    counts = []
    for day, n in ((DAY, 2), (DAY + dt.timedelta(days=1), 12)):
        fill(day, n)
        with CaptureQueriesContext(connection) as queries:
            rollups.build_day(day)
        counts.append(len(queries))
    # reads: 16 (visits 5, page views 2, products 1, sales 6, refunds 1, people 1), the monthly sums,
    # and the other apps' daily sources (promotions, the recommendations' shelves: 3; campaigns'
    # messages sent, clicked and the orders after them: 3)
    assert counts[0] == counts[1] <= 36


def test_a_range_built_at_once_equals_its_days_built_one_by_one():
    days = [DAY + dt.timedelta(days=n) for n in range(3)]
    product = ProductFactory()
    for n, day in enumerate(days):
        # Late in the store's evening: the next day in UTC, this day in Berlin.
        paid_order(at(day, 23, 45), email=f"r{n}@example.com", lines=[(product, n + 1, "50.00", "0.00")])
        event("view_item", at(day, 0, 15), uuid.uuid4(), product=product, device="tablet")
    rollups.build_days(days[0], days[-1])
    at_once = sorted((f.day, f.measure, f.dimension, f.key, f.value) for f in DailyFigure.objects.all())
    for day in days:
        rollups.build_day(day)
    one_by_one = sorted((f.day, f.measure, f.dimension, f.key, f.value) for f in DailyFigure.objects.all())
    assert at_once == one_by_one
    assert [figures(day)["units"] for day in days] == [1, 2, 3]


def test_days_are_built_in_runs_of_consecutive_days():
    d = [DAY + dt.timedelta(days=n) for n in (0, 1, 2, 5, 6, 9)]
    assert rollups.runs(d) == [(d[0], d[2]), (d[3], d[4]), (d[5], d[5])]
    assert rollups.runs([DAY + dt.timedelta(days=n) for n in range(40)], longest=31)[0][1] == DAY + dt.timedelta(30)


def test_building_a_day_records_the_purchases_the_log_missed():
    placed = paid_order(at(DAY, 9))
    OrderVisit.objects.create(order=placed, visit=uuid.uuid4(), device="mobile", source="Google", medium="organic")
    logged = paid_order(at(DAY, 10))
    event("purchase", at(DAY, 10), uuid.uuid4(), order=logged)
    rollups.build_day(DAY)
    purchases = Event.objects.filter(name="purchase")
    assert purchases.count() == 2
    swept = purchases.get(order=placed)
    assert (swept.at, swept.device, swept.source, swept.value) == (placed.paid_at, "mobile", "Google", placed.total)
    assert figures()["visits_buying"] == 2
    rollups.build_day(DAY)
    assert purchases.count() == 2  # once


def test_products_are_also_summed_by_month_and_a_period_reads_the_same_either_way(monkeypatch):
    monkeypatch.setattr(rollups, "today", lambda: dt.date(2026, 8, 20))
    boot = ProductFactory(price=D("40.00"))
    days = [dt.date(2026, 5, 30), dt.date(2026, 6, 1), dt.date(2026, 6, 15), dt.date(2026, 6, 30), dt.date(2026, 7, 2)]
    for n, day in enumerate(days, start=1):
        paid_order(at(day, 12), subtotal=f"{40 * n}.00", lines=[(boot, n, f"{40 * n}.00", "0.00")])
    rollups.build_days(days[0], days[-1])
    june = DailyFigure.objects.get(day=dt.date(2026, 6, 1), dimension="product/month", measure="units")
    assert june.value == 2 + 3 + 4
    period = reports.Period(dt.date(2026, 5, 30), dt.date(2026, 7, 10))  # a day of May, all June, days of July
    figures_read = reports.totals(period, ["units", "line_revenue"], dimension="product")
    assert figures_read[("units", str(boot.pk))] == 1 + 2 + 3 + 4 + 5
    assert figures_read[("line_revenue", str(boot.pk))] == D("600.00")
    # A day built again (a late refund, a late line) moves its month's sum with it.
    OrderLine.objects.filter(order__paid_at=at(days[2], 12)).update(quantity=10)
    rollups.build_day(days[2])
    assert DailyFigure.objects.get(day=dt.date(2026, 6, 1), dimension="product/month", measure="units").value == 16
    assert reports.totals(period, ["units"], dimension="product")[("units", str(boot.pk))] == 22


def test_days_built_by_an_older_version_are_built_again(monkeypatch):
    monkeypatch.setattr(rollups, "today", lambda: DAY)
    paid_order(at(DAY - dt.timedelta(days=5), 9))
    tasks.build_figures()
    BuiltDay.objects.filter(day=DAY - dt.timedelta(days=4)).update(version=rollups.VERSION - 1)
    assert rollups.days_to_build() == [DAY - dt.timedelta(days=n) for n in (4, 2, 1)]
