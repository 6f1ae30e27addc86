"""The shelves in a real browser, at desktop and phone sizes: a product page's "bought together",
the home page's "recommended for you" after a visit to a product, a click from a shelf recorded
as the shelf's, and no page wider than the screen (each row scrolls inside itself)."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketing.analytics.models import Event
from marketing.recommendations import build
from shop.orders.models import OrderLine
from tests.factories import CategoryFactory, OrderFactory, ProductFactory, ProductImageFactory, UserFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store():
    now = timezone.now()
    shirts, trousers, shoes = (CategoryFactory(name=n, slug=n.lower()) for n in ("Shirts", "Trousers", "Shoes"))
    products = {}
    catalog = {
        shirts: ["Linen Shirt", "Oxford Shirt", "Flannel Shirt"],
        trousers: ["Chinos", "Linen Trousers"],
        shoes: ["Suede Loafers", "Canvas Sneakers"],
    }
    for category, names in catalog.items():
        for name in names:
            product = ProductFactory(name=name, slug=name.lower().replace(" ", "-"), category=category)
            ProductImageFactory(product=product, alt_text=name)
            products[name] = product
    for partners in (["Linen Shirt", "Chinos", "Suede Loafers"], ["Linen Shirt", "Linen Trousers"]) * 3:
        placed = now - dt.timedelta(days=4)
        order = OrderFactory(user=UserFactory(), placed_at=placed, paid_at=placed)
        for name in partners:
            p = products[name]
            OrderLine.objects.create(order=order, product=p, sku=p.sku, name=p.name, unit_price=p.price, quantity=1,
                                     subtotal=p.price)  # fmt: skip
    at = now - dt.timedelta(days=2)
    for _i in range(3):
        visit = uuid.uuid4()
        Event.objects.bulk_create(
            Event(name="view_item", at=at, day=at.date(), visit=visit, product=products[n])
            for n in ("Linen Shirt", "Oxford Shirt", "Flannel Shirt")
        )
    build.build(now=now)
    return products


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_product_page_and_the_home_page_show_their_shelves(page: Page, live_server, store, shot, size, settings):
    settings.ANALYTICS_RECORDING = True
    page.set_viewport_size(size)
    page.goto(f"{live_server.url}/product/linen-shirt/")
    bought = page.locator('[data-list="rec:bought_together"]')
    expect(page.get_by_role("heading", name="Frequently bought together")).to_be_visible()
    expect(bought.get_by_role("link", name="Chinos")).to_be_visible()
    expect(bought).to_contain_text("Often bought with Linen Shirt")
    expect(page.get_by_role("heading", name="Customers who viewed this also viewed")).to_be_attached()
    assert no_sideways_scroll(page)
    bought.scroll_into_view_if_needed()
    shot("product page with its shelves")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
    for_you = page.locator('[data-list="rec:for_you"]')
    expect(for_you).to_contain_text("Because you viewed Linen Shirt")
    expect(page.locator('[data-list="rec:recently_viewed"]').get_by_role("link", name="Linen Shirt")).to_be_attached()
    assert no_sideways_scroll(page)
    for_you.scroll_into_view_if_needed()
    shot("home page recommended for you")


def test_a_click_on_a_shelf_is_recorded_as_the_shelf_s(page: Page, live_server, store, settings):
    settings.ANALYTICS_RECORDING = True
    settings.ANALYTICS_BATCH_SIZE = 1
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/product/linen-shirt/")
    page.locator('[data-list="rec:bought_together"]').get_by_role("link", name="Chinos").click()
    expect(page).to_have_url(f"{live_server.url}/product/chinos/")
    chinos = store["Chinos"]
    for _i in range(50):
        if Event.objects.filter(name="select_item", product=chinos, data__list="rec:bought_together").exists():
            break
        page.wait_for_timeout(100)
    assert Event.objects.filter(name="select_item", product=chinos, data__list="rec:bought_together").exists()
    assert Event.objects.filter(name="view_item_list", data__list="rec:bought_together").exists()
